"""Our own definitions of the chenyaofo/pytorch-cifar-models CIFAR-10 networks.

Facts (architectures, state-dict key names, widths, release URLs, published top-1) are taken from
github.com/chenyaofo/pytorch-cifar-models (BSD-3-Clause); the code here is written independently. Every module
name below is chosen so that ``state_dict()`` keys and shapes equal theirs, and their released ``.pt`` files
(plain state dicts; the hex suffix of the file name is the sha256 prefix) load with ``strict=True``.
Inputs: float32 [N,3,32,32] normalised with mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010).
"""

from __future__ import annotations

import torch
from torch import nn

from ...defaults import CHENYAOFO_STD, CIFAR10_MEAN
from ._weights import fetch, load_into

MEAN, STD = CIFAR10_MEAN, CHENYAOFO_STD  # what these models were trained with (gsoc_helpers.defaults says why)
LOCAL_SUBDIR = "classifiers/chenyaofo_pytorch-cifar-models"  # data-root folder holding their release files
_REL = "https://github.com/chenyaofo/pytorch-cifar-models/releases/download/"
# name -> (release tag, sha256 prefix, published CIFAR-10 top-1 %)
RELEASES: dict[str, tuple[str, str, float]] = {
    "resnet20": ("resnet", "4118986f", 92.60),
    "resnet32": ("resnet", "ef93fc4d", 93.53),
    "resnet44": ("resnet", "2a3cabcb", 94.01),
    "resnet56": ("resnet", "187c023a", 94.37),
    "vgg11_bn": ("vgg", "eaeebf42", 92.79),
    "vgg13_bn": ("vgg", "c01e4a43", 94.00),
    "vgg16_bn": ("vgg", "6ee7ea24", 94.16),
    "vgg19_bn": ("vgg", "57191229", 93.91),
    "mobilenetv2_x0_5": ("mobilenetv2", "ca14ced9", 92.88),
    "mobilenetv2_x0_75": ("mobilenetv2", "a53c314e", 93.72),
    "mobilenetv2_x1_0": ("mobilenetv2", "fe6a5b48", 93.79),
    "mobilenetv2_x1_4": ("mobilenetv2", "3bbbd6e2", 94.22),
    "shufflenetv2_x0_5": ("shufflenetv2", "1308b4e9", 90.13),
    "shufflenetv2_x1_0": ("shufflenetv2", "98807be3", 92.98),
    "shufflenetv2_x1_5": ("shufflenetv2", "296694dd", 93.55),
    "shufflenetv2_x2_0": ("shufflenetv2", "ec31611c", 93.81),
    "repvgg_a0": ("repvgg", "ef08a50e", 94.39),
    "repvgg_a1": ("repvgg", "38d2431b", 94.89),
    "repvgg_a2": ("repvgg", "09488915", 94.98),
}


def release_url(name: str) -> str:
    tag, prefix, _ = RELEASES[name]
    return f"{_REL}{tag}/cifar10_{name}-{prefix}.pt"


def _cbr(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU) -> list:
    mods: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    return mods + ([act(inplace=True)] if act is not None else [])


