"""BTYD maths: published CDNOW fits, independent numerical checks, round trips, posterior draws."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln, gammaln

from sim import btyd
from sim.transactions import load_cdnow, summarise

PNBD = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}  # near the CDNOW fit
BGNBD = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}  # a < 1: E[1/p] does not exist


@pytest.fixture(scope="module")
def cdnow(cdnow_path: Path) -> dict[str, np.ndarray]:
    transactions, _ = load_cdnow(cdnow_path)
    summary = summarise(transactions, calibration_end="1997-09-30")
    return {col: summary[col].to_numpy() for col in ("x", "t_x", "T", "monetary", "x_spend")}


def _assert_published(fit: btyd.FitResult, published: dict[str, float]) -> None:
    assert fit.converged, fit.message
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name


# --------------------------------------------------------------------------- published values


def test_cdnow_bgnbd_matches_fader_hardie_lee_2005(cdnow):
    fit = btyd.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    _assert_published(fit, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert fit.n == 2357


def test_cdnow_pareto_nbd_matches_fader_hardie_2005(cdnow):
    fit = btyd.fit_pareto_nbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    _assert_published(fit, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.1)


def test_cdnow_gamma_gamma_matches_fader_hardie_lee_2005(cdnow):
    fit = btyd.fit_gamma_gamma(cdnow["x_spend"], cdnow["monetary"])
    _assert_published(fit, {"p": 6.25, "q": 3.74, "gamma": 15.44})
    assert fit.n == 946


# --------------------------------------------------------------------------- likelihoods


def _pnbd_reference(p: dict[str, float], x: int, t_x: float, T: float) -> float:
    """Pareto/NBD log-likelihood with the death-time integral done by adaptive quadrature."""
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    shift = -(r + x) * np.log(alpha + t_x) - (s + 1) * np.log(beta + t_x)

    def scaled(tau: float) -> float:
        return np.exp(-(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau) - shift)

    integral, _ = integrate.quad(scaled, t_x, T, epsabs=0, epsrel=1e-12, limit=500)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s * integral) + shift if integral > 0 else -np.inf
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head + np.logaddexp(alive, died)


@pytest.mark.parametrize(
    "params",
    [
        PNBD,  # alpha < beta branch
        {"r": 0.8, "alpha": 15.0, "s": 0.4, "beta": 3.0},  # alpha >= beta branch
        # r or s = 1 with one shift parameter far above the other: for the one-time buyer
        # scipy's hyp2f1 alone is off by 0.17, NaN, and inf respectively.
        {"r": 1.0, "alpha": 0.03, "s": 0.28, "beta": 17.0},
        {"r": 1.0, "alpha": 0.03, "s": 0.3, "beta": 17.0},
        {"r": 0.55, "alpha": 60.0, "s": 1.0, "beta": 0.05},
        {"r": 0.5, "alpha": 5.0, "s": 0.7, "beta": 5.0},  # alpha == beta
    ],
)
def test_pareto_nbd_likelihood_matches_quadrature(params):
    histories = [(0, 0.0, 39.0), (1, 0.5, 39.0), (5, 20.0, 30.0), (80, 2.0, 38.0), (3, 9.0, 9.0)]
    x, t_x, T = (np.array(col, dtype=float) for col in zip(*histories, strict=True))
    got = btyd.pareto_nbd_log_likelihood(params, x, t_x, T)
    want = [_pnbd_reference(params, int(xi), ti, Ti) for xi, ti, Ti in histories]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def _probability_total(log_lik, params: dict[str, float], T: float, x_max: int) -> float:
    """P(x = 0) plus, for x >= 1, the likelihood integrated over the x purchase times.

    The likelihood is the density of the purchase times; those before the last one integrate
    to t_x^(x-1)/(x-1)!, so a correct likelihood sums to one over all histories.
    """
    total = float(np.exp(log_lik(params, 0, 0.0, T)))
    for x in range(1, x_max + 1):

        def density(t: float, x: int = x) -> float:
            log_times = (x - 1) * np.log(t) - gammaln(x) if x > 1 else 0.0
            return float(np.exp(log_lik(params, x, t, T) + log_times))

        total += integrate.quad(density, 0.0, T, epsabs=1e-13, limit=200)[0]
    return total


@pytest.mark.parametrize(
    ("log_lik", "params"),
    [(btyd.bgnbd_log_likelihood, BGNBD), (btyd.pareto_nbd_log_likelihood, PNBD)],
)
def test_count_likelihoods_are_normalised(log_lik, params):
    # Histories with more than 40 purchases carry ~1e-6 of the mass (BG/NBD's heavy tail).
    assert _probability_total(log_lik, params, T=20.0, x_max=40) == pytest.approx(1.0, abs=1e-5)


def test_gamma_gamma_likelihood_is_a_density_of_mean_spend():
    params = {"p": 6.0, "q": 3.7, "gamma": 15.0}
    for x in (1, 4):
        total = integrate.quad(
            lambda m, x=x: float(np.exp(btyd.gamma_gamma_log_likelihood(params, x, m))[0]),
            0,
            np.inf,
        )[0]
        assert total == pytest.approx(1.0, abs=1e-8)


def test_invalid_histories_are_refused():
    with pytest.raises(ValueError, match="t_x <= T"):
        btyd.bgnbd_log_likelihood(BGNBD, [1], [5.0], [4.0])
    with pytest.raises(ValueError, match="t_x must be 0"):
        btyd.pareto_nbd_log_likelihood(PNBD, [0], [1.0], [4.0])
    with pytest.raises(ValueError, match="neither BG/NBD"):
        btyd.expected_transactions({"r": 1.0, "alpha": 1.0}, 10.0)


# --------------------------------------------------------------------------- expectations


def _bgnbd_mean_given_alive(p: dict[str, float], x: int, T: float, t: float) -> float:
    """E[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p] for p ~ Beta(a, b+x), by quadrature."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]

    def f(q: float) -> float:
        if q == 0:
            return (r + x) * t / (alpha + T)
        return -np.expm1(-(r + x) * np.log1p(q * t / (alpha + T))) / q

    value = integrate.quad(f, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsrel=1e-12)[0]
    return value * np.exp(-betaln(a, b + x))


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0, 300.0])
def test_bgnbd_expectations_match_quadrature(t):
    assert btyd.expected_transactions(BGNBD, t) == pytest.approx(
        _bgnbd_mean_given_alive(BGNBD, 0, 0.0, t), rel=1e-9
    )
    x, t_x, T = 4, 20.0, 39.0
    given_alive = btyd.conditional_expected_transactions(BGNBD, t, x, t_x, T) / (
        btyd.probability_alive(BGNBD, x, t_x, T)
    )
    assert given_alive == pytest.approx(_bgnbd_mean_given_alive(BGNBD, x, T, t), rel=1e-9)


