"""grokscope.fit against references: generating parameters, closed-form least squares, hand-computed AIC/BIC.

Synthetic data come from each law with known parameters and small multiplicative noise, so
the references are the generating values, never the code's earlier output.
"""

import json
import math

import numpy as np
import pytest

from grokscope.errors import AnalysisError, ConfigError
from grokscope.fit import (
    LAWS, Comparison, Estimate, FitError, FitResult, compare, fit, percentile_interval, resample, resamples,
)

TRUTH = {  # law: (x, true parameters in the law's order)
    "power_law": (np.logspace(0, 3, 30), {"a": 3.0, "g": 0.8}),
    "power_law_offset": (np.logspace(0, 2, 30), {"a": 40.0, "g": 1.5, "c": 2.0}),
    "shifted_power_law": (np.linspace(1.0, 10.0, 30), {"a": 10.0, "g": 1.2, "x0": 0.8}),
    "broken_power_law": (np.logspace(0, 2, 30), {"a": 2.0, "g1": 0.5, "g2": 2.0, "xb": 10.0}),
}


def _truth_y(law, x, p):
    a = p["a"]
    if law == "power_law":
        return a * x ** -p["g"]
    if law == "power_law_offset":
        return a * x ** -p["g"] + p["c"]
    if law == "shifted_power_law":
        return a * (x - p["x0"]) ** -p["g"]
    return a * np.where(x < p["xb"], (x / p["xb"]) ** -p["g1"], (x / p["xb"]) ** -p["g2"])


@pytest.mark.parametrize("law", list(TRUTH))
def test_each_law_recovers_its_generating_parameters(law):
    x, p = TRUTH[law]
    y = _truth_y(law, x, p) * np.random.default_rng(1).lognormal(0.0, 0.02, x.size)
    f = fit(law, x, y, n_boot=200, seed=0)
    assert list(f.params) == list(p) == list(LAWS[law].params)
    for name, true in p.items():
        est = f.params[name]
        assert est.lo <= true <= est.hi, (name, est)
        assert est == pytest.approx(true, rel=0.1), (name, est)
    assert f.n_points == x.size and f.residuals.shape == (x.size,)
    assert f.bootstrap == "points" and f.n_boot == 200 and f.level == 0.95


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_power_law_equals_closed_form_log_log_least_squares(noise):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 50.0, 25)
    y = 1.7 * x**-0.6 * np.exp(noise * rng.standard_normal(x.size))
    A = np.stack([np.ones_like(x), np.log(x)], axis=1)
    (intercept, slope), rss, *_ = np.linalg.lstsq(A, np.log(y), rcond=None)
    f = fit("power_law", x, y)
    assert f.params["g"] == pytest.approx(-slope, rel=1e-12, abs=1e-12)
    assert f.params["a"] == pytest.approx(math.exp(intercept), rel=1e-12)
    if noise:
        assert f.rss == pytest.approx(rss[0], rel=1e-10)
        np.testing.assert_allclose(f.residuals, np.log(y) - A @ [intercept, slope], atol=1e-12)


def test_aic_bic_and_loo_against_hand_computation():
    # log x = 0, 1, 2, 3 and log y = 0, 1, 1, 2: the line is 0.1 + 0.6 log x (slope 3/5),
    # residuals -0.1, 0.3, -0.3, 0.1, so RSS = 0.2 with n = 4 and k = 2 free parameters.
    x, y = np.exp([0.0, 1.0, 2.0, 3.0]), np.exp([0.0, 1.0, 1.0, 2.0])
    f = fit("power_law", x, y, loo=True)
    assert f.params["g"] == pytest.approx(-0.6) and f.params["a"] == pytest.approx(math.exp(0.1))
    assert f.rss == pytest.approx(0.2)
    assert f.aic == pytest.approx(4 * math.log(0.2 / 4) + 2 * 3)
    assert f.bic == pytest.approx(4 * math.log(0.2 / 4) + 3 * math.log(4))
    # leave-one-out by numpy's own polyfit on the three other points
    lx, ly = np.log(x), np.log(y)
    err = []
    for i in range(4):
        keep = np.arange(4) != i
        s, c = np.polyfit(lx[keep], ly[keep], 1)
        err.append(c + s * lx[i] - ly[i])
    assert f.loo == pytest.approx(math.sqrt(np.mean(np.square(err))), rel=1e-10)


def test_group_bootstrap_resamples_whole_groups():
    # Four groups, each an identical copy of one noisy curve: drawing whole groups always gives
    # the same multiset of distinct points, hence the same fit, so the interval collapses; drawing
    # single points does not.
    x1 = np.logspace(0, 2, 8)
    y1 = 2.0 * x1**-1.0 * np.random.default_rng(3).lognormal(0.0, 0.2, x1.size)
    x, y, groups = np.tile(x1, 4), np.tile(y1, 4), np.repeat(np.arange(4), x1.size)
    by_group = fit("power_law", x, y, groups=groups, n_boot=100, seed=0)
    by_point = fit("power_law", x, y, n_boot=100, seed=0)
    g = by_group.params["g"]
    assert g.lo == pytest.approx(float(g), abs=1e-12) and g.hi == pytest.approx(float(g), abs=1e-12)
    assert by_point.params["g"].hi - by_point.params["g"].lo > 0.05
    assert by_group.bootstrap == "groups"


