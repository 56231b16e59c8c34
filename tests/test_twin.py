"""The digital twin: a calibrated store's customers continuing their own recorded histories."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from omegaconf import OmegaConf

from sim import btyd
from sim.config import Config, PopulationConfig, compose
from sim.random import Streams
from sim.simulate import simulate
from sim.twin import (
    TwinFileError,
    TwinHistory,
    _sample_affinity,
    _sample_items_mean,
    load_twin,
    read_twin,
    save_twin,
)

DAY0 = 729_000  # an ordinal date


def _history(n: int = 400, styles: int = 0, seed: int = 3) -> TwinHistory:
    """Histories of Pareto/NBD customers observed for up to a year, by row."""
    rng = np.random.default_rng(seed)
    x, t_x, T = btyd.simulate_pareto_nbd(
        {"r": 0.55, "alpha": 74.0, "s": 0.6, "beta": 82.0}, n, rng.integers(1, 365, n), rng
    )
    t_x = np.floor(t_x)
    first = -1 - T.astype(np.int32)
    x_spend = x.copy()
    monetary = np.where(x > 0, rng.gamma(6.0, 20.0, n), np.nan)
    counts = rng.multinomial(1, np.ones(styles) / styles, n) * (x + 1)[:, None] if styles else None
    return TwinHistory(
        first_purchase_day=first,
        last_purchase_day=(first + t_x).astype(np.int32),
        purchases=(x + 1).astype(np.int32),
        spend=np.nan_to_num(monetary * x) + 50.0,
        x_spend=x_spend.astype(np.int32),
        monetary=monetary,
        extra_items=(x * 2).astype(np.int64),
        item_tickets=(x + 1).astype(np.int32),
        style_counts=np.zeros((n, 0), np.int32) if counts is None else counts.astype(np.int32),
        last_style=(
            np.full(n, -1, np.int8) if counts is None else counts.argmax(axis=1).astype(np.int8)
        ),
        day0=DAY0,
    )


def _population(twin_file: str = "unused") -> PopulationConfig:
    cfg = compose(["population.kind=twin", f"population.twin_file={twin_file}"])
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), cfg)).population


MIX = np.array([0.35, 0.25, 0.15, 0.05, 0.10, 0.10])
REACH = np.array([0.45, 0.9, 0.7, 0.35])


def test_twin_file_round_trip_and_errors(tmp_path):
    h = _history()
    path = tmp_path / "twin.npz"
    save_twin(path, h)
    back = read_twin(path)
    for f in dataclasses.fields(TwinHistory):
        np.testing.assert_array_equal(getattr(back, f.name), getattr(h, f.name))
    with np.load(path) as data:  # numbers only: nothing that could hold a customer id
        assert all(data[k].dtype.kind in "iuf" for k in data.files)

    with pytest.raises(FileNotFoundError, match="retail-sim-calibrate"):
        read_twin(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not an archive")
    with pytest.raises(TwinFileError, match="is not a twin"):
        read_twin(tmp_path / "junk.npz")
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # a flipped byte inside one array: its CRC fails
    (tmp_path / "damaged.npz").write_bytes(bytes(damaged))
    with pytest.raises(TwinFileError, match="is not a readable .npz archive"):
        read_twin(tmp_path / "damaged.npz")
    h.last_purchase_day[7] = 5  # a purchase after the calibration end
    save_twin(path, h)
    with pytest.raises(TwinFileError, match="impossible histories at rows 7"):
        read_twin(path)


def test_twin_keeps_the_record_and_draws_traits_from_the_posterior(tmp_path):
    h = _history(n=3000)
    path = tmp_path / "twin.npz"
    save_twin(path, h)
    population = _population(str(path))
    twin = load_twin(path, population, MIX, REACH, Streams(5).generator("twin"))
    assert len(twin) == len(h)
    np.testing.assert_array_equal(twin.first_purchase_day, h.first_purchase_day)
    np.testing.assert_array_equal(twin.last_purchase_day, h.last_purchase_day)
    np.testing.assert_array_equal(twin.purchases, h.purchases)
    np.testing.assert_allclose(twin.spend, h.spend)
    np.testing.assert_array_equal(twin.key, np.arange(len(h)))
    assert np.all(twin.churn_clock[~twin.alive] == 0) and np.all(twin.churn_clock[twin.alive] > 0)

    days = {"r": 0.553, "alpha": 74.046, "s": 0.606, "beta": 81.683}  # default population
    x, t_x, T = h.btyd_days()
    p_alive = btyd.probability_alive(days, x, t_x, T)
    assert twin.alive.sum() == pytest.approx(p_alive.sum(), abs=4 * np.sqrt(p_alive.sum()))
    # Alive customers' rates: Gamma(r + x, alpha + T) posterior means, pooled.
    alive = twin.alive
    expected = ((days["r"] + x) / (days["alpha"] + T))[alive].sum()
    assert twin.lam[alive].sum() == pytest.approx(expected, rel=0.05)
    # Same seed, same twin; another seed, another draw.
    again = load_twin(path, population, MIX, REACH, Streams(5).generator("twin"))
    np.testing.assert_array_equal(again.lam, twin.lam)
    other = load_twin(path, population, MIX, REACH, Streams(6).generator("twin"))
    assert not np.array_equal(other.lam, twin.lam)


def test_twin_run_takes_its_size_and_record_from_the_file(tmp_path):
    h = _history(n=300)
    path = tmp_path / "twin.npz"
    save_twin(path, h)
    cfg = compose(
        [
            "population.kind=twin",
            f"population.twin_file={path}",
            "customers=50",  # ignored: the twin brings its own customers
            "days=5",
            "population.new_customers_per_year=0",
            "population.referral_propensity=0",
        ]
    )
    model = simulate(cfg).model
    record = model.ledger.record
    assert record.n == len(h)
    np.testing.assert_array_equal(model.outcome.last_purchase_at_start, h.last_purchase_day)
    assert np.all(record.purchases >= h.purchases)
    assert np.array_equal(record.first_purchase_day, h.first_purchase_day)


def test_a_store_that_starts_on_another_day_than_the_twin_is_warned_of(tmp_path, capsys):
    """The run goes on (a shift may be deliberate), but the seasons would fall on other days
    of the customers' histories than they did."""
    from experiments.preflight import preflight

    path = tmp_path / "twin.npz"
    save_twin(path, _history(n=50))
    day0 = read_twin(path).start_date.isoformat()
    twin = ["population.kind=twin", f"population.twin_file={path}", "days=5"]
    preflight([*twin, "store.start_date=2025-01-01"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("retail-sim: warning: ")
    assert f"the twin's day 0 is {day0} but store.start_date is 2025-01-01" in err
    assert f"store.start_date={day0}" in err
    preflight([*twin, f"store.start_date={day0}"])
    assert capsys.readouterr().err == ""


def test_twin_with_other_styles_than_the_store_is_refused(tmp_path):
    path = tmp_path / "twin.npz"
    save_twin(path, _history(n=50, styles=3))
    with pytest.raises(TwinFileError, match="calibrated with 3 styles but the store sells 6"):
        load_twin(path, _population(str(path)), MIX, REACH, np.random.default_rng(0))
    twin = load_twin(path, _population(str(path)), MIX[:3], REACH, np.random.default_rng(0))
    assert np.all(twin.last_style == read_twin(path).last_style)


def test_style_affinity_posterior_matches_importance_sampling():
    """Gibbs draws against weighting prior draws by the likelihood of her style counts."""
    rng = np.random.default_rng(2)
    mix = np.array([0.5, 0.3, 0.2])
    counts = np.array([0, 1, 4])
    draws = _sample_affinity(np.tile(counts, (20_000, 1)), 1.0, mix, rng)
    g = rng.gamma(1.0, size=(400_000, 3))
    w = np.prod(((g * mix) / (g @ mix)[:, None]) ** counts, axis=1)
    exact = (w[:, None] * g / g.sum(axis=1, keepdims=True)).sum(axis=0) / w.sum()
    np.testing.assert_allclose(draws.mean(axis=0), exact, atol=0.01)
    assert exact[2] > 0.5  # she mostly buys the third style although the store sells it least


def test_items_posterior_matches_importance_sampling():
    rng = np.random.default_rng(4)
    extra, tickets = np.full(20_000, 6), np.full(20_000, 3)  # 9 items on 3 tickets
    draws = _sample_items_mean(1.8, extra, tickets, rng)
    e = rng.exponential(0.8, 1_000_000)
    w = (1 + e) ** -3.0 * (e / (1 + e)) ** 6
    exact = 1 + (w * e).sum() / w.sum()
    assert draws.mean() == pytest.approx(exact, rel=0.02)
    assert _sample_items_mean(1.0, extra[:3], tickets[:3], rng).tolist() == [1.0, 1.0, 1.0]
