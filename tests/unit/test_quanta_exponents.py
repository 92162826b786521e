"""Scaling exponents on trained networks (grokscope.quanta._exponents), against trusted references:
a known power law with offset, the quantization model's closed forms, and exact enumeration of
the whole-seed bootstrap."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from grokscope.errors import AnalysisError, ConfigError
from grokscope.fit import fit
from grokscope.quanta._exponent_figures import (
    exponent_figure,
    learned_count_figure,
    trap_overlay,
)
from grokscope.quanta._exponents import (
    exponents_from_points,
    fit_exponent,
    predicted_count_exponent,
    predicted_exponent,
)


@pytest.mark.parametrize("alpha", [0.3, 0.6, 1.0, 2.5])
def test_predictions_are_the_quantization_models_closed_forms(alpha):
    # Michaud et al. 2023, §2: L ∝ N^-α; L ∝ D^-α/(α+1) and S^-α/(α+1); n ∝ N, n ∝ D^(1/(α+1))
    assert predicted_exponent("N", alpha) == alpha
    assert predicted_exponent("D", alpha) == pytest.approx(alpha / (alpha + 1), rel=1e-15)
    assert predicted_exponent("S", alpha) == pytest.approx(alpha / (alpha + 1), rel=1e-15)
    assert predicted_count_exponent("N", alpha) == 1.0
    assert predicted_count_exponent("D", alpha) == pytest.approx(1 / (alpha + 1), rel=1e-15)


def test_the_data_exponent_is_the_zipf_tail_summed():
    # n = D^(1/(α+1)) quanta learned leave the tail Σ_{k>n} k^-(α+1), which falls as D^(-α/(α+1))
    alpha = 1.0
    k = np.arange(1, 10**7, dtype=float) ** -(alpha + 1)
    tail = lambda n: k[n:].sum()  # (the sum beyond 10^7 is 1e-7, < 0.1% of these tails)
    n1, n2 = 10**2, 10**3
    slope = -math.log(tail(n2) / tail(n1)) / math.log((n2 / n1) ** (alpha + 1))
    assert slope == pytest.approx(predicted_exponent("D", alpha), abs=0.005)


def test_bad_alpha_and_key_are_one_line_errors():
    with pytest.raises(ConfigError, match="alpha"):
        predicted_exponent("N", 0.0)
    with pytest.raises(ConfigError, match="key"):
        predicted_exponent("T", 0.5)


def _synthetic(a, g, c, seeds, xs, noise, rng):
    pts = []
    for s in range(seeds):
        shift = rng.normal(0, noise, xs.size)
        for x, e in zip(xs, shift):
            pts.append({"key": "N", "alpha": g, "x": float(x), "seed": s, "loss": (a * x**-g + c) * math.exp(e)})
    return pts


def test_a_known_power_law_with_offset_is_recovered_by_the_pipeline():
    rng = np.random.default_rng(1)
    xs = np.geomspace(100, 1e5, 8)
    a, g, c = 40.0, 0.6, 0.05
    pts = _synthetic(a, g, c, 4, xs, 0.02, rng)
    ex = exponents_from_points(pts, n_boot=300, seed=0)
    (f,) = ex.fits
    assert f.key == "N" and f.predicted == pytest.approx(0.6)
    assert f.exponent["lo"] <= g <= f.exponent["hi"]
    assert f.exponent["value"] == pytest.approx(g, abs=0.05)
    assert f.offset["value"] == pytest.approx(c, abs=0.01)
    assert f.covers_prediction is True
    assert all(f.holds) and f.holds_range == [xs[0], xs[-1]]
    # local slopes of the seed mean minus the fitted offset are close to g everywhere
    assert np.allclose(f.local_slopes, g, atol=0.1)
    ex.to_json()  # JSON-able


def test_noise_free_law_is_exact_and_a_broken_range_is_flagged():
    xs = np.geomspace(10, 1e4, 10)
    y = 3.0 * xs**-0.5 + 0.1
    f = fit_exponent("D", 1.0, xs, y, np.zeros(xs.size), n_boot=0)
    assert f.exponent["value"] == pytest.approx(0.5, rel=1e-4) and f.offset["value"] == pytest.approx(0.1, rel=1e-3)
    assert f.predicted == 0.5
    # beyond x = 1000 the loss stops falling at the law's rate (a plateau): the fit no longer holds there
    y2 = np.where(xs > 1000, 3.0 * 1000**-0.5 + 0.1 + 0.5, y)
    f2 = fit_exponent("D", 1.0, xs, y2, np.zeros(xs.size), n_boot=0)
    assert not all(f2.holds)


def test_the_bootstrap_resamples_whole_seeds_exact_enumeration():
    # Two seeds, each an exact power law with its own exponent (no offset within a seed's noise).
    # Resampling whole seeds can only give {0,0}, {1,1} or {0,1}: three possible estimates, each the
    # fit to seed 0 alone, seed 1 alone, or both (a duplicated point set has the same least-squares
    # optimum). A bootstrap over points would give many other values.
    xs = np.geomspace(10, 1e4, 6)
    ys = [5.0 * xs**-0.4 + 0.02, 5.0 * xs**-0.7 + 0.02]
    x = np.concatenate([xs, xs])
    y = np.concatenate(ys)
    s = np.repeat([0, 1], xs.size)
    f = fit_exponent("N", 0.5, x, y, s, n_boot=200, seed=3)
    possible = [float(fit("power_law_offset", xs, ys[0]).params["g"]),
                float(fit("power_law_offset", xs, ys[1]).params["g"]),
                float(fit("power_law_offset", x, y).params["g"])]
    assert f.fit["bootstrap"] == "groups" and f.n_seeds == 2
    lo, hi = f.exponent["lo"], f.exponent["hi"]
    assert any(lo == pytest.approx(p, rel=1e-6) for p in possible)
    assert any(hi == pytest.approx(p, rel=1e-6) for p in possible)
    assert lo == pytest.approx(min(possible), rel=1e-6) and hi == pytest.approx(max(possible), rel=1e-6)


def test_learned_counts_and_figures():
    rng = np.random.default_rng(0)
    xs = np.geomspace(100, 1e4, 5)
    pts = _synthetic(20.0, 0.5, 0.02, 3, xs, 0.01, rng)
    for p in pts:
        p["n_learned"] = round(0.01 * p["x"])  # n ∝ N^1
    for p in pts[:5]:
        q = dict(p, key="S")
        q.pop("n_learned")
        pts.append(q)
    ex = exponents_from_points(pts, n_boot=50)
    (c,) = ex.learned
    assert c.key == "N" and c.exponent["value"] == pytest.approx(1.0, abs=0.05)
    assert c.per_seed[0] == [1, 1, 1]
    assert isinstance(exponent_figure(ex), Figure) and isinstance(learned_count_figure(ex), Figure)
    grid = np.geomspace(1, 1e4, 9)
    study = SimpleNamespace(arrays={"S": grid, "F_median_mu0.5": grid**-0.5, "N_grid": grid, "F_N": grid**-0.25,
                                    "D_grid": grid, "F_D": grid**-0.5})
    theory = trap_overlay(study, 0.5)
    assert np.array_equal(theory["N"][1], grid**-0.25)
    fig = exponent_figure(ex, theory)
    assert len(fig.axes) == 4  # F(S), F(N) and the simulator's own x axis on F(N)


def test_no_points_is_an_analysis_error():
    with pytest.raises(AnalysisError, match="no points"):
        exponents_from_points([])
