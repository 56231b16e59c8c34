"""Buy-till-you-die models: likelihoods, maximum-likelihood fits, expectations, posterior draws.

These calibrate the simulated population to a store's history. Customers are summarised by
(x, t_x, T) as in `sim.transactions.summarise`: x repeat transactions, the last at t_x, observed
for T time units since the first purchase.

* BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", parameters
  r, alpha (purchase rate ~ Gamma(r, rate alpha)) and a, b (drop-out probability after each
  repeat purchase ~ Beta(a, b)).
* Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie (2005),
  "A note on deriving the Pareto/NBD model and related expressions": lambda ~ Gamma(r, alpha),
  lifetime ~ Exponential(mu), mu ~ Gamma(s, rate beta).
* Gamma-Gamma spend: Fader, Hardie & Lee (2005), "RFM and CLV": a transaction's spend is
  Gamma(p, rate nu), nu ~ Gamma(q, rate gamma); fitted on repeat buyers' mean repeat spend.

Everything works in log space (gammaln, betaln, logaddexp) because individual likelihood terms
under- and overflow for heavy buyers. Parameters are plain mappings such as FitResult.params;
the functions that serve both count models tell them apart by their keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.special import betaln, expit, gammaln, hyp2f1

__all__ = [
    "FitResult",
    "bgnbd_log_likelihood",
    "conditional_expected_spend",
    "conditional_expected_transactions",
    "expected_transactions",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "gamma_gamma_log_likelihood",
    "pareto_nbd_log_likelihood",
    "probability_alive",
    "sample_gamma_gamma_posterior",
    "sample_pareto_nbd_posterior",
    "simulate_bgnbd",
    "simulate_pareto_nbd",
]

Params = Mapping[str, float]
FloatArray = NDArray[np.float64]

BGNBD_PARAMS = ("r", "alpha", "a", "b")
PARETO_NBD_PARAMS = ("r", "alpha", "s", "beta")
GAMMA_GAMMA_PARAMS = ("p", "q", "gamma")

# Optimisation runs in log-parameters inside these bounds; an optimum on a bound means the
# model wants a degenerate parameter (e.g. no drop-out at all) and is reported as such.
_LOG_BOUND = 15.0


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit. `converged` is False whenever the optimum is not trustworthy
    (optimiser failure, parameter on a bound, Hessian not positive definite); `message` says
    which. Standard errors come from the inverse Hessian in the natural parameters."""

    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    converged: bool
    message: str
    n: int


# --------------------------------------------------------------------------- data checks


def _rft(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (x, t_x, T) as broadcast float arrays: wrong histories give wrong fits silently."""
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    if np.any(~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T)):
        raise ValueError("x, t_x and T must be finite")
    if np.any((x < 0) | (x != np.round(x))):
        raise ValueError("x must be non-negative whole numbers (repeat transactions)")
    if np.any((t_x < 0) | (t_x > T)):
        raise ValueError("need 0 <= t_x <= T for every customer")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x must be 0 for customers without repeat transactions (x = 0)")
    return x, t_x, T


def _spend_data(x: ArrayLike, monetary: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Repeat buyers only: the spend model conditions on x > 0 transactions' mean spend."""
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(monetary, dtype=float))
    keep = x > 0
    if np.any(~np.isfinite(m[keep]) | (m[keep] <= 0)):
        raise ValueError(
            "monetary must be positive and finite for customers with x > 0 (pass summarise's "
            "x_spend, the number of repeat transactions with positive spend, as x)"
        )
    return x[keep], m[keep]


def _model(params: Params) -> str:
    """Which count model a parameter mapping belongs to."""
    if all(k in params for k in BGNBD_PARAMS):
        return "bgnbd"
    if all(k in params for k in PARETO_NBD_PARAMS):
        return "pareto_nbd"
    raise ValueError(
        f"params {sorted(params)} are neither BG/NBD {BGNBD_PARAMS} "
        f"nor Pareto/NBD {PARETO_NBD_PARAMS}"
    )


