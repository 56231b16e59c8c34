"""Intervals for comparing strategies run on the same seeds.

Runs with the same seed share common random numbers: the same customers, the same draws for
everything the strategy does not touch. The difference between two strategies is therefore
measured far more precisely seed by seed (a paired comparison) than by comparing their
averages as if the runs were independent (an unpaired comparison). Both are computed here so a
report can show how much the pairing buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

# the t quantile that scipy.stats.t.ppf computes, without importing scipy.stats: that import
# took half a second of every command's start-up and of every sweep worker's
from scipy.special import stdtrit

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval (nan when it cannot be computed)."""

    estimate: float
    low: float
    high: float
    n: int

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly on one side of zero: a difference the noise cannot explain."""
        return bool(self.low > 0 or self.high < 0)

    def covers(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)


NAN = float("nan")


def mean_interval(values: ArrayLike, level: float = LEVEL) -> Interval:
    """Student-t interval for the mean of `values` (nan entries ignored)."""
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(NAN, NAN, NAN, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, NAN, NAN, 1)
    half = stdtrit(n - 1, 0.5 + level / 2) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(treated: ArrayLike, baseline: ArrayLike, level: float = LEVEL) -> Interval:
    """Mean of `treated[i] - baseline[i]` over pairs that share a seed, with its t-interval.

    Pairs where either side is missing (nan) are dropped.
    """
    a, b = np.asarray(treated, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    return mean_interval(a - b, level)


def unpaired_difference(treated: ArrayLike, baseline: ArrayLike, level: float = LEVEL) -> Interval:
    """Welch interval for `mean(treated) - mean(baseline)`, as if the runs were independent."""
    a, b = _clean(treated), _clean(baseline)
    if len(a) == 0 or len(b) == 0:
        return Interval(NAN, NAN, NAN, 0)
    diff = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if len(a) < 2 or len(b) < 2:
        return Interval(diff, NAN, NAN, n)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(diff, diff, diff, n)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stdtrit(df, 0.5 + level / 2) * se
    return Interval(diff, diff - half, diff + half, n)


def _clean(values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]
