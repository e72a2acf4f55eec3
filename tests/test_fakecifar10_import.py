"""FakeCIFAR10 (2022 layout) -> synthetic-dataset format, with a folder written the way create_dataset.py wrote it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_checks import assert_refused

from gsoc_helpers.calibration import get_calibration
from gsoc_helpers.cli import main
from gsoc_helpers.data.fakecifar10 import import_fakecifar10
from gsoc_helpers.data.synthetic import SyntheticDataset

from official_fixtures import FAKECIFAR10_BATCH as BATCH
from official_fixtures import FAKECIFAR10_Z_DIM as Z_DIM
from official_fixtures import write_fakecifar10


def test_noise_file_holds_its_batch_storage(tmp_path):
    write_fakecifar10(tmp_path / "fc", per_class=(2,) * 10)
    loaded = torch.load(tmp_path / "fc" / "class_0" / "noise_1.pt", weights_only=True)
    assert loaded.shape == (Z_DIM,) and loaded.untyped_storage().nbytes() == BATCH * Z_DIM * 4  # the whole batch


def test_import_interleaves_classes_and_keeps_one_row(tmp_path):
    truth = write_fakecifar10(tmp_path / "fc", per_class=(3,) * 9 + (5,))
    rep = import_fakecifar10(tmp_path / "fc", tmp_path / "out", shard_size=7, progress=False)
    assert (rep.per_class, rep.num_classes, rep.z_dim, rep.written) == (3, 10, Z_DIM, 30)
    assert rep.skipped_per_class == {9: 2}
    ds = SyntheticDataset(tmp_path / "out")
    assert len(ds) == 30 and ds.z.shape == (30, Z_DIM) and ds.z.dtype == np.float32
    for i in range(30):
        img, z = truth[(i % 10, i // 10)]
        assert ds.labels[i] == i % 10
        assert np.array_equal(ds.image(i), img) and np.array_equal(ds.z[i], z)
    assert ds.z.min() >= 0 and ds.z.max() < 1  # U[0,1) latents kept as they were
    assert "U[0,1)" in ds.manifest["extra"]["latent"]
    # a rerun writes nothing (resumable) and the set calibrates like any synthetic dataset
    assert import_fakecifar10(tmp_path / "fc", tmp_path / "out", shard_size=7, progress=False).written == 0
    calib = get_calibration("stylegan2-ada", 20, seed=1, dataset=tmp_path / "out")
    assert calib.images.shape == (20, 3, 32, 32) and np.bincount(calib.labels.numpy()).tolist() == [2] * 10


def test_cli_import_and_one_line_errors(tmp_path, capsys):
    write_fakecifar10(tmp_path / "fc", per_class=(2,) * 10)
    assert main(["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "o"), "--per-class", "1"]) == 0
    assert "imported 10 classes x 1 images" in capsys.readouterr().out
    assert len(SyntheticDataset(tmp_path / "o")) == 10
    cases = [
        ([str(tmp_path / "nope")], "does not exist"),
        ([str(tmp_path / "o")], "no class_<k> folders"),
        ([str(tmp_path / "fc"), "--per-class", "3"], "per_class must be in [1, 2]"),
    ]
    for argv, msg in cases:
        assert_refused(["import-fakecifar10", *argv, "--out", str(tmp_path / "x")], capsys, msg, [tmp_path])
    (tmp_path / "fc" / "class_3" / "noise_1.pt").unlink()
    assert_refused(
        ["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "y")],
        capsys,
        "has no noise_1.pt beside it",
        [tmp_path / "y"],
    )
    torch.save({"z": torch.nn.Linear(2, 2)}, tmp_path / "fc" / "class_3" / "noise_1.pt")  # code, not a tensor
    with pytest.raises(ValueError, match="not a weights-only torch tensor file"):
        import_fakecifar10(tmp_path / "fc", tmp_path / "z", progress=False)
