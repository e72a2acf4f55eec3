"""At most four package files between a notebook's at-scale call and the library call it stands for: the library
function is replaced by one that records the package files on the call stack and stops the run there."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

import gsoc_helpers as gh

PACKAGE = Path(gh.__file__).resolve().parent
MAX_FILES = 4


class Reached(Exception):
    def __init__(self, files: list[str]) -> None:
        super().__init__(files)
        self.files = files


def stop_here(*args, **kwargs):
    files: list[str] = []
    for frame in inspect.stack()[1:]:
        path = Path(frame.filename).resolve()
        if PACKAGE in path.parents and (rel := str(path.relative_to(PACKAGE))) not in files:
            files.append(rel)
    raise Reached(files)


def files_to(call) -> list[str]:
    with pytest.raises(Reached) as info:
        call()
    return info.value.files


@pytest.mark.slow
def test_quantization_cells_reach_nncf_and_openvino_within_four_files(monkeypatch, shared_data_root, tmp_path):
    import nncf
    import openvino as ov

    from gsoc_helpers.study.splits import fixed_splits

    tests = fixed_splits({"t": (torch.rand(20, 3, 32, 32), torch.arange(20) % 10)})
    grid = gh.Int8Spec(
        models=["akamaster_resnet20"], sources=["noise"], sizes=[10], seeds=[0], configs={"default": gh.PTQConfig()}
    )
    with monkeypatch.context() as m:
        m.setattr(ov, "convert_model", stop_here)
        assert len(files_to(lambda: gh.run_study(grid, tests, "test", tmp_path / "a"))) <= MAX_FILES
    monkeypatch.setattr(nncf, "quantize", stop_here)
    for files in (
        files_to(lambda: gh.run_study(grid, tests, "test", tmp_path / "b")),
        files_to(
            lambda: gh.quantize_model(
                "akamaster_resnet20",
                "noise",
                tmp_path / "c",
                options=gh.QuantizeOptions(calibration_size=10),
                progress=False,
            )
        ),
    ):
        assert 1 <= len(files) <= MAX_FILES, files
    assert not (tmp_path / "c").exists()  # stopped before anything was published


def test_sampling_reaches_the_generator_within_four_files(tmp_path):
    from gsoc_helpers.models.student import StudentConfig, StudentGenerator

    g = StudentGenerator(StudentConfig(z_dim=8, ngf=16)).eval()
    g.forward = stop_here  # type: ignore[method-assign]
    files = files_to(
        lambda: gh.sample_dataset(g, tmp_path / "d", generator_name="s", per_class=1, backend="torch", progress=False)
    )
    assert 1 <= len(files) <= MAX_FILES, files
