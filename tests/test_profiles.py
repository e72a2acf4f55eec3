"""Profile (where inputs come from) x scale (how much work), overrides, GSOC_PROFILE, and demo's -p NAME VALUE."""

from __future__ import annotations

import pytest
from cli_checks import assert_refused

from gsoc_helpers.cli import main
from gsoc_helpers.cli.demo import demo_parameters
from gsoc_helpers.series.notebooks import list_notebooks, parameter_names
from gsoc_helpers.series.profiles import DISTILLED, PROFILES, SCALES, run_sizes, series_paths, student_to_load


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("scale", sorted(SCALES))
def test_every_profile_at_every_scale(profile, scale):
    s = run_sizes(profile, scale)
    assert (s.profile, s.scale) == (profile, scale)
    assert s.teacher == PROFILES[profile].teacher and s.student == PROFILES[profile].student  # inputs: the profile
    assert s.sample_per_class == SCALES[scale].sample_per_class and s.fid_n == SCALES[scale].fid_n  # sizes: the scale
    assert set(s.quant_models) <= set(PROFILES[profile].quant_models) and s.quant_models


def test_full_smoke_is_the_full_code_path_at_smoke_sizes():
    s = run_sizes("full", "smoke")
    assert s.teacher == "stylegan2-ada" and s.student == DISTILLED and s.quant_models == ("chenyaofo_resnet20",)
    assert s.quant_test_sets == ("auto",) and s.real_source == "auto" and s.distill_steps <= 2
    assert run_sizes("full", True) == s and run_sizes("full") == run_sizes("full", "full")  # default scale = profile


