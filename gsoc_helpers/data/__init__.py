"""Data: CIFAR-10 loaders (one dataset type from every source) and the synthetic-dataset format."""

from .cifar10 import SOURCES, download_cifar10, load_cifar10, load_image_folder, load_python_batches
from .dataset import CIFAR10_CLASSES, DataError, ImageDataset

__all__ = [
    "CIFAR10_CLASSES",
    "DataError",
    "ImageDataset",
    "SOURCES",
    "download_cifar10",
    "load_cifar10",
    "load_image_folder",
    "load_python_batches",
]
