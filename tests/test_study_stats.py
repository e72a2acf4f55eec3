"""gsoc_helpers.study.stats: mean ± std, the paired bootstrap interval and its verdict, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from gsoc_helpers.study.stats import format_mean_std, mean_std, normal_halfwidth, paired_bootstrap


def test_mean_std_and_format():
    m, s, n = mean_std([1.0, 2.0, 3.0])
    assert (m, round(s, 12), n) == (2.0, 1.0, 3)
    assert format_mean_std(m, s, n) == "2.00 ± 1.00"
    m, s, n = mean_std([5.0, float("nan")])
    assert n == 1 and format_mean_std(m, s, n) == "5.00 (1 seed)"  # one seed says so, never a bare number


def test_identical_outcomes_are_indistinguishable_with_a_zero_interval():
    row = np.random.default_rng(0).integers(0, 2, 500)
    a = np.repeat(row[None], 3, 0)  # three seeds with the same outcomes
    iv = paired_bootstrap(a, a.copy())
    assert iv.diff == 0 and iv.low == 0 and iv.high == 0 and iv.verdict == "indistinguishable"
    b = np.random.default_rng(1).integers(0, 2, (3, 500))  # seeds that differ: the interval straddles 0
    iv = paired_bootstrap(b, b.copy())
    assert iv.diff == 0 and iv.low < 0 < iv.high and iv.verdict == "indistinguishable"


def test_all_versus_none_is_better_and_worse():
    ones, zeros = np.ones((3, 100)), np.zeros((3, 100))
    assert paired_bootstrap(ones, zeros).verdict == "better"
    iv = paired_bootstrap(zeros, ones)
    assert (iv.diff, iv.low, iv.high, iv.verdict) == (-1.0, -1.0, -1.0, "worse")


def test_a_ten_percent_gap_matches_the_normal_interval():
    n = 2000
    a = np.ones((3, n))
    b = np.ones((3, n))
    b[:, : n // 10] = 0  # b misses the same 10 % of images in every seed: only image resampling varies
    iv = paired_bootstrap(a, b, n_boot=3000)
    half = normal_halfwidth(0.1, n)  # 1.31 points
    assert iv.diff == pytest.approx(0.1)
    assert iv.low == pytest.approx(0.1 - half, abs=0.004) and iv.high == pytest.approx(0.1 + half, abs=0.004)
    assert iv.verdict == "better" and iv.text() == f"+10.00 [{100 * iv.low:+.2f}, {100 * iv.high:+.2f}]"


def test_seed_spread_widens_the_interval_and_a_small_gap_is_not_a_finding():
    rng = np.random.default_rng(1)
    n = 1000
    base = (rng.random(n) < 0.98).astype(float)
    a = np.stack([np.where(rng.random(n) < 0.02, 1 - base, base) for _ in range(3)])  # each seed flips ~2 %
    b = np.stack([np.where(rng.random(n) < 0.02, 1 - base, base) for _ in range(3)])
    iv = paired_bootstrap(a, b)
    assert iv.low < 0 < iv.high and iv.verdict == "indistinguishable"
    assert iv == paired_bootstrap(a, b)  # seeded: the same interval every time


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(np.ones((3, 10)), np.ones((3, 11)))