# --------------------------------------------------------------------------- likelihoods


def bgnbd_log_likelihood(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6)."""
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    x, t_x, T = _rft(x, t_x, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    # Dropped out right after the x-th repeat purchase; impossible without one.
    with np.errstate(invalid="ignore", divide="ignore"):
        dropped = np.where(x > 0, betaln(a + 1, b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return common + np.logaddexp(alive, dropped)


_CF_FROM_Z = 0.8  # above this argument scipy's hyp2f1 can be wrong, see _hyp2f1_one
_CF_MAX_TERMS = 5_000  # enough for 1 - z down to ~1e-5


def _gauss_continued_fraction(b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """2F1(1, b; c; z) for 0 <= z < 1, c > b > 0, by Gauss's continued fraction.

    With a = 0 the contiguous ratio 2F1(a+1, b; c; z) / 2F1(a, b; c-1; z) is the function itself
    and every partial numerator -k_j z is negative, so the fraction has no cancellation and
    no special cases at integer parameters. It needs about 15 / sqrt(1 - z) terms (modified
    Lentz); arguments too close to 1 for _CF_MAX_TERMS give NaN rather than a wrong value.
    """
    out = np.full_like(z, np.nan)
    idx = np.flatnonzero(15.0 / np.sqrt(1.0 - z) < _CF_MAX_TERMS)
    e, b, z = c[idx] - 1.0, b[idx], z[idx]  # e is Gauss's c in 2F1(a+1, b; c+1) / 2F1(a, b; c)
    value, big_c, small_d = np.ones_like(z), np.ones_like(z), np.zeros_like(z)
    for j in range(1, _CF_MAX_TERMS + 1):
        if not idx.size:
            break
        i = (j - 1) // 2
        if j % 2:
            k = (e + i) * (b + i) / ((e + 2 * i) * (e + 2 * i + 1))
        else:
            k = (e - b + 1 + i) * (i + 1) / ((e + 2 * i + 1) * (e + 2 * i + 2))
        small_d = 1.0 / (1.0 - k * z * small_d)
        big_c = 1.0 - k * z / big_c
        delta = big_c * small_d
        value *= delta
        done = np.abs(delta - 1.0) <= 1e-15
        if done.any():
            out[idx[done]] = 1.0 / value[done]
            keep = ~done
            idx, e, b, z = idx[keep], e[keep], b[keep], z[keep]
            value, big_c, small_d = value[keep], big_c[keep], small_d[keep]
    return out


def _hyp2f1_one(b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """2F1(1, b; c; z) for 0 <= z < 1, c > b > 0.

    scipy's hyp2f1 is fast and accurate for moderate z, but close to z = 1 it can be badly
    wrong (inf, NaN or off by orders of magnitude) when c - b is near an integer, which here
    means r + x or s + 1 near an integer: r = 1 or s = 1 in a configuration does that.
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    shape = z.shape
    out = np.array(hyp2f1(1.0, b, c, z), ndmin=1)
    far = np.array(z > _CF_FROM_Z, ndmin=1)
    if far.any():
        b, c, z = (np.array(v, ndmin=1) for v in (b, c, z))
        out[far] = _gauss_continued_fraction(b[far], c[far], z[far])
    return out.reshape(shape)


