"""One engine for every study: for each calibration **group** (model, source, size, seed) of a spec, make the
calibration images once (through the source's context), let the spec turn them into one model per **variant**
(a PTQ setting, a bit width and range estimator, a fine-tuning schedule), measure each against FP32 on the
evaluation sets of one role of the protocol (:mod:`.splits`), and append one cell per variant to the cell store.

``run_study(spec, splits.selection(), "validation", ...)`` is what selection code calls; ``run_study(spec, splits, "test",
...)`` is the final measurement. Cells carry the role in their key, so validation and test cells of one study can
share a store without ever being mixed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..calibration import CalibrationSet, SourceContext, get_calibration, source_identity
from ..models.classifiers import classifier_info, get_classifier
from ..models.contract import InputContract
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from .cells import PROTOCOL, CellStore, encode_outcomes, options_key, shard_of
from .splits import EvalSet, SelectionSplits, Splits

METRICS = (
    "top1_fp32",
    "top1_int8",
    "drop",
    "agreement",
    "kl",
    "agreement_confident",
    "confident",
    "top5_overlap",
    "top1_in_top5",
)


def compare_fields(name: str, ref_logits: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> dict:
    """``<name>_<metric>`` for every metric of :func:`..quantization.evaluate.compare` (top-1 over the labelled
    images only; NaN without any), the image count and the per-image agreement outcomes."""
    from ..quantization import evaluate as ev

    res: dict = ev.compare(ref_logits, logits, labels)
    labelled = labels >= 0
    if not labelled.all():
        sub = ev.compare(ref_logits[labelled], logits[labelled], labels[labelled]) if labelled.any() else {}
        for k in ("top1_fp32", "top1_int8", "drop"):
            res[k] = sub.get(k, float("nan"))
    out = {f"{name}_{k}": res[k] for k in METRICS}
    out[f"{name}_n"] = int(len(labels))
    out[f"{name}_outcomes"] = encode_outcomes(ref_logits.argmax(1) == logits.argmax(1))
    return out


@dataclass
class Reference:
    """One model's FP32 side: the torch classifier (taking [0,1] images), its OpenVINO model and its logits on
    every evaluation set."""

    name: str
    net: torch.nn.Module
    fp32: object  # openvino.Model
    logits: dict[str, np.ndarray]


@dataclass
class GroupRun:
    """What a spec's ``cells`` gets for one group."""

    group: tuple[str, str, int, int]  # model, source, size, seed
    reference: Reference | None
    calibration: CalibrationSet | None
    sets: dict[str, EvalSet]
    folder: Path  # the store's folder (a spec may keep files below it)
    todo: Callable[[str], bool]  # is this variant still to run?
    threads: int | None = 1

    def measure(self, model) -> dict:
        """Every metric of the OpenVINO ``model`` against FP32 on every evaluation set."""
        from ..quantization import evaluate as ev

        assert self.reference is not None
        rec: dict = {}
        for t, s in self.sets.items():
            z = ev.logits(model, s.images, threads=self.threads)
            rec.update(compare_fields(t, self.reference.logits[t], z, s.labels.numpy()))
        return rec


def group_key(spec, group: tuple[str, str, int, int]) -> str:
    m, s, n, seed = group
    ident = source_identity(s, spec.source_options.get(s))
    return f"{PROTOCOL}|{m}|{s}|{n}|{seed}{options_key(spec.source_options.get(s))}" + (f"|{ident}" if ident else "")


def calibration_for(spec, group, context: SourceContext) -> tuple[CalibrationSet, float]:
    """The group's calibration set and the seconds it took; kept in ``spec.calibration_cache`` when the spec names
    a folder (a source that takes minutes, e.g. images optimised at 224x224), read back from there by any spec."""
    _, source, size, seed = group
    cache = Path(spec.calibration_cache) if spec.calibration_cache is not None else None
    path = cache / (hashlib.sha256(group_key(spec, group).encode()).hexdigest()[:16] + ".pt") if cache else None
    if path is not None and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return CalibrationSet(saved["images"], saved["labels"], saved["what"]), float(saved["seconds"])
    t0 = time.perf_counter()
    cal = get_calibration(source, size, seed, context=context, **dict(spec.source_options.get(source, {})))
    seconds = time.perf_counter() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"images": cal.images, "labels": cal.labels, "what": cal.source, "seconds": seconds}, path)
    return cal, seconds


def reference(name: str, factory: Callable[[str], torch.nn.Module], sets: dict[str, EvalSet], threads) -> Reference:
    from ..openvino.classifier import to_openvino
    from ..quantization import evaluate as ev

    net = factory(name)
    fp32 = to_openvino(net)
    return Reference(name, net, fp32, {t: ev.logits(fp32, s.images, threads=threads) for t, s in sets.items()})


def run_study(
    spec,
    splits: Splits | SelectionSplits,
    role: str,
    out_dir: str | Path,
    model_factory: Callable[[str], torch.nn.Module] = get_classifier,
    threads: int | None = 1,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> list[dict]:
    """Run this shard's missing cells of ``spec`` measured on ``splits``' sets of ``role``; return this shard's
    cells (stored + new), never other cells the store holds."""
    spec.validate(check_models=model_factory is get_classifier)
    sets = splits.sets(role)  # a selection view refuses "test" here
    store = CellStore(out_dir)
    groups = shard_of(spec.groups(), shard)
    keys = {spec.key(g, v, role) for g in groups for v in spec.group_variants(g)}
    pending = [g for g in groups if any(spec.key(g, v, role) not in store for v in spec.group_variants(g))]
    ref: Reference | None = None
    for group in tqdm(pending, desc=f"{spec.kind} study ({role})", disable=not progress):
        m, s, n, seed = group
        cal, seconds = None, float("nan")
        if spec.calibrates:
            if ref is None or ref.name != m:
                ref = reference(m, model_factory, sets, threads)  # one model at a time
            inp = classifier_info(m).input if model_factory is get_classifier else InputContract()
            cal, seconds = calibration_for(spec, group, SourceContext(inp, ref.net, False))

        def todo(variant: str, g: tuple = group) -> bool:
            return spec.key(g, variant, role) not in store

        run_ = GroupRun(group, ref, cal, sets, store.folder, todo, threads)
        for variant, fields in spec.cells(run_):
            rec = {
                "key": spec.key(group, variant, role),
                "study": spec.kind,
                "role": role,
                "model": m,
                "source": spec.source_labels.get(s, s),
                "size": n,
                "seed": seed,
                "config": variant,
                "what": cal.source if cal is not None else s,
                "calibration_seconds": seconds,
            }
            rec.update(fields)
            store.append(rec)
    return store.load(keys)


def settings_json(obj) -> str:
    """A stable string of a settings object for keys."""
    return json.dumps(obj, sort_keys=True, default=str)
