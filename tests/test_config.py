import pytest

from gsoc_helpers.config import get_data_root, get_profile, resolve_device, seed_everything


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    assert get_data_root() is None
    monkeypatch.setenv("GSOC_DATA_ROOT", str(tmp_path))
    assert get_data_root() == tmp_path
    other = tmp_path / "o"
    other.mkdir()
    assert get_data_root(other) == other
    with pytest.raises(FileNotFoundError, match="not a folder"):
        get_data_root(tmp_path / "missing")


def test_profile_and_device(monkeypatch):
    monkeypatch.delenv("GSOC_PROFILE", raising=False)
    assert get_profile() == "quick" and get_profile("FULL") == "full"
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("fast")
    assert resolve_device("cpu").type == "cpu"


def test_seed_everything_repeats():
    import torch

    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))


def test_shown_path_names_the_setting_not_the_machine(tmp_path, monkeypatch):
    from gsoc_helpers.config import shown_path

    out, data, cache = tmp_path / "o", tmp_path / "d", tmp_path / "c"
    for folder in (out, data, cache):
        folder.mkdir()
    monkeypatch.setenv("GSOC_OUTPUT_DIR", str(out))
    monkeypatch.setenv("GSOC_DATA_ROOT", str(data))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(cache))
    assert shown_path(out / "quick" / "results" / "05.md") == "$GSOC_OUTPUT_DIR/quick/results/05.md"
    assert shown_path(data / "cifar10-exact" / "test") == "$GSOC_DATA_ROOT/cifar10-exact/test"
    assert shown_path(cache) == "$GSOC_CACHE_DIR"
    assert shown_path("/elsewhere/x.onnx") == "/elsewhere/x.onnx"  # outside every setting: as given
    monkeypatch.delenv("GSOC_OUTPUT_DIR")
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "outputs" / "quick") == "outputs/quick"  # the default output dir, ./outputs