def _pareto_log_a0(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log A_0 of Fader & Hardie's Pareto/NBD note (eq. 19-20), A_0 = F(t_x) - F(T).

    With B, S the larger and smaller of alpha, beta and p_B, p_S the exponents attached to them
    in the death-time integrand (alpha+tau)^-(r+x) (beta+tau)^-(s+1), the note's term is
    F(t) = 2F1(c, p_S; c+1; z) / (B+t)^c with c = r+s+x and z = (B-S)/(B+t) in [0, 1): the
    alpha >= beta and alpha < beta branches. Euler's transformation turns it into
    F(t) = 2F1(1, p_B; c+1; z) (S+t)^-(p_S-1) (B+t)^-p_B, whose hypergeometric factor stays
    moderate even for heavy buyers (large x), where the note's form overflows.
    """
    if alpha >= beta:
        big, small, p_big, p_small = alpha, beta, r + x, np.full_like(x, s + 1.0)
    else:
        big, small, p_big, p_small = beta, alpha, np.full_like(x, s + 1.0), r + x
    c = r + s + x

    def log_term(t: FloatArray) -> FloatArray:
        z = (big - small) / (big + t)
        log_h = np.log(_hyp2f1_one(p_big, c + 1.0, z))
        return log_h - (p_small - 1.0) * np.log(small + t) - p_big * np.log(big + t)

    at_tx, at_T = log_term(t_x), log_term(T)
    with np.errstate(divide="ignore"):
        return at_tx + np.log(-np.expm1(np.minimum(at_T - at_tx, 0.0)))


def _pareto_log_parts(
    params: Params, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log of the common factor, of 'alive at T' and of 'died in (t_x, T)' likelihood terms."""
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s / (r + s + x)) + _pareto_log_a0(r, alpha, s, beta, x, t_x, T)
    return common, alive, died


def pareto_nbd_log_likelihood(
    params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eq. 18-20)."""
    x, t_x, T = _rft(x, t_x, T)
    common, alive, died = _pareto_log_parts(params, x, t_x, T)
    return common + np.logaddexp(alive, died)


def gamma_gamma_log_likelihood(params: Params, x: ArrayLike, monetary: ArrayLike) -> FloatArray:
    """Per-repeat-buyer log density of the mean repeat spend (Fader, Hardie & Lee 2005b).

    Customers with x = 0 carry no spend information and are left out of the result.
    """
    p, q, gamma = (params[k] for k in GAMMA_GAMMA_PARAMS)
    x, m = _spend_data(x, monetary)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


# --------------------------------------------------------------------------- fitting


def _derivatives(
    f: Callable[[FloatArray], float], theta: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Central-difference gradient and Hessian with relative steps (stay in the positive orthant).

    A relative step of 1e-4 balances truncation error (h^2) against rounding in a sum of many
    log-likelihood terms (eps * |f| / h^2); checked against scipy.differentiate.hessian.
    """
    k = theta.size
    h = 1e-4 * theta
    f0 = f(theta)
    grad, hess = np.empty(k), np.empty((k, k))
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        up, down = f(theta + ei), f(theta - ei)
        grad[i] = (up - down) / (2.0 * h[i])
        hess[i, i] = (up - 2.0 * f0 + down) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            hess[i, j] = hess[j, i] = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4.0 * h[i] * h[j])
    return grad, hess


def _fit(
    names: tuple[str, ...],
    log_lik: Callable[[Params], FloatArray],
    starts: list[FloatArray],
    n: int,
) -> FitResult:
    """Maximise a likelihood from several starts in log-parameters; judge convergence honestly.

    The optimiser sees the mean negative log-likelihood per customer: with the sum, gradients
    of thousands throw L-BFGS-B's first line search onto the bounds, where it stops at once
    and reports success.
    """

    def mean_nll(log_theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            theta = np.exp(log_theta)
            value = -float(np.sum(log_lik(dict(zip(names, theta, strict=True))))) / n
        return value if np.isfinite(value) else 1e300

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    runs = [
        optimize.minimize(
            mean_nll,
            np.log(start),
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8},
        )
        for start in starts
    ]
    best = min(runs, key=lambda res: res.fun)
    theta = np.exp(best.x)
    params = dict(zip(names, theta.tolist(), strict=True))
    agree = sum(abs(res.fun - best.fun) * n < 1e-3 for res in runs)

    with np.errstate(all="ignore"):
        grad, hess = _derivatives(lambda th: n * mean_nll(np.log(th)), theta)
    problems = []
    if not best.success:
        problems.append(f"optimiser did not converge ({best.message})")
    at_bound = [nm for nm, v in zip(names, best.x, strict=True) if abs(v) > _LOG_BOUND - 1e-3]
    if at_bound:
        problems.append(f"parameter(s) {', '.join(at_bound)} at the search bound (degenerate)")
    # Gradient in log-parameters per customer: scale-free, ~1e-6 at a genuine optimum.
    if not np.max(np.abs(grad * theta)) / n < 1e-4:
        problems.append("gradient not zero at the reported optimum")
    eigenvalues = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
    if np.all(eigenvalues > 0):
        std_errors = dict(zip(names, np.sqrt(np.diag(np.linalg.inv(hess))).tolist(), strict=True))
    else:
        problems.append("Hessian not positive definite: not a proper maximum, no standard errors")
        std_errors = dict.fromkeys(names, float("nan"))

    converged = not problems
    message = (
        f"converged; {agree} of {len(runs)} starts reached the best optimum"
        if converged
        else "; ".join(problems)
    )
    return FitResult(params, std_errors, -n * float(best.fun), converged, message, n)


