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
