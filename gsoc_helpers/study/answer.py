"""The study's answer, generated from the results files (:mod:`.results`), never typed: the README's short answer
(:func:`summary_block`), RESULTS.md's full answer and per-regime tables and the numbers of notebooks 05/06's
conclusions.

Per regime (INT8 with the project setting, INT8 with NNCF's defaults, W4A4 calibration, W4A4 fine-tuning,
EfficientNet-Lite0 INT8): each source's agreement with FP32 (mean ± std over seeds), which sources are
distinguishable from ``real`` and in which direction (the paired bootstrap of :mod:`.stats`; a difference is a
finding only when its 95 % interval excludes 0), and whether generator images ever beat bn-matching (no generator)
or noise. Nothing is bold. Legacy files (see :mod:`.results`) are shown as what they are.
"""

from __future__ import annotations

from .results import Regime, Stat
from .stats import MIN_SEEDS, Interval, format_mean_std, paired_bootstrap

GENERATORS = ("offline-teacher", "stylegan2-ada", "student")
BASELINES = ("bn-matching", "noise")
SOURCE_ORDER = ("real", "photos", "offline-teacher", "stylegan2-ada", "student", "noise", "bn-matching", "fractal")
MARK = {"better": "↑", "worse": "↓", "indistinguishable": "=", None: "?"}
SET_NAMES = {
    "jpeg": "JPEG CIFAR-10 test images",
    "exact": "bit-exact CIFAR-10 test images",
    "photos": "test photo crops",
}
LEGACY_COUNTS = {"jpeg": 10_000, "exact": 1_017, "photos": 100}  # the earlier files store no image count


def measured_on(r: Regime) -> str:
    """'10,000 JPEG CIFAR-10 test images': the regime's test set with its image count."""
    counts = {st.images for by in r.rows.values() for st in by.values() if st.images}
    n = max(counts) if counts else LEGACY_COUNTS.get(r.test_set, 0)
    return f"{n:,} {SET_NAMES.get(r.test_set, r.test_set)}" if n else SET_NAMES.get(r.test_set, r.test_set)


REGENERATE = (
    "`python benchmarks/bench_study.py plan` (every choice on validation, then the test cells), "
    "`python benchmarks/bench_study.py report`, then `gsoc-helpers study-report`"
)


def versus(a: Stat, b: Stat) -> Interval | None:
    """The paired interval of a - b, or None when either lacks per-image outcomes (or they differ in images)."""
    if a.outcomes is None or b.outcomes is None or a.outcomes.shape[1] != b.outcomes.shape[1]:
        return None
    return paired_bootstrap(a.outcomes, b.outcomes)


def _short(model: str) -> str:
    return model.replace("akamaster_resnet", "ResNet-").replace("efficientnet-lite0", "EfficientNet-Lite0")


def _sources(regime: Regime) -> list[str]:
    present = {s for by in regime.rows.values() for s in by}
    return [s for s in SOURCE_ORDER if s in present] + sorted(present - set(SOURCE_ORDER))


def _number(stat: Stat) -> str:
    text = format_mean_std(stat.mean, stat.std, stat.n)
    return text + (f" ({stat.n} seeds)" if 1 < stat.n < MIN_SEEDS else "")


def verdicts(regime: Regime) -> dict[str, dict[str, Interval | None]]:
    """model -> source -> its interval against real (None: not computable)."""
    out: dict[str, dict[str, Interval | None]] = {}
    for model, by in regime.rows.items():
        ref = regime.reference
        if ref in by:
            out[model] = {s: versus(st, by[ref]) for s, st in by.items() if s != ref}
    return out


