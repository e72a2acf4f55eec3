"""The study's protocol: calibration pool, validation and test are disjoint (validation: test-split images in no
test set, by content); photos split by photo; selection code gets a view that refuses the test images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gsoc_helpers.calibration import get_calibration, train_split
from gsoc_helpers.data import CIFAR10_CLASSES, load_cifar10
from gsoc_helpers.pixels import uint8_to_unit
from gsoc_helpers.quantization.photos import Photo, split_photos
from gsoc_helpers.study import splits
from gsoc_helpers.study.cifar_test_split import EXACT_TEST_N, copies_of
from gsoc_helpers.study.splits import ForbiddenTestRead, calibration_pool, cifar10_splits, validation_mask

from official_fixtures import write_python_batches


def test_held_out_train_images_are_a_tenth_of_each_class_fixed_and_not_in_the_pool():
    labels = np.repeat(np.arange(10), 50)
    mask = validation_mask(labels)
    assert np.bincount(labels[mask]).tolist() == [5] * 10
    assert np.array_equal(mask, validation_mask(labels))  # fixed: no study seed enters
    pool = calibration_pool(labels)
    assert set(pool).isdisjoint(np.flatnonzero(mask)) and len(pool) + mask.sum() == len(labels)


def test_real_calibration_never_draws_a_held_out_train_image(data_root):
    ds = train_split("auto")
    val = {ds.images[i].tobytes() for i in np.flatnonzero(validation_mask(ds.labels))}
    for seed in range(5):
        cal = get_calibration("real", 10, seed)
        u8 = (cal.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        assert not any(row.tobytes() in val for row in u8)


def _smooth(n: int, seed: int) -> np.ndarray:
    """n CIFAR-like uint8 [32,32,3] pictures: random 4x4 colours upsampled, with mild noise (seeded)."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    up = np.stack([np.asarray(Image.fromarray(x).resize((32, 32), Image.BILINEAR)) for x in low]).astype(int)
    return np.clip(up + rng.integers(-4, 5, up.shape), 0, 255).astype(np.uint8)


def _save(folder: Path, name: str, image: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / name, quality=75)  # JPEG q75 like the data root's; PNG ignores quality


EXACT, JPEG = 3, 12  # per class: bit-exact test images; JPEG test images (their copies among them)


@pytest.fixture
def root_with_copies(tmp_path, monkeypatch):
    """A data root in its official layout: cifar10-exact/test (3 per class, official-index names) and
    cifar10-jpeg/test (12 per class, counter names) holding JPEG copies of the exact ones at shuffled counters;
    returns {class: set of counters that are copies}."""
    root = tmp_path / "data_root"
    pics = _smooth(10 * JPEG, 3)
    rng = np.random.default_rng(4)
    copies = {}
    for c, name in enumerate(CIFAR10_CLASSES):
        mine = pics[c * JPEG : (c + 1) * JPEG]
        at = rng.permutation(JPEG)[:EXACT]  # counters of the copies: not the first ones, not in order
        copies[c] = set(at.tolist())
        for k in range(EXACT):
            _save(root / "cifar10-exact" / "test" / name, f"{100 * k + c:05d}.png", mine[at[k]])
        for j in range(JPEG):
            _save(root / "cifar10-jpeg" / "test" / name, f"{j:04d}.jpg", mine[j])
    monkeypatch.setenv("GSOC_DATA_ROOT", str(root))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    return copies


def _rows(x: torch.Tensor) -> list[bytes]:
    return [r.tobytes() for r in (x * 255).round().to(torch.uint8).numpy()]


