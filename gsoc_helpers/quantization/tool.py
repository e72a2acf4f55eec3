"""Quantize your own classifier to INT8 with synthetic (or any) calibration images: :func:`quantize_model`, the
function behind ``gsoc-helpers quantize MODEL --calibration SOURCE --out DIR``.

Writes into ``out``: ``model_fp32.xml/.bin`` (the FP32 IR it started from), ``model_int8.xml/.bin``,
``report.json`` and ``report.md`` (:mod:`.report`). Everything is written into a temporary folder beside ``out``
and renamed at the end, so an error or an interrupt leaves no half-written ``out``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..fileio import named_write_error
from ..models.contract import InputContract
from ..openvino.classifier import throughput
from ..openvino.core import compile_model
from ..safety import (
    OUTPUT_MARK,
    adopt_old_mark,
    clean_stale_temporaries,
    holds_only_mark,
    mark_output,
    output_lock,
    partial_folder,
    refuse_foreign,
    refuse_links,
    refuse_overlap,
    refuse_replacing_cwd,
    remove_own,
)
from . import evaluate as ev
from .ptq import NNCF_DEFAULTS, PTQConfig, quantize, quantize_with_accuracy_control, save_ir
from .report import environment, write_report
from .settings import QuantizeOptions
from .user_images import (
    ImageSet,
    calibration_images,
    check_calibration_spec,
    held_out_default,
    load_folder,
    warn_if_degenerate,
)
from .user_model import UserModel, load_user_model

FP32_FILE, INT8_FILE = "model_fp32.xml", "model_int8.xml"
COMMAND = "quantize"  # the command named in the output folder's mark
# Every name a run writes into its folder (listed in the mark: --overwrite removes these and nothing else).
OUTPUT_NAMES = (FP32_FILE, "model_fp32.bin", INT8_FILE, "model_int8.bin", "report.json", "report.md")


@dataclass
class QuantizeResult:
    out: Path
    fp32_xml: Path
    int8_xml: Path
    report: dict


def _check_out(out: Path, overwrite: bool, inputs: list[tuple[str, str | os.PathLike | None]]) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {str(out)!r} is a file; expected a folder")
    if not out.name:
        raise ValueError(f"output folder {str(out)!r} is the file system root; choose a folder below it")
    refuse_links(out)
    refuse_overlap(out, inputs)
    if overwrite:  # an output of an earlier version: its mark listed no files
        adopt_old_mark(out, COMMAND, OUTPUT_NAMES)
    _check_replaceable(out, overwrite)


def _check_replaceable(out: Path, overwrite: bool) -> None:
    """A non-empty ``out`` only with ``overwrite``, and only an earlier `quantize` output (its valid mark), holding
    no symbolic link."""
    if not holds_only_mark(out):
        if not overwrite:
            raise ValueError(f"output folder {str(out)!r} is not empty; choose another or pass --overwrite")
        refuse_foreign(out, COMMAND)
        refuse_links(out)
        refuse_replacing_cwd(out)


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished files of ``tmp`` into ``out`` (created if missing; the names an earlier run's mark lists
    are replaced, anything else in ``out`` is kept), reports last, then the mark."""
    if not out.exists():
        os.replace(tmp, out)
    else:
        remove_own(out, COMMAND, [n for n in OUTPUT_NAMES if not (tmp / n).exists()])
        for item in sorted(tmp.iterdir(), key=lambda p: (p.name == OUTPUT_MARK, p.name.startswith("report"))):
            if item.name != OUTPUT_MARK:
                os.replace(item, out / item.name)
        shutil.rmtree(tmp)
    mark_output(out, COMMAND, OUTPUT_NAMES)


