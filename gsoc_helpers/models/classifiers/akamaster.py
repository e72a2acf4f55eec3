"""akamaster CIFAR-10 ResNet-20/32/44/56 (He et al. 2016, option-A shortcuts) -- the offline zoo.

Facts from github.com/akamaster/pytorch_resnet_cifar10 (BSD-2-Clause, (c) 2018 Yerlan Idelbayev): layers conv1/bn1,
layer1-3 of n BasicBlocks (16/32/64 channels), linear(64->10); the option-A shortcut subsamples by 2 and zero-pads
channels (no parameters); inputs RGB in [0,1] normalised with ImageNet mean/std; checkpoints are
``{'state_dict' (keys prefixed 'module.'), 'best_prec1'}``; the hex suffix of each file name is its sha256 prefix.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ._weights import fetch, load_into

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
_RAW = "https://raw.githubusercontent.com/akamaster/pytorch_resnet_cifar10/master/pretrained_models/"
WEIGHTS = {  # name -> (file name, sha256 prefix, depth n per stage, stored best_prec1)
    "resnet20": ("resnet20-12fca82f.th", "12fca82f", 3, 91.78),
    "resnet32": ("resnet32-d509ac18.th", "d509ac18", 5, 92.78),
    "resnet44": ("resnet44-014dd654.th", "014dd654", 7, 93.14),
    "resnet56": ("resnet56-4bfd9763.th", "4bfd9763", 9, 93.62),
}
LOCAL_SUBDIR = "classifiers/akamaster_pytorch_resnet_cifar10"


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if (stride != 1 or cin != cout) else -1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.pad < 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class AkamasterResNet(nn.Module):
    """CIFAR ResNet-(6n+2), option A. forward(x: float32 [N,3,32,32] *normalised*) -> logits [N,10]."""

    def __init__(self, n: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            layers.append(
                nn.Sequential(*[_Block(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])
            )
            cin = cout
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean((2, 3)))


def weights_path(name: str) -> Path:
    """Verified weight file for ``name``: from the data root if present, else cache/download."""
    fname, prefix, _, _ = WEIGHTS[name]
    return fetch(_RAW + fname, prefix, f"{LOCAL_SUBDIR}/{fname}", subdir="akamaster")


def akamaster_resnet(name: str, pretrained: bool = True) -> AkamasterResNet:
    if name not in WEIGHTS:
        raise KeyError(f"unknown akamaster model {name!r}; expected one of {sorted(WEIGHTS)}")
    model = AkamasterResNet(WEIGHTS[name][2])
    if pretrained:
        load_into(model, weights_path(name))
    return model.eval()
