import numpy as np
import pytest

from gsoc_helpers.data import (
    CIFAR10_CLASSES,
    DataError,
    ImageDataset,
    load_cifar10,
    load_image_folder,
    load_python_batches,
)

from conftest import write_image_folder, write_python_batches


def test_python_batches_roundtrip(tmp_path):
    imgs, labels = write_python_batches(tmp_path / "cifar-10-batches-py", per_batch=8)
    ds = load_python_batches(tmp_path / "cifar-10-batches-py", "train")
    assert ds.images.shape == (40, 32, 32, 3) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, imgs)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.class_names == CIFAR10_CLASSES
    assert len(load_python_batches(tmp_path / "cifar-10-batches-py", "test")) == 8


def test_auto_prefers_batches_then_exact(data_root, tmp_path):
    assert load_cifar10("test").source.startswith("cifar10-exact")
    write_python_batches(data_root / "cifar-10-batches-py", per_batch=4)
    assert load_cifar10("test").source.startswith("batches")
    jpeg = load_cifar10("train", source="jpeg")
    assert len(jpeg) == 20 and "JPEG" in jpeg.source


def test_image_folder_and_explicit_path(tmp_path):
    write_image_folder(tmp_path / "tree" / "test", per_class=2)
    ds = load_cifar10("test", source=str(tmp_path / "tree"))
    assert len(ds) == 20 and list(ds.class_counts()) == [2] * 10
    x, y = ds.to_tensors()
    assert x.shape == (20, 3, 32, 32) and 0.0 <= x.min() and x.max() <= 1.0 and y.dtype.is_floating_point is False


def test_bad_inputs_give_clear_errors(tmp_path, data_root):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    bad = tmp_path / "bad"
    (bad / "airplane").mkdir(parents=True)
    (bad / "spaceship").mkdir()
    with pytest.raises(DataError, match="unknown: \\['spaceship'\\]"):
        load_image_folder(bad)
    from PIL import Image

    write_image_folder(tmp_path / "big", 1)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "big" / "cat" / "x.png")
    with pytest.raises(DataError, match="expected \\(32, 32, 3\\)"):
        load_image_folder(tmp_path / "big")
    (tmp_path / "big" / "cat" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image"):
        load_image_folder(tmp_path / "big")
    with pytest.raises(ValueError, match="unknown split"):
        load_cifar10("val")


def test_corrupt_and_malicious_batches(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    write_python_batches(root, per_batch=4)
    (root / "data_batch_3").write_bytes((root / "data_batch_3").read_bytes()[:100])
    with pytest.raises(DataError, match="data_batch_3.*not a readable CIFAR-10 python batch"):
        load_python_batches(root, "train")
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (root / "data_batch_3").write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(DataError, match="refusing to load global"):
        load_python_batches(root, "train")
    (root / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks \\['data_batch_3'\\]"):
        load_python_batches(root, "train")


def test_missing_source_without_data_root(monkeypatch):
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    with pytest.raises(DataError, match="no data root is set"):
        load_cifar10("test", source="exact")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_cifar10("test", data_root="/definitely/not/here")


def test_image_dataset_validation():
    with pytest.raises(DataError, match="expected uint8"):
        ImageDataset(np.zeros((2, 32, 32, 3), np.float32), np.zeros(2))
    with pytest.raises(DataError, match="labels outside"):
        ImageDataset(np.zeros((2, 32, 32, 3), np.uint8), np.array([0, 10]))


def test_real_data_root_exact_test(shared_data_root):
    ds = load_cifar10("test", source="exact", data_root=shared_data_root)
    assert len(ds) == 1017 and ds.images.shape[1:] == (32, 32, 3)
