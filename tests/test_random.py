"""Counter-based draws: uniform, independent across purposes, and addressed, not sequential."""

import numpy as np
from scipy import stats

from sim.random import Streams


def test_same_address_same_draw_whatever_else_is_drawn():
    s = Streams(7)
    keys = np.arange(1000, dtype=np.uint64)
    alone = s.uniform("spend", keys[500:501], day=12)
    among_many = s.uniform("spend", keys, day=12)[500]
    assert alone[0] == among_many


def test_a_few_keys_hash_as_many_do():
    """A handful of keys is hashed in Python integers, more in numpy: the same draws."""
    s = Streams(3)
    keys = np.random.default_rng(0).integers(0, 2**64, size=500, dtype=np.uint64)
    many = s.exponential("churn", keys, day=40)
    for n in range(1, 12):
        assert np.array_equal(s.exponential("churn", keys[-n:], day=40), many[-n:])
    # slots: one for all keys, a few per draw (a purchase's), or one per key (many)
    matrix = s.uniform_matrix("purchase", keys, 40, np.arange(7))
    for slot in range(7):
        assert np.array_equal(matrix[:, slot], s.uniform("purchase", keys, 40, slot))
    per_key = s.uniform("purchase", keys, 40, np.full(len(keys), 5))
    assert np.array_equal(per_key, matrix[:, 5])
    by_day = s.addresses("purchase", 50, np.arange(7))  # a run's addresses, hashed at set-up
    assert np.array_equal(s.uniform_matrix_at(keys, by_day[40]), matrix)


def test_draws_are_uniform_and_purposes_independent():
    s = Streams(1)
    keys = np.arange(200_000, dtype=np.uint64)
    a, b = s.uniform("read", keys, 3), s.uniform("opt_out", keys, 3)
    assert stats.kstest(a, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    assert abs(np.corrcoef(a, s.uniform("read", keys, 4))[0, 1]) < 0.01
    assert a.min() > 0 and a.max() < 1


def test_pair_halves_are_independent_uniforms():
    u, v = Streams(2).uniform_pair("message", np.arange(100_000, dtype=np.uint64), 5)
    assert stats.kstest(u, "uniform").pvalue > 1e-3 and stats.kstest(v, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.015


def test_seed_changes_every_draw():
    keys = np.arange(1000, dtype=np.uint64)
    assert not np.any(Streams(1).uniform("x", keys, 0) == Streams(2).uniform("x", keys, 0))


def test_derived_keys_do_not_collide_with_sequential_keys():
    derived = Streams(1).derived_keys(np.arange(10_000, dtype=np.uint64), day=3)
    assert len(np.unique(derived)) == 10_000
    assert np.all(derived >= np.uint64(1 << 63))
    for n in (1, 2, 8, 9):  # a day's few referrers are hashed in Python integers: same keys
        few = Streams(1).derived_keys(np.arange(n, dtype=np.uint64), day=3)
        assert np.array_equal(few, derived[:n])


def test_draws_taken_ahead_on_their_own_days_are_the_draws_of_those_days():
    """Comebacks draw a returning customer's clocks when she leaves; they must be exactly
    what drawing on her return day would give, for a few keys (Python path) and many."""
    s = Streams(11)
    rng = np.random.default_rng(2)
    for n in (1, 5, 9, 300):
        keys = rng.integers(0, 2**63, n, dtype=np.uint64)
        days = rng.integers(0, 3650, n)
        ahead = s.exponential_on("comeback", keys, days)
        on_the_day = [s.exponential("comeback", keys[i : i + 1], int(days[i]))[0] for i in range(n)]
        np.testing.assert_array_equal(ahead, on_the_day)
