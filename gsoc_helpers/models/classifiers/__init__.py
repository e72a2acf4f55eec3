"""CIFAR-10 classifier zoo: ``get_classifier(name)`` -> a model taking images in [0,1] (normalisation inside).

Names: ``akamaster_resnet20/32/44/56`` (offline zoo, weights in the data root) and ``chenyaofo_<arch>`` for every
arch in :data:`chenyaofo.RELEASES` (downloaded by URL, full profile).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import akamaster, chenyaofo


@dataclass(frozen=True)
class ClassifierInfo:
    name: str
    family: str
    arch: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    published_top1: float  # % on the official 10k CIFAR-10 test set, as published by the weights' authors


class Normalized(nn.Module):
    """Wrap a classifier so forward takes float32 [N,3,32,32] in [0,1] and returns logits [N,10]."""

    def __init__(self, net: nn.Module, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.net = net
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
    return out


CLASSIFIERS: dict[str, ClassifierInfo] = _registry()
OFFLINE_ZOO: tuple[str, ...] = tuple(f"akamaster_{a}" for a in akamaster.WEIGHTS)


def classifier_info(name: str) -> ClassifierInfo:
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; expected one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name]


def get_classifier(name: str, pretrained: bool = True, normalize: bool = True) -> nn.Module:
    """Model in eval mode. With ``normalize`` (default) it takes images in [0,1]; else pre-normalised input."""
    info = classifier_info(name)
    net = (
        akamaster.akamaster_resnet(info.arch, pretrained)
        if info.family == "akamaster"
        else chenyaofo.chenyaofo_model(info.arch, pretrained)
    )
    return (Normalized(net, info.mean, info.std) if normalize else net).eval()


__all__ = ["CLASSIFIERS", "OFFLINE_ZOO", "ClassifierInfo", "Normalized", "classifier_info", "get_classifier"]
