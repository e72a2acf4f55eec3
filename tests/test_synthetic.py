import json
import multiprocessing as mp

import numpy as np
import pytest

from gsoc_helpers.data import DataError
from gsoc_helpers.data.synthetic import SyntheticDataset, SyntheticDatasetWriter, latent_for_index, latents_for_range

KW = dict(generator_name="fake", generator_checksum="abc", per_class=5, z_dim=4, shard_size=7, seed=3)


def fake_render(start, stop, z_dim=4):
    """Deterministic 'generator': image pixels derived from the index."""
    idx = np.arange(start, stop)
    imgs = (idx[:, None, None, None] * 3 + np.arange(3)).astype(np.uint8) * np.ones((1, 32, 32, 3), np.uint8)
    return imgs, idx % 10, latents_for_range(3, start, stop, z_dim)


def write_all(root, crash_after=None, shard=(0, 1)):
    w = SyntheticDatasetWriter(root, **KW)
    for n, (s, e) in enumerate(w.pending_shards(*shard)):
        if crash_after is not None and n == crash_after:
            raise KeyboardInterrupt
        w.write_shard(s, *fake_render(s, e))
    return w


def test_latents_and_labels_are_pure_functions_of_index():
    np.testing.assert_array_equal(latent_for_index(1, 5, 8), latent_for_index(1, 5, 8))
    assert not np.array_equal(latent_for_index(1, 5, 8), latent_for_index(1, 6, 8))
    assert latent_for_index(0, 0, 512).dtype == np.float32


def test_write_then_read(tmp_path):
    w = write_all(tmp_path / "ds")
    assert w.is_complete() and w.total == 50
    ds = SyntheticDataset(tmp_path / "ds")
    assert len(ds) == 50
    img, label, z = ds[17]
    assert img.shape == (3, 32, 32) and int(label) == 7 and z.shape == (4,)
    np.testing.assert_array_equal(z.numpy(), latent_for_index(3, 17, 4))
    assert int(img[1, 0, 0]) == (17 * 3 + 1) % 256
    assert list(ds.to_image_dataset().class_counts()) == [5] * 10


def test_interrupted_writer_resumes_without_holes_or_duplicates(tmp_path):
    root = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        write_all(root, crash_after=3)
    # a crash mid-shard leaves only a temporary file, which never counts
    (root / "shards" / ".shard_00003.images.npy.999.tmp").write_bytes(b"partial")
    with pytest.raises(DataError, match="incomplete: 5 of 8 shards missing"):
        SyntheticDataset(root)
    w = SyntheticDatasetWriter(root, **KW)
    assert [s for s, _ in w.pending_shards()] == [21, 28, 35, 42, 49]
    write_all(root)
    resumed = SyntheticDataset(root)
    write_all(tmp_path / "fresh")
    fresh = SyntheticDataset(tmp_path / "fresh")
    np.testing.assert_array_equal(resumed.image_array(), fresh.image_array())
    np.testing.assert_array_equal(resumed.z, fresh.z)


def _worker(root, i):
    write_all(root, shard=(i, 2))


@pytest.mark.slow
def test_two_processes_split_the_shards(tmp_path):
    root = str(tmp_path / "ds")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(root, i)) for i in range(2)]
    [p.start() for p in procs]
    [p.join(60) for p in procs]
    assert all(p.exitcode == 0 for p in procs)
    ds = SyntheticDataset(root)
    np.testing.assert_array_equal(ds.labels, np.arange(50) % 10)


def test_reopen_with_other_parameters_is_refused(tmp_path):
    write_all(tmp_path / "ds")
    with pytest.raises(DataError, match="other parameters.*seed"):
        SyntheticDatasetWriter(tmp_path / "ds", **{**KW, "seed": 4})


def test_bad_shards_rejected(tmp_path):
    w = SyntheticDatasetWriter(tmp_path / "ds", **KW)
    imgs, labels, z = fake_render(0, 7)
    with pytest.raises(ValueError, match="not a shard boundary"):
        w.write_shard(3, imgs, labels, z)
    with pytest.raises(ValueError, match="labels must be"):
        w.write_shard(0, imgs, labels[::-1].copy(), z)
    with pytest.raises(ValueError, match="expected uint8 images"):
        w.write_shard(0, imgs.astype(np.float32), labels, z)


def test_corruption_detected_on_open(tmp_path):
    write_all(tmp_path / "ds")
    path = tmp_path / "ds" / "shards" / "shard_00002.z.npy"
    arr = np.load(path)
    arr[0, 0] += 1
    np.save(path, arr)
    with pytest.raises(DataError, match="shard_00002.z.npy.*corrupt"):
        SyntheticDataset(tmp_path / "ds")
    with pytest.raises(DataError, match="does not exist"):
        SyntheticDataset(tmp_path / "nothing")
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="manifest.json is missing"):
        SyntheticDataset(tmp_path / "x")
    (tmp_path / "x" / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="format 'other'"):
        SyntheticDataset(tmp_path / "x")
