"""Medians and bootstrap confidence intervals for the bench's figures.

Times to a target are right-censored: a run that never reached the target within the horizon
counts as infinitely slow. A median stays finite while fewer than half of the runs are censored,
and ratios of medians are resampled as a whole, so a censored run weighs on the interval as it
should instead of being dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = 2000


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        return f"{_fmt(self.value)} [{_fmt(self.low)}, {_fmt(self.high)}]"


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return "∞" if math.isinf(x) else f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def median(values: Sequence[float] | np.ndarray) -> float:
    return float(np.median(np.asarray(values, dtype=float))) if len(values) else math.nan


def _ratio(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b):
        return math.nan
    if b == 0:
        return math.inf if a > 0 else math.nan
    return a / b


def median_interval(values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP) -> Interval:
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    samples = np.median(x[rng.integers(0, len(x), (resamples, len(x)))], axis=1)
    low, high = _quantiles(samples)
    return Interval(median(x), low, high)


def speedup(baseline: Sequence[float], method: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP) -> Interval:
    """median(baseline) / median(method) with a percentile bootstrap 95 % interval, each sample
    drawn independently: > 1 means the method reaches the target sooner than the baseline."""
    a, b = np.asarray(baseline, dtype=float), np.asarray(method, dtype=float)
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, len(a), (resamples, len(a)))], axis=1)
    mb = np.median(b[rng.integers(0, len(b), (resamples, len(b)))], axis=1)
    ratios = np.array([_ratio(x, y) for x, y in zip(ma, mb, strict=True)])
    ratios = ratios[~np.isnan(ratios)]
    value = _ratio(median(a), median(b))
    if not len(ratios):
        return Interval(value, math.nan, math.nan)
    low, high = _quantiles(ratios)
    return Interval(value, low, high)


def _quantiles(samples: np.ndarray) -> tuple[float, float]:
    # Sample values, never interpolated between them: an interval may end at infinity (censored
    # runs), and inf - inf is not a number.
    low, high = np.quantile(samples, [0.025, 0.975], method="inverted_cdf")
    return float(low), float(high)