def test_validation_is_test_split_images_in_no_test_set_and_selection_refuses_test(root_with_copies):
    jpeg, exact = load_cifar10("test", "jpeg"), load_cifar10("test", "exact")
    copy_rows = {
        r for c, at in root_with_copies.items() for r in _rows(uint8_to_unit(jpeg.images[jpeg.labels == c][sorted(at)]))
    }
    s = cifar10_splits(validation_n=40)
    val, tests = s.sets("validation")["val"], s.sets("test")
    assert len(val) == 40 and np.bincount(val.labels.numpy()).tolist() == [4] * 10  # class-balanced
    assert "40 CIFAR-10 test-split images" in val.description and "4 per class" in val.description
    all_jpeg = _rows(uint8_to_unit(jpeg.images))
    assert set(_rows(val.images)) <= set(all_jpeg)  # only test-split images
    assert not set(_rows(val.images)) & copy_rows  # never a copy of a bit-exact test image
    assert len(tests["jpeg"]) == 10 * JPEG - 40  # test = the rest; every bit-exact image stays test
    assert sorted(_rows(tests["exact"].images)) == sorted(_rows(uint8_to_unit(exact.images)))
    assert sorted(_rows(val.images) + _rows(tests["jpeg"].images)) == sorted(all_jpeg)
    for t in tests.values():  # disjoint by content too: no test image is a copy of a validation image
        assert not copies_of(
            (val.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy(),
            val.labels.numpy(),
            (t.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy(),
            t.labels.numpy(),
        ).any()
    assert torch.equal(cifar10_splits(validation_n=40).sets("validation")["val"].images, val.images)  # fixed
    sel = s.selection()
    assert sel.sets("validation")["val"] is val
    with pytest.raises(ForbiddenTestRead, match="validation"):
        sel.sets("test")
    with pytest.raises(ForbiddenTestRead):
        sel.names("test")
    assert sel.selection() is sel


def test_validation_takes_every_non_copy_when_fewer_than_asked(root_with_copies):
    s = cifar10_splits()  # 5,000 asked; 9 per class available
    val = s.sets("validation")["val"]
    assert len(val) == 10 * (JPEG - EXACT) and "of the 90 JPEG test images that are not copies" in val.description
    assert len(s.sets("test")["jpeg"]) == 10 * EXACT  # the JPEG test set keeps just the copies here


def test_copies_are_found_by_content_within_the_class():
    pics = _smooth(20, 5)
    jpeg = np.stack([np.asarray(Image.open(_jpeg_bytes(x))) for x in pics])
    labels = np.arange(20) % 2
    found = copies_of(pics[:5], labels[:5], jpeg[::-1], labels[::-1])
    assert found.tolist() == ([False] * 15 + [True] * 5)  # the JPEG copies of pics 0-4, nothing else
    assert not copies_of(pics[:5], 1 - labels[:5], jpeg, labels)[:5].any()  # another class is never a copy


def _jpeg_bytes(image: np.ndarray) -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=75)
    buf.seek(0)
    return buf


def test_without_a_data_root_validation_is_official_test_images_from_index_1017(tmp_path, monkeypatch):
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    write_python_batches(tmp_path / "cache" / "cifar-10-batches-py", per_batch=1100)
    official = load_cifar10("test", "auto")
    assert official.source.startswith("batches:") and len(official) == 1100
    s = cifar10_splits(test_sources=("auto",), validation_n=50)
    val, test = s.sets("validation")["val"], s.sets("test")["auto"]
    index = {r: i for i, r in enumerate(_rows(uint8_to_unit(official.images)))}
    val_idx = [index[r] for r in _rows(val.images)]
    assert len(val) == 50 and min(val_idx) >= EXACT_TEST_N and np.bincount(val.labels.numpy()).tolist() == [5] * 10
    test_idx = sorted(index[r] for r in _rows(test.images))
    assert test_idx == sorted(set(range(1100)) - set(val_idx))  # test = the rest, indices 0..1016 among them


def test_data_root_validation_leaves_out_the_jpeg_copies_of_the_exact_test_images(shared_data_root):
    exact, jpeg = load_cifar10("test", "exact"), load_cifar10("test", "jpeg")
    copies = copies_of(exact.images, exact.labels, jpeg.images, jpeg.labels)
    assert copies.sum() == len(exact) == EXACT_TEST_N  # one JPEG copy per bit-exact image, nothing else
    for c in range(10):  # the per-class counters follow the official order: the copies are each class's first ones
        n_c = int((exact.labels == c).sum())
        assert np.flatnonzero(copies[jpeg.labels == c]).tolist() == list(range(n_c))
        e, j = exact.images[exact.labels == c].astype(float), jpeg.images[jpeg.labels == c][:n_c].astype(float)
        psnr = 10 * np.log10(255**2 / ((e - j) ** 2).mean(axis=(1, 2, 3)))
        assert psnr.min() > 23 and 29.5 < psnr.mean() < 32  # PROVENANCE: the JPEG copies are ~30.5 dB
    s = cifar10_splits()
    val, tests = s.sets("validation")["val"], s.sets("test")
    assert len(val) == 5000 and np.bincount(val.labels.numpy()).tolist() == [500] * 10
    assert len(tests["jpeg"]) == 5000 and len(tests["exact"]) == EXACT_TEST_N
    val_rows = set(_rows(val.images))
    assert len(val_rows) == 5000 and not val_rows & set(_rows(tests["jpeg"].images))
    assert not val_rows & set(_rows(uint8_to_unit(jpeg.images[copies])))


def test_photos_are_split_by_photo_with_every_origin_in_every_role():
    cat = {
        "a": [Photo(f"a/{i}", None, -1) for i in range(7)],  # type: ignore[arg-type]
        "b": [Photo(f"b/{i}", None, i) for i in range(3)],  # type: ignore[arg-type]
    }
    parts = split_photos(cat)
    names = [p.name for role in parts.values() for p in role]
    assert sorted(names) == sorted(p.name for ps in cat.values() for p in ps)  # each photo exactly once
    assert sorted(len(v) for v in parts.values()) == [3, 3, 4]
    for role in parts.values():
        assert {p.name[0] for p in role} == {"a", "b"}
    assert split_photos(cat) == parts  # fixed


def test_photo_splits_roles_hold_different_photos():
    if not split_photos()["test"]:
        pytest.skip("no photos installed")
    s = splits.photo_splits(32, views=1)
    val, test = s.sets("validation")["photos"], s.sets("test")["photos"]
    assert val.images.shape[1:] == (3, 32, 32) and len(val) and len(test)
    assert not any(torch.equal(a, b) for a in val.images for b in test.images)