def test_gsoc_profile_environment_variable(monkeypatch):
    monkeypatch.setenv("GSOC_PROFILE", "full")
    assert run_sizes().profile == "full" and run_sizes(scale="smoke").teacher == "stylegan2-ada"
    assert run_sizes("quick").profile == "quick"  # explicit wins
    monkeypatch.setenv("GSOC_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        run_sizes()


def test_gsoc_scale_environment_variable(monkeypatch):
    """What a runner that cannot pass parameters (nbmake, nbconvert, a Colab %env) sets; explicit still wins."""
    monkeypatch.delenv("GSOC_PROFILE", raising=False)
    monkeypatch.setenv("GSOC_SCALE", "smoke")
    assert run_sizes().scale == "smoke" and run_sizes().sample_per_class == SCALES["smoke"].sample_per_class
    assert run_sizes("full").scale == "smoke" and run_sizes(scale="quick").scale == "quick"
    assert series_paths(output_dir="/tmp/gsoc-scale-test").root.name == "quick-smoke"
    assert demo_parameters(None, None, [])["SCALE"] == "smoke"
    monkeypatch.setenv("GSOC_SCALE", "huge")
    with pytest.raises(ValueError, match=r"unknown scale 'huge' \(from \$GSOC_SCALE\)"):
        run_sizes()


def test_every_parameters_cell_names_gsoc_scale():
    import nbformat

    for path in list_notebooks():
        cell = next(
            c for c in nbformat.read(str(path), as_version=4).cells if "parameters" in c.metadata.get("tags", [])
        )
        assert "$GSOC_SCALE" in cell.source and "$GSOC_PROFILE" in cell.source, path.name


def test_overrides_parsed_and_validated():
    s = run_sizes(
        "full",
        "smoke",
        quant_models="chenyaofo_resnet20, chenyaofo_resnet56",
        quant_sizes="1,10",
        fid_n="8",
        speed_seconds=0.1,
    )
    assert s.quant_models == ("chenyaofo_resnet20", "chenyaofo_resnet56") and s.quant_sizes == (1, 10)
    assert s.fid_n == 8 and s.speed_seconds == 0.1
    assert run_sizes("full", "smoke", quant_model_count=2).quant_models[:2] == PROFILES["full"].quant_models[:2]
    for bad, match in (
        ({"fid_n": "-1"}, "fid_n"),
        ({"quant_sizes": "a"}, "quant_sizes"),
        ({"quant_models": ""}, "empty"),
        ({"nonsense": 1}, "unknown run size 'nonsense'"),
    ):
        with pytest.raises(ValueError, match=match):
            run_sizes("quick", "smoke", **bad)
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        run_sizes("quick", "huge")


def test_series_paths_and_student_source(tmp_path):
    quick, full = series_paths("quick", None, tmp_path), series_paths("full", "smoke", tmp_path)
    assert quick.root == tmp_path / "quick" and full.root == tmp_path / "full-smoke"
    assert student_to_load(run_sizes("quick", "smoke"), quick) == "student"
    with pytest.raises(FileNotFoundError, match="run notebook 02"):
        student_to_load(run_sizes("full", "smoke"), full)
    full.student_checkpoint.parent.mkdir(parents=True)
    full.student_checkpoint.write_bytes(b"x")
    assert student_to_load(run_sizes("full", "smoke"), full) == str(full.student_checkpoint)


def test_every_notebook_reads_profile_scale_sizes_device():
    import nbformat

    assert {"PROFILE", "SCALE", "SIZES", "SEED", "DEVICE", "TRUNCATION_PSI"} <= parameter_names()
    for path in list_notebooks():
        src = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
        assert "run_sizes(PROFILE, SCALE, **SIZES)" in src, path.name
        assert "SMOKE" not in src and 'grid("student"' not in src and "342" not in src and "391" not in src, path.name
        assert 'real_source="exact"' not in src and "ndf=128" not in src and "20 if" not in src, path.name
        assert 'torch.cuda.is_available() else "cpu"' not in src, path.name  # resolve_device(DEVICE): "auto"


def test_demo_parameters_papermill_convention(monkeypatch):
    monkeypatch.delenv("GSOC_PROFILE", raising=False)
    p = demo_parameters(
        "full",
        None,
        [
            ["quant_models", "chenyaofo_resnet20,chenyaofo_resnet56"],
            ["SEED", "3"],
            ["TRUNCATION_PSI", "0.7"],
            ["FID_N", "16"],
        ],
    )
    assert p == {
        "PROFILE": "full",
        "SCALE": "full",
        "SEED": 3,
        "TRUNCATION_PSI": 0.7,
        "SIZES": {"quant_models": "chenyaofo_resnet20,chenyaofo_resnet56", "fid_n": "16"},
    }
    assert demo_parameters(None, "smoke", [])["PROFILE"] == "quick"


def test_demo_reads_gsoc_profile(monkeypatch):
    monkeypatch.setenv("GSOC_PROFILE", "full")
    assert demo_parameters(None, None, []) == {"PROFILE": "full", "SCALE": "full", "SIZES": {}}
    assert demo_parameters("quick", "smoke", [])["PROFILE"] == "quick"


@pytest.mark.parametrize(
    "argv,match",
    [
        (["-p", "bogus", "1"], "unknown parameter 'bogus'"),
        (["-p", "fid_n", "many"], "bad value 'many' for fid_n"),
        (["--scale", "smoke", "-p", "quant_sizes", "0,x"], "quant_sizes"),
    ],
)
def test_demo_bad_parameter_one_line_exit_2(argv, match, capsys, tmp_path):
    assert_refused(
        ["demo", "--out", str(tmp_path / "d")] + argv, capsys, match, [tmp_path]
    )  # refused before any notebook ran


@pytest.mark.slow
def test_demo_p_override_reaches_the_notebook(tmp_path, monkeypatch):
    """-p NAME VALUE goes through papermill into the notebook: 01 samples 1 image per class instead of 2."""
    from gsoc_helpers.data.synthetic import SyntheticDataset

    monkeypatch.delenv("GSOC_PROFILE", raising=False)
    assert (
        main(
            [
                "demo",
                "--smoke",
                "--only",
                "01",
                "--out",
                str(tmp_path / "d"),
                "-p",
                "sample_per_class",
                "1",
                "-p",
                "TRUNCATION_PSI",
                "0.7",
            ]
        )
        == 0
    )
    ds = SyntheticDataset(tmp_path / "d" / "quick-smoke" / "synthetic" / "teacher")
    assert len(ds) == 10 and ds.manifest["truncation_psi"] == 0.7
    assert "'sample_per_class': '1'" in (tmp_path / "d" / "SUMMARY.md").read_text()


def test_quick_profile_without_a_data_root_tests_on_the_downloaded_official_set(monkeypatch, tmp_path):
    """The exact/JPEG copies exist only in a data root; a fresh clone without one measures on the official test set
    (load_cifar10 "auto" downloads the tarball) instead of failing in notebook 05."""
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    assert run_sizes("quick", "quick").quant_test_sets == ("auto",)
    assert run_sizes("quick", "quick", quant_test_sets="jpeg").quant_test_sets == ("jpeg",)  # an explicit choice stays
    monkeypatch.setenv("GSOC_DATA_ROOT", str(tmp_path))
    assert run_sizes("quick", "quick").quant_test_sets == ("exact",)  # the demo measures on the bit-exact set only
    assert run_sizes("quick", "full").quant_test_sets == ("exact", "jpeg")
