"""Auger 2020 spectrum: integral anchors and the slopes of sampled energies."""
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from crayfis.sim.spectrum import AUGER_2020, EEV

BANDS = [(1 * EEV, 5 * EEV, 3.29), (5 * EEV, 13 * EEV, 2.51), (13 * EEV, 46 * EEV, 3.05),
         (46 * EEV, 1000 * EEV, 5.1)]


def neg_log_likelihood(gamma, x, ratio):
    """Power law E^-gamma truncated to [a, b]; x = E / a, ratio = b / a."""
    norm = (gamma - 1.0) / (1.0 - ratio ** (1.0 - gamma))
    return -(x.size * np.log(norm) - gamma * np.log(x).sum())


def fit_index(e, a, b):
    x, ratio = e / a, b / a
    res = minimize_scalar(neg_log_likelihood, bounds=(1.05, 9.0), args=(x, ratio),
                          method="bounded", options={"xatol": 1e-6})
    h = 1e-3  # curvature of the log-likelihood -> standard error
    curv = (neg_log_likelihood(res.x + h, x, ratio) - 2 * res.fun
            + neg_log_likelihood(res.x - h, x, ratio)) / h**2
    return res.x, 1.0 / np.sqrt(curv)


def test_integral_rates_match_the_published_figures():
    assert AUGER_2020.rate_per_km2_yr(1 * EEV) == pytest.approx(85.0)
    assert AUGER_2020.rate_per_km2_yr(10 * EEV) == pytest.approx(0.9, rel=0.05)
    assert AUGER_2020.rate_per_km2_yr(100 * EEV) == pytest.approx(1e-3, rel=0.2)


@pytest.mark.parametrize("a,b,gamma", BANDS)
def test_fitted_index_in_each_band(a, b, gamma):
    e = AUGER_2020.sample(40000, a, b, np.random.default_rng(int(gamma * 100)))
    assert e.min() >= a and e.max() < b
    fitted, sigma = fit_index(e, a, b)
    assert sigma < 0.05
    assert abs(fitted - gamma) < 5 * sigma, (fitted, sigma)


def test_band_fractions_of_a_wide_sample():
    n = 200000
    e = AUGER_2020.sample(n, 1 * EEV, 1000 * EEV, np.random.default_rng(9))
    edges = [1 * EEV, 5 * EEV, 13 * EEV, 46 * EEV, 1000 * EEV]
    counts = np.histogram(e, edges)[0]
    total = AUGER_2020.rate_per_km2_yr(1 * EEV, 1000 * EEV)
    p = np.array([AUGER_2020.rate_per_km2_yr(lo, hi) for lo, hi in zip(edges, edges[1:])]) / total
    chi2 = ((counts - n * p) ** 2 / (n * p)).sum()
    assert chi2 < 3 + 5 * np.sqrt(6)  # 3 degrees of freedom


def test_range_checks():
    with pytest.raises(ValueError):
        AUGER_2020.sample(10, 0.5 * EEV, 10 * EEV, np.random.default_rng(0))
    with pytest.raises(ValueError):
        AUGER_2020.rate_per_km2_yr(10 * EEV, 5 * EEV)
