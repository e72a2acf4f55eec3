"""The conclusions paragraph of a quantization study: one block of bullet lines per (model, calibration size)."""

from __future__ import annotations

from .settings import PROJECT_DEFAULT


def _interval(cells, metric: str, model, size, config: str, source: str):
    """The paired 95 % interval of ``source`` minus real on ``metric``'s test set, or None (no per-image outcomes)."""
    from ..study.answer import versus
    from ..study.results import stat_of

    if cells is None or not metric.endswith("_agreement"):
        return None
    test_set = metric[: -len("_agreement")]
    pick = lambda s: [  # noqa: E731
        c for c in cells if (c["model"], c["size"], c["config"], c["source"]) == (model, size, config, s)
    ]
    mine, real = pick(source), pick("real")
    if not mine or not real or f"{test_set}_outcomes" not in mine[0]:
        return None
    return versus(stat_of(mine, test_set), stat_of(real, test_set))


def conclusions(
    table,
    metric: str,
    speed=None,
    config: str = PROJECT_DEFAULT,
    baseline: str = "nncf-default",
    cells: list[dict] | None = None,
) -> str:
    """Markdown bullets from a :func:`~gsoc_helpers.study.tables.summarize` table.

    ``metric`` is a column stem such as ``"exact_agreement"`` (``<metric>_mean`` is read).  For each (model, size):
    sources ranked by ``config``'s mean, each source's difference to ``real`` calibration (with ``cells``, the study's
    cells, its paired 95 % interval and verdict: better / worse only when the interval excludes 0), and ``config``
    minus ``baseline`` per source.  ``speed`` (rows ``"batch B"``, columns ``"INT8 / FP32"``, ``"INT8 / default"``) adds
    the speed-up at its largest batch (and, with ``"FP32 MB"``/``"INT8 MB"``, one sentence on what INT8 buys on this
    CPU's ISA: :func:`gsoc_helpers.openvino.core.int8_verdict`).  Works for any number of models, sizes and sources."""
    col = f"{metric}_mean"
    if col not in table.columns:
        raise ValueError(
            f"no column {col!r} in the table; expected one of "
            f"{sorted(c[:-5] for c in table.columns if c.endswith('_mean'))}"
        )
    lines: list[str] = []
    for (model, size), group in table.groupby(["model", "size"], sort=False):
        ours = group[group["config"] == config].groupby("source", sort=False)[col].mean()
        if ours.empty:
            continue
        ranking = ours.sort_values(ascending=False)
        lines.append(
            f"- **{model}, {size} calibration images**: {metric} ({config}): "
            + ", ".join(f"{s} {v:.2f}" for s, v in ranking.items())
        )
        if "real" in ours.index:
            for s in [x for x in ours.index if x != "real"]:
                iv = _interval(cells, metric, model, size, config, s)
                said = (
                    f"{iv.text()} points, {iv.verdict}"
                    if iv is not None
                    else f"{ours[s] - ours['real']:+.2f}, untested"
                )
                lines.append(f"  - {s}: {said} vs real calibration")
        base = group[group["config"] == baseline].groupby("source", sort=False)[col].mean()
        common = [s for s in ours.index if s in base.index]
        if common:
            lines.append(f"  - {config} vs {baseline}: " + ", ".join(f"{s} {ours[s] - base[s]:+.2f}" for s in common))
    if speed is not None and len(speed):
        last = speed.index[-1]
        lines.append(
            f"- INT8 speed-up at {last}: {float(speed.loc[last, 'INT8 / FP32']):.2f}x over FP32, "
            f"{float(speed.loc[last, 'INT8 / default']):.2f}x over OpenVINO's default float precision"
        )
        if {"FP32 MB", "INT8 MB"} <= set(speed.columns):
            from ..openvino.core import cpu_isa, default_precision, int8_verdict

            size = float(speed.loc[last, "FP32 MB"]) / float(speed.loc[last, "INT8 MB"])
            lines.append(
                "- "
                + int8_verdict(
                    cpu_isa(),
                    float(speed.loc[last, "INT8 / FP32"]),
                    float(speed.loc[last, "INT8 / default"]),
                    size,
                    default_precision(),
                )
            )
    return "\n".join(lines)