def answer_table(regimes: list[Regime]) -> str:
    """One row per regime and model: each source's agreement (mean ± std) with its mark against the reference."""
    sources = [s for s in SOURCE_ORDER if any(s in by for r in regimes for by in r.rows.values())]
    head = ["regime", "model", "measured on", *sources]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(sources)]
    for r in regimes:
        vs = verdicts(r)
        for model, by in r.rows.items():
            cells = []
            for s in sources:
                if s not in by:
                    cells.append("—")
                    continue
                iv = vs.get(model, {}).get(s)
                mark = "" if s == r.reference else " " + MARK[iv.verdict if iv is not None else None]
                cells.append(_number(by[s]) + mark)
            lines.append(f"| {r.title} | {_short(model)} | {measured_on(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:+.2f}" if abs(hi - lo) < 0.005 else f"{lo:+.2f} to {hi:+.2f}"


def regime_sentence(r: Regime) -> str:
    """What the regime says about each source against real."""
    vs = verdicts(r)
    if not vs:
        return f"{r.title}: no {r.reference} calibration in these files."
    per: dict[str, list[tuple[str, Interval | None, float]]] = {}
    for model, by in vs.items():
        for s, iv in by.items():
            per.setdefault(s, []).append((model, iv, r.rows[model][s].mean - r.rows[model][r.reference].mean))
    tested = [s for s, xs in per.items() if all(iv is not None for _, iv, _ in xs)]
    parts = []
    for s in [x for x in SOURCE_ORDER if x in per] + sorted(set(per) - set(SOURCE_ORDER)):
        xs = per[s]
        if s in tested:
            counts = {v: sum(iv.verdict == v for _, iv, _ in xs if iv is not None) for v in MARK if v}
            said = ", ".join(f"{v} on {k} of {len(xs)}" for v, k in counts.items() if k) if len(xs) > 1 else ""
            said = said or next(iv.verdict for _, iv, _ in xs if iv is not None)
            ivs = "; ".join(f"{_short(m)} {iv.text()}" for m, iv, _ in xs if iv is not None)
            parts.append(f"{s} {said} ({ivs} points)")
        else:
            parts.append(f"{s} {_span([d for _, _, d in xs])}" + ("" if not tested else " points (untested)"))
    if tested:
        return (
            f"{r.title}, against {r.reference} (paired 95 % intervals over test images and seeds): "
            + "; ".join(parts)
            + "."
        )
    return f"{r.title}: differences of the means to {r.reference}, in points, untested: " + ", ".join(parts) + "."


def baseline_sentence(regimes: list[Regime]) -> str:
    """Whether generator images ever beat bn-matching or noise, over every regime and model."""
    lines = []
    for base in BASELINES:
        tested, won, means_above, pairs = 0, 0, 0, 0
        for r in regimes:
            for by in r.rows.values():
                if base not in by:
                    continue
                for g in GENERATORS:
                    if g not in by:
                        continue
                    pairs += 1
                    means_above += by[g].mean > by[base].mean
                    iv = versus(by[g], by[base])
                    if iv is not None:
                        tested += 1
                        won += iv.verdict == "better"
        if not pairs:
            continue
        if tested == pairs:
            text = "never" if not won else f"in {won} of {tested} comparisons"
            lines.append(f"generator images beat {base} {text} (paired 95 % intervals; {tested} comparisons)")
        else:
            lines.append(
                f"generator images vs {base}: untested ({pairs - tested} of {pairs} comparisons lack per-image "
                f"outcomes); by means alone a generator is above {base} in {means_above} of {pairs}"
            )
    return "; ".join(lines) + "." if lines else ""


def _few_seeds(regimes: list[Regime]) -> list[str]:
    """Titles of the regimes with a number over fewer than ``MIN_SEEDS`` seeds."""
    return sorted({r.title for r in regimes for by in r.rows.values() for s in by.values() if s.n < MIN_SEEDS})


def status(regimes: list[Regime]) -> str:
    legacy = [r for r in regimes if r.legacy]
    if not legacy:
        stale = "; ".join(f"{r.title}: {', '.join(r.stale)}" for r in regimes if r.stale)
        if stale:
            return (
                "Every choice was made on validation images, but not re-made after a generator was retrained for "
                f"({stale}: chosen with its earlier weights); every number above is from the test images, touched "
                "once per final configuration."
            )
        return "Every choice was made on validation images; every number above is from the test images, touched once per final configuration."
    few = _few_seeds(regimes)
    done = [r.title for r in regimes if not r.legacy]
    text = (
        (f"Under the protocol (choices on validation, test images touched once): {', '.join(done)}. " if done else "")
        + ("The other regimes" if done else "These numbers")
        + " come from the earlier studies' files ("
        + ", ".join(f"`benchmarks/{f}`" for f in dict.fromkeys(f for r in legacy for f in r.files))
        + "): "
        + "; ".join(f"{r.title}: {r.chosen_on}" for r in legacy)
        + ". No cell of those files keeps per-image outcomes, so their differences are untested (?)"
    )
    if few:
        text += "; fewer than 3 seeds in: " + ", ".join(few)
    return text + f". To regenerate under the protocol: {REGENERATE}."


def summary_table(regimes: list[Regime]) -> str:
    """One row per regime: its reference source's agreement (%), then each other source's difference to it over
    the regime's models (the span of the mean differences, in points) with one mark per model (↑ ↓ = from the
    paired interval, ? untested)."""
    sources = [s for s in SOURCE_ORDER if any(s in by and s != r.reference for r in regimes for by in r.rows.values())]
    head = ["regime", "models", "measured on", "reference: agreement (%)", *sources]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 4 + "---:|" * len(sources)]
    for r in regimes:
        models = [m for m, by in r.rows.items() if r.reference in by]
        if not models:
            continue
        refs = [r.rows[m][r.reference].mean for m in models]
        ref = f"{min(refs):.2f}" if max(refs) - min(refs) < 0.005 else f"{min(refs):.2f}–{max(refs):.2f}"
        vs = verdicts(r)
        cells = []
        for s in sources:
            have = [m for m in models if s in r.rows[m]]
            if s == r.reference or not have:
                cells.append("—")
                continue
            gaps = [r.rows[m][s].mean - r.rows[m][r.reference].mean for m in have]
            ivs = [vs[m][s] for m in have]
            marks = "".join(MARK[iv.verdict if iv is not None else None] for iv in ivs)
            only = f" ({', '.join(_short(m) for m in have)} only)" if len(have) < len(models) else ""
            cells.append(f"{_span(gaps)} {'?' if set(marks) == {'?'} else marks}{only}")
        names = sorted({_short(m) for m in models})
        label = names[0] if len(names) == 1 else f"{len(names)} {_family(names)}"
        row = [r.title, label, measured_on(r), f"{r.reference} {ref}", *cells]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _family(names: list[str]) -> str:
    """'ResNets' for ResNet-20, ResNet-32, ...; else 'models'."""
    stems = {n.split("-")[0] for n in names}
    return f"{stems.pop()}s" if len(stems) == 1 else "models"


