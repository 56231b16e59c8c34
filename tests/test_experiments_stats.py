"""Paired intervals: right coverage on a case with known truth, and far narrower than unpaired
ones when runs share common random numbers."""

import math

import numpy as np
import pytest

from experiments.stats import mean_interval, paired_difference, unpaired_difference


def _synthetic_pairs(rng, n_seeds, delta, shared_sd=10.0, own_sd=1.0):
    """Two strategies on the same seeds: a large seed effect both share (the customers), a
    small noise of their own, and a true difference `delta`."""
    shared = rng.normal(0.0, shared_sd, n_seeds)
    baseline = shared + rng.normal(0.0, own_sd, n_seeds)
    treated = shared + delta + rng.normal(0.0, own_sd, n_seeds)
    return treated, baseline


@pytest.mark.parametrize("n_seeds", [3, 5, 10])
def test_paired_interval_covers_the_true_difference_95_percent_of_the_time(n_seeds):
    rng = np.random.default_rng(2024 + n_seeds)
    delta, reps = 0.7, 4000
    covered = 0
    for _ in range(reps):
        treated, baseline = _synthetic_pairs(rng, n_seeds, delta)
        covered += paired_difference(treated, baseline).covers(delta)
    coverage = covered / reps
    # binomial sd at 95% over 4000 repetitions is 0.0034: allow about 4 sd
    assert abs(coverage - 0.95) < 0.015, coverage


def test_unpaired_interval_also_covers_but_is_far_wider_with_common_random_numbers():
    rng = np.random.default_rng(7)
    delta, reps, n_seeds = 0.7, 2000, 5
    covered, ratios = 0, []
    for _ in range(reps):
        treated, baseline = _synthetic_pairs(rng, n_seeds, delta)
        paired = paired_difference(treated, baseline)
        unpaired = unpaired_difference(treated, baseline)
        covered += unpaired.covers(delta)
        ratios.append(unpaired.width / paired.width)
    assert covered / reps >= 0.94  # Welch is valid (if conservative) here
    assert np.median(ratios) > 5  # the shared seed effect is 10x the runs' own noise


def test_intervals_with_too_few_runs_are_honest_about_it():
    one = mean_interval([3.0])
    assert one.estimate == 3.0 and math.isnan(one.low) and not one.excludes_zero
    assert mean_interval([]).n == 0
    assert math.isnan(unpaired_difference([1.0], [2.0]).low)
    same = paired_difference([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)


def test_missing_pairs_are_dropped_and_lengths_must_match():
    d = paired_difference([1.0, np.nan, 3.0, 4.0], [0.0, 1.0, 2.0, 3.5])
    assert d.n == 3 and d.estimate == pytest.approx((1 + 1 + 0.5) / 3)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_excludes_zero():
    assert paired_difference([2.0, 2.1, 1.9], [0.0, 0.0, 0.0]).excludes_zero
    assert not paired_difference([1.0, -1.0, 0.5], [0.0, 0.0, 0.0]).excludes_zero