@pytest.mark.parametrize(
    ("params", "simulate"),
    [(BGNBD, btyd.simulate_bgnbd), (PNBD, btyd.simulate_pareto_nbd)],
    ids=["bgnbd", "pareto_nbd"],
)
def test_expectations_agree_with_simulation(params, simulate):
    """E[X(T)], and the law of total expectation for the conditional expectation and P(alive)."""
    rng = np.random.default_rng(11)
    n, T, t = 200_000, 30.0, 20.0
    x, t_x, T_arr = simulate(params, n, T, rng)
    assert np.mean(x) == pytest.approx(
        btyd.expected_transactions(params, T), abs=4 * np.std(x) / np.sqrt(n)
    )
    conditional = btyd.conditional_expected_transactions(params, t, x, t_x, T_arr)
    increment = btyd.expected_transactions(params, T + t) - btyd.expected_transactions(params, T)
    assert np.mean(conditional) == pytest.approx(
        increment, abs=4 * np.std(conditional) / np.sqrt(n)
    )


def test_probability_alive_averages_to_survival_probability():
    rng = np.random.default_rng(12)
    T = 30.0
    x, t_x, T_arr = btyd.simulate_pareto_nbd(PNBD, 200_000, T, rng)
    alive = btyd.probability_alive(PNBD, x, t_x, T_arr)
    survival = (PNBD["beta"] / (PNBD["beta"] + T)) ** PNBD["s"]  # E[exp(-mu T)]
    assert np.mean(alive) == pytest.approx(survival, abs=4 * np.std(alive) / np.sqrt(alive.size))

    x, t_x, T_arr = btyd.simulate_bgnbd(BGNBD, 200_000, T, rng)
    alive = btyd.probability_alive(BGNBD, x, t_x, T_arr)
    r, alpha, a, b = (BGNBD[k] for k in ("r", "alpha", "a", "b"))
    # Alive at T means no drop-out at any of the N(T) repeat purchases: E[(1-p)^N(T)].
    survival = integrate.quad(
        lambda p: (alpha / (alpha + p * T)) ** r * stats.beta.pdf(p, a, b), 0, 1
    )[0]
    assert np.mean(alive) == pytest.approx(survival, abs=4 * np.std(alive) / np.sqrt(alive.size))


def test_expected_spend_shrinks_towards_population_mean():
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    population = params["p"] * params["gamma"] / (params["q"] - 1)
    spend = btyd.conditional_expected_spend(params, [0, 1, 50], [np.nan, 100.0, 100.0])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 100.0
    assert spend[2] == pytest.approx(100.0, rel=0.02)


# --------------------------------------------------------------------------- round trips


def _assert_within_3_se(fit: btyd.FitResult, truth: dict[str, float]) -> None:
    assert fit.converged, fit.message
    for name, value in truth.items():
        assert abs(fit.params[name] - value) < 3 * fit.std_errors[name], (name, fit.params)