def _count_starts(x: FloatArray, T: FloatArray, death: tuple[float, float]) -> list[FloatArray]:
    """Starting points: unit values, and a moment guess for the purchase rate r/alpha."""
    rate = max(float(np.mean(x) / np.mean(T)), 1e-3)
    return [
        np.array([1.0, 1.0, *death]),
        np.array([1.0, 1.0 / rate, *death]),
        np.array([0.5, 0.5 / rate, 0.5 * death[0], 2.0 * death[1]]),
    ]


def _distinct_histories(
    x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Distinct (x, t_x, T) rows and their counts: with whole-day dates most one-time buyers
    share a history, so the likelihood is evaluated a fraction as often."""
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FitResult:
    """Maximum-likelihood BG/NBD parameters (r, alpha, a, b)."""
    x, t_x, T = _rft(x, t_x, T)
    ux, ut, uT, counts = _distinct_histories(x, t_x, T)
    return _fit(
        BGNBD_PARAMS,
        lambda p: counts * bgnbd_log_likelihood(p, ux, ut, uT),
        _count_starts(x, T, (1.0, 3.0)),
        x.size,
    )


def fit_pareto_nbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FitResult:
    """Maximum-likelihood Pareto/NBD parameters (r, alpha, s, beta)."""
    x, t_x, T = _rft(x, t_x, T)
    ux, ut, uT, counts = _distinct_histories(x, t_x, T)
    return _fit(
        PARETO_NBD_PARAMS,
        lambda p: counts * pareto_nbd_log_likelihood(p, ux, ut, uT),
        _count_starts(x, T, (1.0, float(np.mean(T)))),
        x.size,
    )


def fit_gamma_gamma(x: ArrayLike, monetary: ArrayLike) -> FitResult:
    """Maximum-likelihood Gamma-Gamma spend parameters (p, q, gamma) on repeat buyers (x > 0).

    x counts the transactions averaged in monetary: summarise's x_spend.
    """
    xs, m = _spend_data(x, monetary)
    mean = float(np.mean(m))
    starts = [np.array([1.0, 1.0, 1.0]), np.array([2.0, 3.0, mean]), np.array([5.0, 5.0, mean])]
    return _fit(GAMMA_GAMMA_PARAMS, lambda p: gamma_gamma_log_likelihood(p, xs, m), starts, xs.size)


# --------------------------------------------------------------------------- expectations


def _one_minus_pow_over(k: float, log_ratio: FloatArray) -> FloatArray:
    """(1 - exp(-k * log_ratio)) / k, continuous through k = 0 (the s = 1 case)."""
    if abs(k) < 1e-12:
        return log_ratio
    return -np.expm1(-k * log_ratio) / k


def expected_transactions(params: Params, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat transactions of a new customer in the t after her first purchase.

    BG/NBD: FHL (2005) eq. 7. Pareto/NBD: Fader & Hardie note eq. 17. Both closed forms
    remain valid below a = 1 and s = 1, where the naive moment E[1/p] does not exist.
    The BG/NBD forms rely on scipy's hyp2f1 at z = t / (alpha + t); checked against quadrature
    to 1e-9, except that with r - a an exact integer and t beyond ~300 alpha hyp2f1 can be off.
    """
    t = np.asarray(t, dtype=float)
    if _model(params) == "bgnbd":
        r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
        z = t / (alpha + t)
        # Euler's transformation keeps 2F1 bounded: (1-z)^r 2F1(r, b; a+b-1; z)
        # = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b-1; z).
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1.0 - tail)
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    return r * beta / alpha * _one_minus_pow_over(s - 1, np.log1p(t / beta))


