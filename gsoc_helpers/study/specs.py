"""The kinds of study, as specs over the one engine (:func:`.engine.run`): what a group's variants are and how one
calibration set becomes one model per variant.

* :class:`Int8Spec` — INT8 PTQ settings (the project's, NNCF's defaults, accuracy-aware PTQ), any registered
  classifier (CIFAR-10 ResNets, EfficientNet-Lite0 at 224x224);
* :class:`BitsSpec` — bit widths x range estimators: one NNCF 8-bit calibration per group, re-levelled per cell
  (:mod:`gsoc_helpers.quantization.lowbit`); the estimator ``"nncf"`` is NNCF's own low-bit call on the same
  calibration images, only for the bit widths NNCF expresses;
* :class:`FinetuneSpec` — distillation fine-tuning of a b-bit model per learning rate and step count
  (:mod:`gsoc_helpers.quantization.finetune`), ending in an OpenVINO IR, measured on one evaluation set of the role
  (PyTorch fake-quant and the IR in OpenVINO: ``ir_*`` fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..calibration import available_sources, source_identity
from ..defaults import CALIBRATION_SIZE, SEEDS
from ..models.classifiers import CLASSIFIERS
from ..quantization.lowbit import LOWBIT_METHODS
from ..quantization.ptq import PTQConfig
from ..quantization.settings import PROJECT_DEFAULT, AccuracyControl
from .cells import PROTOCOL, encode_outcomes, options_key
from .engine import GroupRun, calibration_for

BIT_WIDTHS = ("W8A8", "W6A6", "W5A5", "W4A4", "W3A3", "W4A8", "W8A4")


@dataclass
class StudySpec:
    """Models x calibration sources x sizes x seeds; the groups of the engine in this fixed order."""

    models: list[str]
    sources: list[str]
    sizes: list[int] = field(default_factory=lambda: [CALIBRATION_SIZE])
    seeds: list[int] = field(default_factory=lambda: list(SEEDS))
    source_options: dict[str, dict] = field(default_factory=dict)  # per source: options for get_calibration
    source_labels: dict[str, str] = field(default_factory=dict)  # per source: name shown in tables
    # a folder keeping each group's calibration images on disk (sources that take minutes); specs given the same
    # folder share them (the file is named by model, source, size, seed and source options, not by the spec)
    calibration_cache: str | Path | None = None

    kind = "study"
    calibrates = True  # the engine makes a calibration set and the FP32 reference per group

    def validate(self, check_models: bool = True) -> None:
        for m in self.models if check_models else []:
            if m not in CLASSIFIERS:
                raise KeyError(f"unknown classifier {m!r}; expected one of {sorted(CLASSIFIERS)}")
        for s in self.sources:
            if s not in available_sources():
                raise KeyError(f"unknown calibration source {s!r}; expected one of {sorted(available_sources())}")
        if any(int(n) < 1 for n in self.sizes):
            raise ValueError(f"calibration sizes must be >= 1, got {self.sizes}")

    def groups(self) -> list[tuple[str, str, int, int]]:
        return [
            (m, s, int(n), int(seed))
            for m in self.models
            for s in self.sources
            for n in self.sizes
            for seed in self.seeds
        ]

    def variants(self) -> list[str]:
        raise NotImplementedError

    def group_variants(self, group: tuple[str, str, int, int]) -> list[str]:
        """The variants measured for one group (default: all)."""
        return self.variants()

    def variant_key(self, variant: str) -> str:
        raise NotImplementedError

    def key(self, group: tuple[str, str, int, int], variant: str, role: str) -> str:
        m, s, n, seed = group
        extra = options_key(self.source_options.get(s))
        ident = source_identity(s, self.source_options.get(s))
        extra += f"|{ident}" if ident else ""
        return f"{PROTOCOL}|{role}|{self.kind}|{m}|{s}|{n}|{seed}|{variant}|{self.variant_key(variant)}{extra}"

    def cells(self, run: GroupRun) -> Iterator[tuple[str, dict]]:
        raise NotImplementedError


@dataclass
class Int8Spec(StudySpec):
    configs: dict[str, PTQConfig] = field(default_factory=lambda: {PROJECT_DEFAULT: PTQConfig()})
    # per config name: NNCF accuracy control instead of nncf.quantize (gsoc_helpers.quantization.accuracy)
    accuracy_control: dict[str, AccuracyControl] = field(default_factory=dict)

    kind = "int8"

    def validate(self, check_models: bool = True) -> None:
        super().validate(check_models)
        for name, control in self.accuracy_control.items():
            if name not in self.configs:
                raise KeyError(f"accuracy control for unknown config {name!r}; configs: {sorted(self.configs)}")
            control.validate()

    def variants(self) -> list[str]:
        return list(self.configs)

    def variant_key(self, variant: str) -> str:
        control = self.accuracy_control.get(variant)
        return self.configs[variant].key() + (f",{control.key()}" if control is not None else "")

    def cells(self, run: GroupRun) -> Iterator[tuple[str, dict]]:
        from ..quantization import evaluate as ev
        from ..quantization.accuracy import quantize_accuracy_aware
        from ..quantization.ptq import quantize

        assert run.reference is not None and run.calibration is not None
        for name in self.variants():
            if not run.todo(name):
                continue
            control = self.accuracy_control.get(name)
            config = self.configs[name]
            if control is not None:
                int8 = quantize_accuracy_aware(run.reference.fp32, run.calibration, config, control, run.group[3])
                extra = {"accuracy_control": control.key(), "n_fp32_layers": len(ev.fp32_layers(int8))}
            else:
                int8, extra = quantize(run.reference.fp32, run.calibration.images, config), {}
            yield name, {"config_key": self.variant_key(name), **extra, **run.measure(int8)}


@dataclass
class BitsSpec(StudySpec):
    bits: list[str] = field(default_factory=lambda: list(BIT_WIDTHS))
    estimators: list[str] = field(default_factory=lambda: list(LOWBIT_METHODS))  # range estimators and/or "nncf"
    ptq: PTQConfig = field(default_factory=PTQConfig)  # the 8-bit calibration every group starts from
    # "model|source|bits" -> the range estimator chosen on validation: when given, a group measures only its chosen
    # estimator per bit width (and NNCF's own call): the test images see the final configurations only
    chosen: dict[str, str] = field(default_factory=dict)

    kind = "bits"

    def validate(self, check_models: bool = True) -> None:
        from ..quantization.lowbit import BitWidth

        super().validate(check_models)
        for b in self.bits:
            BitWidth.parse(b)
        for e in self.estimators:
            if e not in LOWBIT_METHODS:
                raise ValueError(f"unknown range estimator {e!r}; expected one of {LOWBIT_METHODS}")

    def variants(self) -> list[str]:
        """``"W4A4/mse"``, ...: NNCF's own call (``"nncf"``) only where it expresses the bit width."""
        from ..quantization.lowbit import NNCF, BitWidth

        widths = [BitWidth.parse(b) for b in self.bits]
        return [f"{w.name}/{e}" for w in widths for e in self.estimators if e != NNCF or w.nncf_expressible]

    def group_variants(self, group: tuple[str, str, int, int]) -> list[str]:
        from ..quantization.lowbit import NNCF

        if not self.chosen:
            return self.variants()
        m, s = group[0], group[1]
        return [v for v in self.variants() if v.split("/")[1] in (NNCF, self.chosen.get(f"{m}|{s}|{v.split('/')[0]}"))]

    def variant_key(self, variant: str) -> str:
        return self.ptq.key()

    def cells(self, run: GroupRun) -> Iterator[tuple[str, dict]]:
        from ..quantization.lowbit import (
            NNCF,
            BitWidth,
            activation_samples,
            calibrate_for_relevel,
            nncf_lowbit,
            relevel,
        )

        assert run.reference is not None and run.calibration is not None
        images, fp32 = run.calibration.images, run.reference.fp32
        int8 = calibrate_for_relevel(fp32, images, self.ptq)
        samples = activation_samples(int8, images, seed=run.group[3])
        for name in self.group_variants(run.group):
            if not run.todo(name):
                continue
            bits, estimator = name.split("/")
            bw = BitWidth.parse(bits)
            low = (
                nncf_lowbit(fp32, images, bw, self.ptq) if estimator == NNCF else relevel(int8, bw, samples, estimator)
            )
            fields = {"bits": bw.name, "weight_bits": bw.weights, "activation_bits": bw.activations}
            yield name, {**fields, "estimator": estimator, "config_key": self.ptq.key(), **run.measure(low)}


