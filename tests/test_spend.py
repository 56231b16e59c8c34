"""A purchase's spend draw: exactly Gamma whatever the shape, each a function of its own three
uniforms, and exact inversion wherever the fast method rejects or does not apply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaincinv

from sim.population import GammaSpend

N = 400_000


def uniforms(seed: int, n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = np.random.default_rng(seed).random((3, n))
    return u[0], u[1], u[2]


@pytest.mark.parametrize("shape", [0.4, 1.0, 1.7, 6.25, 60.0])
def test_draws_are_gamma_distributed(shape):
    rate = 2.5
    draws = GammaSpend(shape)(*uniforms(1), rate)
    assert stats.kstest(draws, stats.gamma(shape, scale=1 / rate).cdf).pvalue > 1e-3
    assert draws.mean() == pytest.approx(shape / rate, rel=0.01)


def test_most_draws_are_accepted_and_the_rest_invert_their_own_uniform():
    u_normal, u_accept, u_inverse = uniforms(2)
    draws = GammaSpend(6.25)(u_normal, u_accept, u_inverse, 1.0)
    inverted = gammaincinv(6.25, u_inverse)
    by_inversion = np.isclose(draws, inverted, rtol=1e-12)
    assert 0.002 < by_inversion.mean() < 0.01  # Marsaglia-Tsang accepts 99.5% at 6.25
    # log(e) = 1 lies above every acceptance bound (they are <= 0): all fall back
    always_rejected = GammaSpend(6.25)(u_normal, np.full(N, np.e), u_inverse, 1.0)
    np.testing.assert_array_equal(always_rejected, inverted)
    # below shape 1 the method does not hold: every draw is the inversion
    np.testing.assert_array_equal(
        GammaSpend(0.4)(u_normal, u_accept, u_inverse, 2.0), gammaincinv(0.4, u_inverse) / 2.0
    )


def test_a_draw_depends_on_its_own_uniforms_only():
    """One customer's spend must not move with who else bought that day."""
    u_normal, u_accept, u_inverse = uniforms(3, 1000)
    rate = np.linspace(0.5, 3.0, 1000)
    spend = GammaSpend(6.25)
    together = spend(u_normal, u_accept, u_inverse, rate)
    alone = [
        spend(u_normal[i : i + 1], u_accept[i : i + 1], u_inverse[i : i + 1], rate[i])[0]
        for i in range(0, 1000, 37)
    ]
    np.testing.assert_array_equal(together[::37], alone)
    assert np.isfinite(together).all() and (together > 0).all()