def _split(held: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """(NNCF validation half, report half) of a labelled folder, seeded."""
    n = len(held.images)
    labels = held.labels
    if labels is None:
        raise ValueError("accuracy-aware PTQ (max drop) needs labelled held-out images")
    if n < 20:
        raise ValueError(f"accuracy-aware PTQ (max drop) needs at least 20 labelled held-out images, got {n}")
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    a, b = perm[: n // 2].sort().values, perm[n // 2 :].sort().values
    return (
        ImageSet(held.images[a], labels[a], f"{len(a)} of {held.description}"),
        ImageSet(
            held.images[b],
            labels[b],
            f"{len(b)} of {held.description} (the other {len(a)} validated accuracy-aware PTQ)",
        ),
    )


def _evaluate(fp32, int8, um: UserModel, held: ImageSet, threads: int | None) -> dict:
    with torch.no_grad():
        x = um.preprocessing(held.images)
    labels = held.labels
    l32 = ev.logits(compile_model(fp32, threads, "f32"), x)
    ev.check_outputs(l32, um.spec, "FP32", labels.numpy() if labels is not None else None)
    l8 = ev.logits(compile_model(int8, threads, "f32"), x)
    ev.check_outputs(l8, um.spec, "INT8")
    res = ev.compare(l32, l8, labels.numpy() if labels is not None else np.full(len(x), -1))
    out: dict[str, Any] = {k: res[k] for k in ("agreement", "kl", "confident", "top5_overlap", "top1_in_top5")}
    conf = res["agreement_confident"]
    out.update(agreement_confident=None if np.isnan(conf) else conf, images=len(x))
    for k in ("top1_fp32", "top1_int8", "drop"):
        out[k] = res[k] if labels is not None else None
    return out


def _speed(fp32, int8, opts: QuantizeOptions) -> dict:
    batches = {}
    for b in opts.speed_batches:
        batches[str(int(b))] = {
            "fp32": throughput(fp32, int(b), opts.speed_seconds, opts.threads, "f32"),
            "default": throughput(fp32, int(b), opts.speed_seconds, opts.threads, None),
            "int8": throughput(int8, int(b), opts.speed_seconds, opts.threads, None),
        }
    return {"seconds": opts.speed_seconds, "threads": opts.threads, "batches": batches}


def _layer_total(model) -> int:
    return sum(op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul") for op in model.get_ordered_ops())


def quantize_model(
    model: str,
    calibration: str,
    out: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    preprocessing: InputContract | None = None,
    held_out: str | os.PathLike | None = None,
    options: QuantizeOptions | None = None,
    config: PTQConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> QuantizeResult:
    """INT8-quantize ``model`` (an .onnx / .xml path, a registered classifier name, or ``package.module:factory``
    with ``weights``) calibrated on ``calibration`` (a registered source name or a folder of images) preprocessed
    by ``preprocessing`` (None: CIFAR-10 defaults). ``held_out``: a folder of images to measure agreement on
    (labelled by class folders: top-1 too); None: images that fit the model
    (:func:`.user_images.held_out_default`). ``config``: PTQ settings (default
    :class:`PTQConfig`, the project's measured best; ``options.nncf_defaults``: NNCF's). Results go to ``out``."""
    from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks

    t0 = time.perf_counter()
    opts = options or QuantizeOptions()
    opts.validate()
    cfg = config or (NNCF_DEFAULTS if opts.nncf_defaults else PTQConfig())
    if opts.ignored_types:
        cfg = replace(cfg, ignored_types=sorted({*cfg.ignored_types, *opts.ignored_types}))
    if opts.per_tensor_activations:
        cfg = replace(cfg, activations_per_channel=False)
    cfg.validate()
    out = Path(os.path.abspath(Path(out).expanduser()))  # "." has a name too
    _check_out(
        out,
        overwrite,
        [("model", model), ("weights", weights), ("calibration folder", calibration), ("held-out folder", held_out)],
    )
    if preprocessing is not None:
        preprocessing.validate()
    cal_kind = check_calibration_spec(str(calibration))
    if opts.source_options:
        if cal_kind == "folder":
            raise ValueError("source options apply to a calibration source, not to a folder of images")
        from ..calibration import check_source_options

        check_source_options(str(calibration), opts.source_options)
    if (
        held_out is not None
        and cal_kind == "folder"
        and Path(held_out).expanduser().resolve() == Path(str(calibration)).expanduser().resolve()
    ):
        raise ValueError("the held-out folder must not be the calibration folder")
    if opts.max_drop is not None and held_out is None:
        raise ValueError("max drop (accuracy-aware PTQ) needs a labelled held-out folder (--held-out)")
    um = load_user_model(str(model), weights, preprocessing)  # checked before anything is shown or written
    check_calibration_spec(str(calibration), um.torch_model is not None)
    held = None
    if held_out is not None:
        held = load_folder(Path(held_out), um.preprocessing.image_size)
        if opts.max_drop is not None and held.labels is None:
            raise ValueError(
                f"max drop needs labelled held-out images (class folders named by CIFAR-10 class or "
                f"class index) in {str(held_out)!r}"
            )
        if held.labels is not None and int(held.labels.max()) >= um.num_classes:
            raise ValueError(
                f"held-out class folders go up to class {int(held.labels.max())} but the model has "
                f"{um.num_classes} classes"
            )
    with tqdm(total=5, desc="calibration images", disable=not progress) as bar:
        return _run(um, held, str(calibration), out, opts, cfg, bar, t0, overwrite)


def _run(
    um: UserModel,
    held: ImageSet | None,
    calibration: str,
    out: Path,
    opts: QuantizeOptions,
    cfg: PTQConfig,
    bar,
    t0: float,
    overwrite: bool,
) -> QuantizeResult:
    model_input = um.model_input()
    cal = calibration_images(
        calibration, opts.calibration_size, opts.seed, model_input, um.torch_model, opts.source_options
    )
    warn_if_degenerate(cal.images, cal.description)
    with torch.no_grad():
        cal_x = um.preprocessing(cal.images)
    with output_lock(out, COMMAND):  # one writer: a second run into ``out`` is refused, not interleaved
        _check_replaceable(out, overwrite)  # again, under the lock: another run may have finished meanwhile
        return _write(um, held, calibration, cal, cal_x, out, opts, cfg, bar, t0)


def _write(
    um: UserModel,
    held: ImageSet | None,
    calibration: str,
    cal: ImageSet,
    cal_x: torch.Tensor,
    out: Path,
    opts: QuantizeOptions,
    cfg: PTQConfig,
    bar,
    t0: float,
) -> QuantizeResult:
    model_input = um.model_input()
    tmp = partial_folder(out)
    if tmp.exists():  # this process's own temporary of an earlier call in it, or refused
        if clean_stale_temporaries(out, COMMAND, alive_ok=True) != [tmp]:
            raise ValueError(f"{str(tmp)!r} is in the way and is not a temporary of this command; move it away")
    tmp.mkdir(parents=True)
    mark_output(tmp, COMMAND, OUTPUT_NAMES)  # proves the folder ours, should this process be killed
    try:
        fp32_xml = save_ir(um.ov_model, tmp / FP32_FILE)
        bar.set_description("quantize")
        bar.update(1)
        accuracy = None
        if opts.max_drop is not None:
            assert held is not None  # quantize_model refuses max_drop without a held-out folder
            val, held = _split(held, opts.seed)
            with torch.no_grad():
                val_x = um.preprocessing(val.images)
            int8 = quantize_with_accuracy_control(um.ov_model, cal_x, val_x, val.labels, opts.max_drop, cfg)
            accuracy = {"max_drop_points": round(opts.max_drop * 100, 6), "validation_images": len(val.images)}
        else:
            int8 = quantize(um.ov_model, cal_x, cfg)
        int8_xml = save_ir(int8, tmp / INT8_FILE)
        bar.set_description("evaluate")
        bar.update(1)
        if held is None:
            held, what = held_out_default(opts.held_out_size, opts.seed, model_input)
        else:
            what = "held-out folder"
        evaluation = {
            "set": what,
            "description": held.description,
            **_evaluate(um.ov_model, int8, um, held, opts.threads),
        }
        bar.set_description("speed")
        bar.update(1)
        speed = _speed(um.ov_model, int8, opts)
        bar.set_description("report")
        bar.update(1)
        sizes = {
            "fp32_file": FP32_FILE,
            "int8_file": INT8_FILE,
            "fp32_bytes": fp32_xml.stat().st_size + fp32_xml.with_suffix(".bin").stat().st_size,
            "int8_bytes": int8_xml.stat().st_size + int8_xml.with_suffix(".bin").stat().st_size,
        }
        report = {
            "model": um.describe(),
            "preprocessing": um.preprocessing.to_dict(),
            "calibration": {
                "spec": calibration,
                "images": len(cal.images),
                "seed": opts.seed,
                "description": cal.description,
            },
            "ptq": {
                "name": "NNCF defaults"
                if cfg == NNCF_DEFAULTS
                else ("project default (measured best)" if cfg == PTQConfig() else "custom"),
                "key": cfg.key(),
                "accuracy_control": accuracy,
            },
            "evaluation": evaluation,
            "speed": speed,
            "size": sizes,
            "fp32_layers": {"names": ev.fp32_layers(int8), "total": _layer_total(int8)},
            "per_channel_depthwise_inputs": ev.per_channel_depthwise_inputs(int8),
            "environment": environment(),
            "wall_seconds": time.perf_counter() - t0,
        }
        write_report(report, tmp)
        _publish(tmp, out)
        bar.update(1)
    except OSError as err:  # a full disk: say where
        shutil.rmtree(tmp, ignore_errors=True)
        raise err if str(tmp) in str(err) or str(out) in str(err) else named_write_error(err, tmp) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    clean_stale_temporaries(out, COMMAND)  # only after success, only provably ours
    return QuantizeResult(out, out / FP32_FILE, out / INT8_FILE, report)