def short_status(regimes: list[Regime]) -> str:
    """:func:`status` in one sentence (the README's)."""
    legacy = [r for r in regimes if r.legacy]
    if not legacy:
        return status(regimes)
    few = _few_seeds(regimes)
    done = [r.title for r in regimes if not r.legacy]
    text = (
        (
            f"under the protocol (choices on validation images, test images touched once): {', '.join(done)}; "
            if done
            else ""
        )
        + ("the others " if done else "")
        + "from the earlier studies' files, whose settings were chosen on the test images; no cell of those keeps "
        "per-image outcomes, so their differences are untested (?)"
    )
    if few:
        text += "; fewer than 3 seeds in: " + ", ".join(few)
    return text[0].upper() + text[1:] + "; RESULTS section 0 says how to re-run them under the protocol."


def summary_block(regimes: list[Regime]) -> str:
    """The README's short answer: the status, one row per regime, whether generators beat the data-free baselines."""
    base = baseline_sentence(regimes)
    return (
        f"Status: {short_status(regimes)}\n\n"
        "Agreement with FP32 (% of test images on which the quantized model predicts FP32's class) with the reference\n"
        "calibration (real images; for EfficientNet-Lite0 the calibration photos where measured), and each other\n"
        "source's difference to it in points (the range over the regime's models; one mark per model: ↑ / ↓ when the\n"
        "paired 95 % bootstrap interval excludes 0, = when it does not, ? untested).\n"
        "Each number with ± and seeds, and the protocol: [RESULTS section 0](benchmarks/RESULTS.md).\n\n"
        + summary_table(regimes)
        + (f"\nGenerators against the data-free baselines: {base}\n" if base else "")
    )


def answer_block(regimes: list[Regime]) -> str:
    notes = [regime_sentence(r) for r in regimes]
    base = baseline_sentence(regimes)
    return (
        f"Status: {status(regimes)}\n\n"
        "Agreement with FP32 (% of test images on which the quantized model predicts FP32's class), mean ± std over\n"
        "seeds; beside each source its difference to real calibration (EfficientNet-Lite0: to the calibration photos,\n"
        "`photos`, where measured): ↑ / ↓ when the paired 95 % bootstrap interval (test images × seeds) excludes 0, =\n"
        "when it does not, ? when it could not be computed.\n\n"
        + answer_table(regimes)
        + "\n"
        + "\n".join(f"- {n}" for n in notes)
        + (f"\n- Generators against the data-free baselines: {base}" if base else "")
        + "\n"
    )


def detail_tables(regimes: list[Regime]) -> str:
    out = []
    for r in regimes:
        out += [f"#### {r.title}", "", f"Agreement on {measured_on(r)}; {r.chosen_on}.", ""]
        out += [
            f"| model | source | agreement (%) | seeds | vs {r.reference} (points, 95 % interval) | verdict | detail |",
            "|---|---|---:|---:|---|---|---|",
        ]
        vs = verdicts(r)
        for model, by in r.rows.items():
            for s in _sources(r):
                if s not in by:
                    continue
                iv = vs.get(model, {}).get(s)
                gap = "" if s == r.reference else (iv.text() if iv is not None else "untested")
                verdict = "" if s == r.reference else (iv.verdict if iv is not None else "untested")
                st = by[s]
                out.append(
                    f"| {_short(model)} | {s} | {format_mean_std(st.mean, st.std, st.n)} | {st.n} | {gap} | {verdict} | {st.detail} |"
                )
        out.append("")
    return "\n".join(out)


def regime_block(regimes: list[Regime], key: str, lead: str) -> str:
    """``lead``, then the sentence and the detail table of regime ``key`` (a notebook's conclusion numbers)."""
    chosen = [r for r in regimes if r.key == key]
    if not chosen:
        return lead + "\n\nNo results file holds this regime yet.\n"
    r = chosen[0]
    return f"{lead}\n\n- {regime_sentence(r)}\n- {r.chosen_on[0].upper() + r.chosen_on[1:]}.\n\n{detail_tables([r])}"
