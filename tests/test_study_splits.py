"""The study's protocol: calibration pool, validation and test are disjoint; photos split by photo; selection code
gets a view that refuses the test images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsoc_helpers.calibration import get_calibration, train_split
from gsoc_helpers.quantization.photos import Photo, split_photos
from gsoc_helpers.study import splits
from gsoc_helpers.study.splits import ForbiddenTestRead, calibration_pool, cifar10_splits, validation_mask


def test_validation_is_a_tenth_of_each_class_fixed_and_disjoint_from_the_pool():
    labels = np.repeat(np.arange(10), 50)
    mask = validation_mask(labels)
    assert np.bincount(labels[mask]).tolist() == [5] * 10
    assert np.array_equal(mask, validation_mask(labels))  # fixed: no study seed enters
    pool = calibration_pool(labels)
    assert set(pool).isdisjoint(np.flatnonzero(mask)) and len(pool) + mask.sum() == len(labels)


def test_real_calibration_never_draws_a_validation_image(data_root):
    ds = train_split("auto")
    val = {ds.images[i].tobytes() for i in np.flatnonzero(validation_mask(ds.labels))}
    for seed in range(5):
        cal = get_calibration("real", 10, seed)
        u8 = (cal.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        assert not any(row.tobytes() in val for row in u8)


def test_cifar10_splits_give_validation_and_test_and_selection_refuses_test(data_root):
    s = cifar10_splits(test_sources=("exact",))
    val, test = s.sets("validation")["val"], s.sets("test")["exact"]
    assert len(val) == 10 and len(test) == 30  # 1 of each class's 3 train images (rounded up to one); 30 test
    sel = s.selection()
    assert sel.sets("validation")["val"] is val
    with pytest.raises(ForbiddenTestRead, match="validation"):
        sel.sets("test")
    with pytest.raises(ForbiddenTestRead):
        sel.names("test")
    assert sel.selection() is sel


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
