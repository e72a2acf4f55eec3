"""Synthetic dataset sampling: balanced, reproducible per index, resumable, shardable, any generator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_checks import assert_refused
from doubles import TinyGenerator

from gsoc_helpers.cli import main as cli_main
from gsoc_helpers.data.synthetic import SyntheticDataset, latent_for_index
from gsoc_helpers.sampling import parse_shard, sample_dataset


def test_sample_balanced_reproducible_fixed_uint8_mapping(tmp_path):
    g = TinyGenerator()
    rep = sample_dataset(
        g, tmp_path / "ds", generator_name="tiny", per_class=5, shard_size=4, batch_size=3, progress=False
    )
    assert rep.written == 15 and rep.complete and rep.images_per_second > 0
    ds = SyntheticDataset(tmp_path / "ds")
    assert len(ds) == 15 and np.bincount(ds.labels).tolist() == [5, 5, 5]
    assert np.array_equal(ds.z[7], latent_for_index(0, 7, 4))
    with torch.no_grad():
        x = g(torch.from_numpy(ds.z[7:8]), torch.tensor([7 % 3]))
    expected = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(ds.image(7), expected)
    assert abs(float(ds.z.mean())) < 0.5 and 0.6 < float(ds.z.std()) < 1.4  # N(0, I), not U[0, 1)
    assert (ds.z < 0).any()
    m = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert m["generator_name"] == "tiny" and len(m["generator_checksum"]) == 64 and m["extra"]["noise_mode"] == "const"


def test_resume_writes_only_missing_shards(tmp_path):
    g = TinyGenerator()
    root = tmp_path / "ds"
    sample_dataset(g, root, generator_name="tiny", per_class=4, shard_size=3, progress=False)
    first = SyntheticDataset(root).image_array()
    for f in (root / "shards").glob("shard_00002.*"):
        f.unlink()
    g.calls = 0
    rep = sample_dataset(g, root, generator_name="tiny", per_class=4, shard_size=3, progress=False)
    assert rep.written == 3 and g.calls == 3 and rep.complete
    assert np.array_equal(SyntheticDataset(root).image_array(), first)
    assert sample_dataset(g, root, generator_name="tiny", per_class=4, shard_size=3, progress=False).written == 0


def test_shards_and_torchrun_env_make_one_consistent_dataset(tmp_path, monkeypatch):
    g = TinyGenerator()
    whole = tmp_path / "whole"
    sample_dataset(g, whole, generator_name="tiny", per_class=4, shard_size=2, progress=False)
    split = tmp_path / "split"
    r0 = sample_dataset(
        g, split, generator_name="tiny", per_class=4, shard_size=2, shard_index=0, num_shards=2, progress=False
    )
    assert not r0.complete and r0.written == 6
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    r1 = sample_dataset(g, split, generator_name="tiny", per_class=4, shard_size=2, progress=False)
    assert (r1.shard_index, r1.num_shards, r1.written, r1.complete) == (1, 2, 6, True)
    assert np.array_equal(SyntheticDataset(whole).image_array(), SyntheticDataset(split).image_array())
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ValueError, match="i/n"):
        parse_shard("x")
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard("4/4")


def test_cli_sample_from_nvidia_pickle(tmp_path, capsys):
    from official_fixtures import small_fixture  # same folder (pytest rootdir import)

    pkl, _ = small_fixture(tmp_path)
    out = tmp_path / "ds"
    rc = cli_main(
        [
            "sample",
            str(pkl),
            "--out",
            str(out),
            "--per-class",
            "2",
            "--shard-size",
            "3",
            "--device",
            "cpu",
            "--psi",
            "0.7",
        ]
    )
    assert rc == 0
    ds = SyntheticDataset(out)
    assert len(ds) == 8 and ds.manifest["truncation_psi"] == 0.7 and ds.image(0).shape == (16, 16, 3)
    assert ds.manifest["z_dim"] == 8 and ds.manifest["num_classes"] == 4
    first = ds.image_array()
    assert (
        cli_main(
            [
                "sample",
                str(pkl),
                "--out",
                str(out),
                "--per-class",
                "2",
                "--shard-size",
                "3",
                "--psi",
                "0.7",
                "--device",
                "cpu",
            ]
        )
        == 0
    )  # resume: nothing to do
    assert np.array_equal(SyntheticDataset(out).image_array(), first)
    capsys.readouterr()
    assert_refused(
        ["sample", str(pkl), "--out", str(out), "--per-class", "3"], capsys, "per_class", [out]
    )  # other settings than the dataset's: refused
    assert_refused(["sample", str(tmp_path / "nope.pkl"), "--out", str(out)], capsys, "nope.pkl", [out])