def probability_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(customer is still active at T | x, t_x, T)."""
    x, t_x, T = _rft(x, t_x, T)
    if _model(params) == "bgnbd":
        r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_dead = np.where(
                x > 0,
                np.log(a / (b + x - 1)) + (r + x) * np.log((alpha + T) / (alpha + t_x)),
                -np.inf,
            )
        return expit(-log_odds_dead)
    _, alive, died = _pareto_log_parts(params, x, t_x, T)
    return expit(alive - died)


def conditional_expected_transactions(
    params: Params, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected transactions in (T, T + t] given the customer's history.

    BG/NBD: FHL (2005) eq. 10. Pareto/NBD: Fader & Hardie note eq. 22.
    """
    t = np.asarray(t, dtype=float)
    x, t_x, T = _rft(x, t_x, T)
    alive = probability_alive(params, x, t_x, T)
    if _model(params) == "bgnbd":
        r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
        z = t / (alpha + T + t)
        # Euler's transformation again: ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; c; z)
        # = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z) with c = a+b+x-1.
        c = a + b + x - 1
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        return c / (a - 1) * (1.0 - tail) * alive
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    rate = (r + x) * (beta + T) / (alpha + T)
    return rate * _one_minus_pow_over(s - 1, np.log1p(t / (beta + T))) * alive


def conditional_expected_spend(params: Params, x: ArrayLike, monetary: ArrayLike) -> FloatArray:
    """E[spend per transaction | x, mean repeat spend]; the population mean when x = 0.

    The posterior mean of p/nu: a weighted average of the population mean p*gamma/(q-1) and
    the customer's own mean, weighted by how many repeat transactions she has (needs q > 1).
    """
    p, q, gamma = (params[k] for k in GAMMA_GAMMA_PARAMS)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(monetary, dtype=float))
    total = x * np.where(x > 0, m, 0.0)  # monetary is undefined (NaN) without repeat spend
    return p * (gamma + total) / (p * x + q - 1)


# --------------------------------------------------------------------------- posterior draws