@dataclass
class FinetuneSpec(StudySpec):
    """Fine-tuning per (learning rate, steps); ``estimators`` per source: the range estimator of the start
    (chosen on validation by :func:`.selection.choose_estimators`; default "mse")."""

    bits: str = "W4A4"
    lrs: list[float] = field(default_factory=lambda: [1e-5])
    steps: list[int] = field(default_factory=lambda: [600])
    estimators: dict[str, str] = field(default_factory=dict)
    eval_set: str = "exact"  # the test set fine-tuning is measured on (validation: the role's first set)
    options: dict = field(default_factory=dict)  # other FinetuneConfig fields (batch_size, pool_size, ...)

    kind = "finetune"
    calibrates = False  # finetune_lowbit calibrates and measures itself

    def variants(self) -> list[str]:
        return [f"{self.bits}/lr{lr:g}/{n}" for lr in self.lrs for n in self.steps]

    def variant_key(self, variant: str) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))

    def _sets(self, model: str):
        """(source, n, seed) -> the calibration set of that group, through the spec's calibration cache: the
        fine-tuning's calibration set and training pool are made once for all its variants (and stages)."""
        from ..calibration import SourceContext
        from ..models.classifiers import classifier_info, get_classifier

        context = SourceContext(classifier_info(model).input, get_classifier(model))
        return lambda source, n, seed: calibration_for(self, (model, source, n, seed), context)[0]

    def _folder(self, run: GroupRun, variant: str, name: str) -> Path:
        return run.folder / "finetune" / self.key(run.group, variant, name).replace("|", "_").replace("/", "-")

    def _finished_elsewhere(self, run: GroupRun, variant: str, name: str) -> Path | None:
        """A finished run of this group and variant measured on another image set (e.g. the validation run the
        learning rate was chosen with, for seed 0): the same training, so the test cell measures its model."""
        mine = self._folder(run, variant, name)
        before, after = self._folder(run, variant, "\0").name.split("\0")
        done = [
            d
            for d in sorted(mine.parent.glob("*"))
            if d != mine and d.name.startswith(before) and d.name.endswith(after) and (d / "result.json").is_file()
        ]
        return done[0] if done else None

    def cells(self, run: GroupRun) -> Iterator[tuple[str, dict]]:
        from ..quantization.finetune import FinetuneConfig, finetune_lowbit

        model, source, size, seed = run.group
        name = self.eval_set if self.eval_set in run.sets else next(iter(run.sets))
        data = run.sets[name]
        for variant in self.variants():
            if not run.todo(variant):
                continue
            _, lr, steps = variant.split("/")
            cfg = FinetuneConfig(
                source=source,
                bits=self.bits,
                estimator=self.estimators.get(source, "mse"),
                calibration_size=size,
                seed=seed,
                steps=int(steps),
                lr=float(lr[2:]),
                eval_every=max(1, int(steps) // 6),
                **self.options,
            )
            folder = self._folder(run, variant, name)
            rec = finetune_lowbit(
                model,
                cfg,
                folder,
                self.source_options,
                test=(data.images, data.labels),
                progress=False,
                make_set=self._sets(model),
                trained=self._finished_elsewhere(run, variant, name),
            )
            yield (
                variant,
                {
                    "estimator": cfg.estimator,
                    f"{name}_top1_fp32": rec["top1_fp32"],
                    f"{name}_top1_int8": rec["top1_end"],
                    f"{name}_drop": rec["top1_fp32"] - rec["top1_end"],
                    f"{name}_agreement": rec["agreement_end"],
                    f"{name}_n": len(data),
                    f"{name}_outcomes": encode_outcomes(rec["per_image_agreement"]),
                    "top1_start": rec["top1_start"],
                    "agreement_start": rec["agreement_start"],
                    f"{name}_ir_top1": rec["ir_top1"],
                    f"{name}_ir_agreement": rec["ir_agreement"],
                    "ir_matches_fake_quant": rec["ir_matches_fake_quant"],
                    "ir": rec["ir"],
                    "history": rec["history"],
                    "seconds": rec.get("seconds_this_call"),
                    "trained_in": rec.get("trained_in"),  # the run whose model this cell measures, if not its own
                },
            )