def test_resampling_draws_and_strata():
    rng = np.random.default_rng(0)
    ref = np.random.default_rng(0)
    assert resample(rng, 5).tolist() == ref.integers(0, 5, 5).tolist()      # points: n uniform draws
    strata = [np.array([0, 1, 2]), np.array([3, 4])]
    idx = resample(np.random.default_rng(1), 5, strata=strata)
    assert set(idx[:3]) <= {0, 1, 2} and set(idx[3:]) <= {3, 4}           # each stratum keeps its size
    a = [r.tolist() for r in resamples(3, 6, groups=[0, 0, 1, 1, 2, 2], seed=7)]
    b = [r.tolist() for r in resamples(3, 6, groups=[0, 0, 1, 1, 2, 2], seed=np.random.default_rng(7))]
    assert a == b and all(len(r) == 6 for r in a)
    # percentiles: numpy's linear interpolation between order statistics
    assert percentile_interval(np.arange(101.0), 0.9) == pytest.approx((5.0, 95.0))
    assert all(math.isnan(v) for v in percentile_interval([1.0, np.nan], 0.9))


@pytest.mark.parametrize("law", list(TRUTH))
def test_comparison_picks_the_generating_law(law):
    x, p = TRUTH[law]
    picked = 0
    for s in range(10):
        y = _truth_y(law, x, p) * np.random.default_rng(100 + s).lognormal(0.0, 0.02, x.size)
        c = compare(x, y, loo=False)
        # the power law is nested in all the others: only the penalty on parameters can pick it,
        # and BIC's is the one sized for that; the other laws differ in shape and AIC sees it
        picked += c.best_by("bic" if law == "power_law" else "aic") == law
    assert picked >= (7 if law == "power_law" else 9)


def test_comparison_fits_the_same_points_and_serializes():
    x = np.concatenate([[-1.0, 0.0], np.logspace(0, 2, 12)])
    y = np.concatenate([[1.0, 1.0], 5.0 * np.logspace(0, 2, 12) ** -1.0])
    c = compare(x, y, ["power_law", "shifted_power_law"])
    assert {f.n_points for f in c.fits.values()} == {12}                    # x <= 0 has no log for the power law
    assert isinstance(c, Comparison) and c.best in c.fits
    json.dumps(c.to_dict(), allow_nan=False)


def test_fixed_parameter_and_definition():
    D = np.array([3.0, 4.0, 6.0, 9.0, 13.0])
    f = fit("shifted_power_law", D, 7.0 / (D - 2.5), fixed={"g": 1.0})
    assert f.k == 2 and f.fixed == ("g",)
    assert f.params["x0"] == pytest.approx(2.5, abs=1e-6) and f.params["a"] == pytest.approx(7.0, rel=1e-6)
    assert "(x - x0)^-g" in f.definition and "log y" in f.definition and "g = 1 held fixed" in f.definition
    with pytest.raises(FitError, match=r"power_law_offset can hold fixed only: none"):
        fit("power_law_offset", D, 7.0 / D, fixed={"c": 0.0})


def test_result_is_jsonable_and_estimates_are_floats():
    x = np.logspace(0, 2, 10)
    f = fit("power_law", x, 2 * x**-0.5, n_boot=20)
    d = json.loads(json.dumps(f.to_dict(), allow_nan=False))
    assert d["params"]["g"]["value"] == pytest.approx(0.5) and d["law"] == "power_law"
    e = Estimate(1.5, 1.0, 2.0, 0.9)
    assert e * 2 == 3.0 and e.value == 1.5 and e.covers(1.2) and not e.covers(2.5)
    assert isinstance(f, FitResult) and f.predict([4.0])[0] == pytest.approx(1.0)


def test_too_few_points_and_bad_input_are_one_line_fit_errors():
    with pytest.raises(FitError, match=r"3 usable points .* need at least 4 distinct x to fit 3 parameters"):
        fit("power_law_offset", [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    with pytest.raises(FitError, match=r"need at least 6 distinct x"):
        fit("broken_power_law", [1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.0])
    with pytest.raises(FitError, match=r"level=1.0: must be"):
        fit("power_law", [1.0, 2.0], [1.0, 2.0], level=1.0)
    with pytest.raises(FitError, match=r"law='cubic': must be one of power_law"):
        fit("cubic", [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(FitError, match=r"x has 2 values but y has 3"):
        fit("power_law", [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(FitError, match=r"seed=-1"):
        fit("power_law", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_boot=2, seed=-1)
    assert issubclass(FitError, AnalysisError) and issubclass(FitError, ConfigError)


def test_old_names_are_the_new_types():
    from grokscope.analysis import Fit, ModelComparison, compare_fits

    assert Fit is FitResult and ModelComparison is Comparison
    D = np.linspace(600, 1800, 10)
    fits, c = compare_fits(D, 3e6 / (D - 500) * np.random.default_rng(6).lognormal(0, 0.03, D.size), loo=False)
    assert set(fits) == {"shifted_power", "shifted_power_nu1", "power_offset"}
    assert list(fits["shifted_power"].params) == ["A", "nu", "D_c"] and "here a = A" in fits["shifted_power"].definition