def _truncated_power_draw(
    u: FloatArray, exponent: FloatArray, shift: FloatArray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """Inverse-CDF draw from density proportional to (shift + tau)^-exponent on (lo, hi)."""
    w = 1.0 - exponent
    log_span = np.log((shift + hi) / (shift + lo))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(np.abs(w) < 1e-12, u * log_span, np.log1p(u * np.expm1(w * log_span)) / w)
    return np.minimum((shift + lo) * np.exp(rho) - shift, hi)


def _sample_death_time(
    params: Params,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    """Exact draws of tau in (t_x, T) with density proportional to
    (alpha+tau)^-(r+x) (beta+tau)^-(s+1), by rejection sampling.

    Propose from one factor (a truncated power law, drawn by inverse CDF) and accept with the
    other factor relative to its value at t_x, which is its maximum. Each customer proposes
    from the factor whose worst-case acceptance ratio is larger, so rejection stays cheap.
    """
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    exp_a, exp_b = r + x, np.full_like(x, s + 1.0)
    worst_if_propose_a = exp_b * np.log((beta + t_x) / (beta + T))
    worst_if_propose_b = exp_a * np.log((alpha + t_x) / (alpha + T))
    use_a = worst_if_propose_a >= worst_if_propose_b
    prop_exp = np.where(use_a, exp_a, exp_b)
    prop_shift = np.where(use_a, alpha, beta)
    acc_exp = np.where(use_a, exp_b, exp_a)
    acc_shift = np.where(use_a, beta, alpha)

    tau = np.empty_like(x)
    todo = np.arange(x.size)
    while todo.size:
        u = rng.random(todo.size)
        cand = _truncated_power_draw(u, prop_exp[todo], prop_shift[todo], t_x[todo], T[todo])
        shift = acc_shift[todo]
        log_accept = -acc_exp[todo] * np.log((shift + cand) / (shift + t_x[todo]))
        ok = np.log(rng.random(todo.size)) < log_accept
        tau[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return tau


def sample_pareto_nbd_posterior(
    params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, rng: np.random.Generator
) -> tuple[NDArray[np.bool_], FloatArray, FloatArray]:
    """One joint posterior draw per customer of (alive at T, lambda, mu) under Pareto/NBD.

    A digital twin started at T from these draws continues its real counterpart's history
    exactly as the model predicts. Alive: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T).
    Dead: the death time tau is drawn from its posterior on (t_x, T), then
    lambda ~ Gamma(r+x, alpha+tau), mu ~ Gamma(s+1, beta+tau) (rates; numpy takes scales).
    """
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    x, t_x, T = _rft(x, t_x, T)
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    alive = rng.random(x.size) < probability_alive(params, x, t_x, T)
    horizon = T.copy()
    dead = ~alive
    horizon[dead] = _sample_death_time(params, x[dead], t_x[dead], T[dead], rng)
    lam = rng.gamma(r + x, 1.0 / (alpha + horizon))
    mu = rng.gamma(np.where(alive, s, s + 1.0), 1.0 / (beta + horizon))
    return alive, lam, mu


def sample_gamma_gamma_posterior(
    params: Params, x: ArrayLike, monetary: ArrayLike, rng: np.random.Generator
) -> FloatArray:
    """One posterior draw per customer of the spend rate nu (a transaction costs Gamma(p, nu)).

    Conjugate update: nu ~ Gamma(p*x + q, rate gamma + x*monetary) for repeat buyers, the
    prior Gamma(q, gamma) when x = 0.
    """
    p, q, gamma = (params[k] for k in GAMMA_GAMMA_PARAMS)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(monetary, dtype=float))
    total = x * np.where(x > 0, m, 0.0)
    return rng.gamma(p * x + q, 1.0 / (gamma + total))


# --------------------------------------------------------------------------- simulation


def simulate_pareto_nbd(
    params: Params, n: int, T: ArrayLike, rng: np.random.Generator
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Draw (x, t_x, T) for n customers from the Pareto/NBD with known parameters.

    T is one observation length or one per customer. Given the number of purchases k in
    (0, min(tau, T)), the last one sits at min(tau, T) times the maximum of k uniforms.
    """
    r, alpha, s, beta = (params[k] for k in PARETO_NBD_PARAMS)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    with np.errstate(divide="ignore"):  # mu can underflow to 0: an immortal customer
        active = np.minimum(rng.exponential(size=n) / mu, T)
    x = rng.poisson(lam * active)
    with np.errstate(divide="ignore"):
        t_x = np.where(x > 0, active * rng.random(n) ** (1.0 / x), 0.0)
    return x.astype(np.int64), t_x, T


def simulate_bgnbd(
    params: Params, n: int, T: ArrayLike, rng: np.random.Generator
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Draw (x, t_x, T) for n customers from the BG/NBD with known parameters.

    The customer drops out right after her D-th repeat purchase, D ~ Geometric(p), so
    x = min(N(T), D) for the Poisson count N(T); the x-th of N(T) uniform arrival times in
    (0, T) is T times a Beta(x, N(T) - x + 1) draw.
    """
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)  # p = 0 would mean never dropping out
    purchases = rng.poisson(lam * T)
    x = np.minimum(purchases, rng.geometric(p))
    t_x = np.zeros(n)
    some = x > 0
    t_x[some] = T[some] * rng.beta(x[some], purchases[some] - x[some] + 1)
    return x.astype(np.int64), t_x, T