# ---------------------------------------------------------------- ResNet (conv1x1+BN shortcut)
class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    def __init__(self, n: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu = (
            nn.Conv2d(3, 16, 3, 1, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
        )
        cin = 16
        for i, (cout, s) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
            setattr(
                self,
                f"layer{i}",
                nn.Sequential(*[_ResBlock(cin if j == 0 else cout, cout, s if j == 0 else 1) for j in range(n)]),
            )
            cin = cout
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- VGG-BN
_VGG_CFG: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG_CFG[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:  # conv with bias, then BN, ReLU
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512, 512),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(512, 512),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- MobileNetV2 (CIFAR strides)
def _divisible(v: float, d: int = 8) -> int:
    out = max(d, int(v + d / 2) // d * d)
    return out + d if out < 0.9 * v else out


class _InvRes(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hid = int(round(cin * t))
        self.residual = stride == 1 and cin == cout
        parts: list[nn.Module] = []
        if t != 1:
            parts.append(nn.Sequential(*_cbr(cin, hid, 1, act=nn.ReLU6)))
        parts.append(nn.Sequential(*_cbr(hid, hid, 3, stride, groups=hid, act=nn.ReLU6)))
        parts += [nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    _SETTING = (
        (1, 16, 1, 1),
        (6, 24, 2, 1),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, width: float, num_classes: int = 10) -> None:
        super().__init__()
        cin = _divisible(32 * width)
        last = _divisible(1280 * max(1.0, width))
        feats: list[nn.Module] = [nn.Sequential(*_cbr(3, cin, 3, act=nn.ReLU6))]
        for t, c, n, s in self._SETTING:
            cout = _divisible(c * width)
            for i in range(n):
                feats.append(_InvRes(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(nn.Sequential(*_cbr(cin, last, 1, act=nn.ReLU6)))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


# ---------------------------------------------------------------- ShuffleNetV2 (CIFAR: stride-1 stem, no maxpool)
class _Shuffle(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, half = stride, cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(*_cbr(cin, cin, 3, stride, groups=cin, act=None), *_cbr(cin, half, 1))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            *_cbr(cin if stride > 1 else half, half, 1),
            *_cbr(half, half, 3, stride, groups=half, act=None),
            *_cbr(half, half, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat((a, self.branch2(b)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        n, c, h, w = out.shape
        return out.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleNetV2(nn.Module):
    WIDTHS = {
        0.5: (24, 48, 96, 192, 1024),
        1.0: (24, 116, 232, 464, 1024),
        1.5: (24, 176, 352, 704, 1024),
        2.0: (24, 244, 488, 976, 2048),
    }

    def __init__(self, width: float, num_classes: int = 10) -> None:
        super().__init__()
        ch = self.WIDTHS[width]
        self.conv1 = nn.Sequential(*_cbr(3, ch[0], 3))
        cin = ch[0]
        for name, reps, cout in zip(("stage2", "stage3", "stage4"), (4, 8, 4), ch[1:4], strict=True):
            setattr(
                self,
                name,
                nn.Sequential(*[_Shuffle(cin if i == 0 else cout, cout, 2 if i == 0 else 1) for i in range(reps)]),
            )
            cin = cout
        self.conv5 = nn.Sequential(*_cbr(cin, ch[4], 1))
        self.fc = nn.Linear(ch[4], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stage4(self.stage3(self.stage2(self.conv1(x)))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- RepVGG-A (training-time branches)
def _conv_bn(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(cin, cout, k, stride, k // 2, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(cout))
    return seq


class _RepBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.rbr_identity = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.rbr_dense = _conv_bn(cin, cout, 3, stride)
        self.rbr_1x1 = _conv_bn(cin, cout, 1, stride)
        self.nonlinearity = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return self.nonlinearity(out)


class RepVGG(nn.Module):
    WIDTHS = {"a0": (0.75, 0.75, 0.75, 2.5), "a1": (1.0, 1.0, 1.0, 2.5), "a2": (1.5, 1.5, 1.5, 2.75)}

    def __init__(self, variant: str, num_classes: int = 10) -> None:
        super().__init__()
        w = self.WIDTHS[variant]
        cin = min(64, int(64 * w[0]))
        self.stage0 = _RepBlock(3, cin, 1)
        for i, (base, reps, s) in enumerate(((64, 2, 1), (128, 4, 2), (256, 14, 2), (512, 1, 2)), start=1):
            cout = int(base * w[i - 1])
            setattr(
                self,
                f"stage{i}",
                nn.Sequential(*[_RepBlock(cin if j == 0 else cout, cout, s if j == 0 else 1) for j in range(reps)]),
            )
            cin = cout
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage4(self.stage3(self.stage2(self.stage1(self.stage0(x)))))
        return self.linear(x.mean((2, 3)))


def build(name: str) -> nn.Module:
    """Architecture only (random init) for one of :data:`RELEASES`."""
    if name.startswith("resnet"):
        return CifarResNet((int(name[6:]) - 2) // 6)
    if name.startswith("vgg"):
        return VGG(int(name[3:5]))
    if name.startswith("mobilenetv2_x"):
        return MobileNetV2(float(name.split("_x")[1].replace("_", ".")))
    if name.startswith("shufflenetv2_x"):
        return ShuffleNetV2(float(name.split("_x")[1].replace("_", ".")))
    if name.startswith("repvgg_"):
        return RepVGG(name.split("_")[1])
    raise KeyError(f"unknown chenyaofo model {name!r}; expected one of {sorted(RELEASES)}")


def chenyaofo_model(name: str, pretrained: bool = True) -> nn.Module:
    if name not in RELEASES:
        raise KeyError(f"unknown chenyaofo model {name!r}; expected one of {sorted(RELEASES)}")
    model = build(name)
    if pretrained:
        url = release_url(name)
        path = fetch(url, RELEASES[name][1], f"{LOCAL_SUBDIR}/{url.rsplit('/', 1)[-1]}", subdir="chenyaofo")
        load_into(model, path)
    return model.eval()