def _cohort_T(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weeks observed by a cohort joining on the days of 12 weeks, like CDNOW's."""
    return (272 - rng.integers(0, 84, n)) / 7


def test_pareto_nbd_round_trip():
    rng = np.random.default_rng(2024)
    T = _cohort_T(rng, 5000)
    fit = btyd.fit_pareto_nbd(*btyd.simulate_pareto_nbd(PNBD, 5000, T, rng))
    _assert_within_3_se(fit, PNBD)


def test_bgnbd_round_trip():
    rng = np.random.default_rng(2024)
    T = _cohort_T(rng, 5000)
    fit = btyd.fit_bgnbd(*btyd.simulate_bgnbd(BGNBD, 5000, T, rng))
    _assert_within_3_se(fit, BGNBD)


def test_gamma_gamma_round_trip():
    truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    rng = np.random.default_rng(2024)
    x = rng.integers(1, 8, 3000)
    nu = rng.gamma(truth["q"], 1 / truth["gamma"], x.size)
    monetary = rng.gamma(truth["p"] * x, 1 / nu) / x  # mean of x Gamma(p, nu) spends
    _assert_within_3_se(btyd.fit_gamma_gamma(x, monetary), truth)


def test_degenerate_data_is_reported_as_not_converged():
    nobody_returns = (np.zeros(500), np.zeros(500), np.full(500, 39.0))
    for fit in (btyd.fit_bgnbd(*nobody_returns), btyd.fit_pareto_nbd(*nobody_returns)):
        assert not fit.converged
        assert fit.message


# --------------------------------------------------------------------------- posterior draws


@pytest.mark.parametrize(("x", "t_x", "T"), [(3, 10.0, 39.0), (0, 0.0, 39.0), (12, 36.0, 38.0)])
def test_pareto_posterior_draws_match_closed_forms(x, t_x, T):
    n, horizon = 100_000, 39.0
    rng = np.random.default_rng(7)
    same = (np.full(n, x), np.full(n, t_x), np.full(n, T))
    alive, lam, mu = btyd.sample_pareto_nbd_posterior(PNBD, *same, rng)
    # Transactions in (T, T + horizon] of a customer alive at T: lam (1 - exp(-mu h)) / mu.
    future = np.where(alive, lam * -np.expm1(-mu * horizon) / mu, 0.0)
    expected = float(btyd.conditional_expected_transactions(PNBD, horizon, x, t_x, T))
    assert future.mean() == pytest.approx(expected, rel=0.03)


def test_pooled_pareto_posterior_draws_reproduce_the_prior():
    """Averaged over histories drawn from the model, posterior draws are prior draws.

    This checks the dead branch (death time, then lam and mu given it): drawing the death time
    at t_x or uniformly on (t_x, T) fails it by dozens of orders of magnitude.
    """
    rng = np.random.default_rng(3)
    x, t_x, T = btyd.simulate_pareto_nbd(PNBD, 20_000, 39.0, rng)
    alive, lam, mu = btyd.sample_pareto_nbd_posterior(PNBD, x, t_x, T, rng)
    assert stats.kstest(lam, stats.gamma(PNBD["r"], scale=1 / PNBD["alpha"]).cdf).pvalue > 1e-3
    assert stats.kstest(mu, stats.gamma(PNBD["s"], scale=1 / PNBD["beta"]).cdf).pvalue > 1e-3
    survival = (PNBD["beta"] / (PNBD["beta"] + 39.0)) ** PNBD["s"]
    assert alive.mean() == pytest.approx(survival, abs=4 * np.sqrt(survival / alive.size))


def test_death_time_sampler_handles_extreme_histories():
    """Heavy buyers with tiny alpha concentrate the death time just after t_x."""
    params = {"r": 1.0, "alpha": 0.2, "s": 1.0, "beta": 40.0}
    rng = np.random.default_rng(8)
    x, t_x, T = np.full(2000, 60.0), np.full(2000, 1.0), np.full(2000, 39.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alive, lam, mu = btyd.sample_pareto_nbd_posterior(params, x, t_x, T, rng)
    assert np.all(np.isfinite(lam)) and np.all(np.isfinite(mu)) and np.all(lam > 0)
    # 60 purchases by week 1, then silence: she died just after t_x, so lambda's posterior is
    # Gamma(r + x, alpha + tau) with tau near 1 (a death time spread over (1, 39) gives ~3)
    assert not alive.any()
    assert lam.mean() == pytest.approx((params["r"] + 60) / (params["alpha"] + 1.0), rel=0.05)


def test_gamma_gamma_posterior_mean_is_conditional_expected_spend():
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    rng = np.random.default_rng(9)
    n = 200_000
    for x, m in ((0, np.nan), (3, 40.0)):
        nu = btyd.sample_gamma_gamma_posterior(params, np.full(n, x), np.full(n, m), rng)
        mean_spend = params["p"] / nu
        assert mean_spend.mean() == pytest.approx(
            float(btyd.conditional_expected_spend(params, x, m)),
            abs=4 * mean_spend.std() / np.sqrt(n),
        )
