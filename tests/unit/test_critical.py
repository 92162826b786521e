"""D_c, nu and the model comparison recover known values from synthetic sweeps.

The synthetic data are generated from the laws with known parameters and multiplicative
(log-normal) noise, so the references are the generating values, not the code's output.
"""

import math

import numpy as np
import pytest

from grokscope.analysis._critical import _half_crossing, _isotonic_increasing, critical_data_size, plot_critical
from grokscope.analysis._fits import compare_fits, fit_power_offset, fit_shifted_power
from grokscope.errors import AnalysisError


def synthetic_sweep(rng, sizes, seeds, D_c, nu, A, sigma):
    """Members at each size; below D_c they never generalize, above it t = A (D - D_c)^-nu * lognormal."""
    x = np.repeat(np.asarray(sizes, float), seeds)
    t = np.full(x.size, np.inf)
    up = x > D_c
    t[up] = A * (x[up] - D_c) ** -nu * rng.lognormal(0.0, sigma, up.sum())
    return x, t


@pytest.mark.parametrize("D_c,nu", [(500.0, 1.0), (300.0, 0.6), (0.2, 2.0)])
def test_shifted_power_recovers_parameters(D_c, nu):
    rng = np.random.default_rng(3)
    D = np.linspace(D_c * 1.2 + 50, D_c * 4 + 400, 12) if D_c > 1 else np.linspace(0.25, 0.9, 12)
    t = 1e4 * (D - D_c) ** -nu * rng.lognormal(0, 0.02, D.size)
    f = fit_shifted_power(D, t)
    span = D.max() - D.min()
    assert abs(f.params["D_c"] - D_c) < 0.05 * span
    assert abs(f.params["nu"] - nu) < 0.1 * nu


def test_shifted_power_exact_data_with_fixed_nu():
    D = np.array([3.0, 4.0, 6.0, 9.0, 13.0])
    f = fit_shifted_power(D, 7.0 / (D - 2.5), nu=1.0)
    assert f.params["D_c"] == pytest.approx(2.5, abs=1e-6)
    assert f.params["A"] == pytest.approx(7.0, rel=1e-6)
    assert f.k == 2


def test_power_offset_recovers_parameters():
    rng = np.random.default_rng(4)
    r = np.linspace(0.15, 0.95, 12)
    t = (40 * r**-1.5 + 200) * rng.lognormal(0, 0.01, r.size)
    f = fit_power_offset(r, t)
    assert f.params["gamma"] == pytest.approx(1.5, rel=0.1)
    assert f.params["b"] == pytest.approx(200, rel=0.1)
    assert f.params["a"] == pytest.approx(40, rel=0.2)


def test_comparison_picks_the_generating_law():
    rng = np.random.default_rng(5)
    D = np.linspace(0.3, 0.9, 10)
    picked_shift = picked_offset = 0
    for _ in range(10):
        t_shift = 300 * (D - 0.25) ** -1.6 * rng.lognormal(0, 0.03, D.size)
        _, cmp_ = compare_fits(D, t_shift, loo=False)
        picked_shift += cmp_.best == "shifted_power"
        t_off = (50 * D**-3.0 + 400) * rng.lognormal(0, 0.03, D.size)
        _, cmp_ = compare_fits(D, t_off, loo=False)
        picked_offset += cmp_.best == "power_offset"
    assert picked_shift >= 9
    assert picked_offset >= 9


def test_comparison_prefers_nu1_when_it_is_true_and_loo_agrees():
    rng = np.random.default_rng(6)
    D = np.linspace(600, 1800, 10)
    t = 3e6 / (D - 500) * rng.lognormal(0, 0.03, D.size)
    fits, cmp_ = compare_fits(D, t)
    assert cmp_.best in ("shifted_power", "shifted_power_nu1")
    assert cmp_.loo_rmse["power_offset"] > min(cmp_.loo_rmse["shifted_power"], cmp_.loo_rmse["shifted_power_nu1"])
    # the AIC of the nested nu=1 model pays one fewer parameter: closed form n log(rss/n) + 2(k+1)
    f1 = fits["shifted_power_nu1"]
    assert f1.aic == pytest.approx(D.size * np.log(f1.rss / D.size) + 2 * 3)


def test_isotonic_and_half_crossing_by_hand():
    # PAVA on [0, .4, .2, 1] with equal weights pools .4 and .2 into .3
    np.testing.assert_allclose(_isotonic_increasing(np.array([0, .4, .2, 1.]), np.ones(4)), [0, .3, .3, 1])
    # pooled values 0.3 at x=2 and x=3, then 1.0 at x=4: crossing at 3 + 0.2/0.7
    assert _half_crossing(np.array([1., 2, 3, 4]), np.array([0, .4, .2, 1.]), np.ones(4)) == pytest.approx(3 + 0.2 / 0.7)
    assert np.isnan(_half_crossing(np.array([1., 2]), np.array([0., .2]), np.ones(2)))


def test_critical_recovers_dc_and_nu_with_intervals():
    rng = np.random.default_rng(7)
    sizes = np.linspace(600, 1800, 13)
    x, t = synthetic_sweep(rng, sizes, 9, D_c=500.0, nu=1.0, A=3e6, sigma=0.15)
    res = critical_data_size(x, t, n_boot=300, seed=1)
    lo, hi = res.d_c_fit_ci
    assert lo <= 500.0 <= hi and hi - lo < 400
    assert res.nu_ci[0] <= 1.0 <= res.nu_ci[1]
    # no budget: every member above D_c generalizes, so the threshold sits below the first size
    assert res.d_c_threshold == pytest.approx(600.0)
    assert res.n_gen.tolist() == [9] * 13


def test_no_point_fit_means_no_interval_even_when_some_resamples_fit():
    # Three sizes where most seeds generalize and a fourth where 4 of 9 do: no fit of the law
    # (it needs 4 sizes), but resamples that draw 5 generalizing seeds at D=500 would fit one.
    rng = np.random.default_rng(9)
    x, t = synthetic_sweep(rng, [600.0, 700.0, 800.0], 9, D_c=450.0, nu=1.0, A=1e5, sigma=0.1)
    x = np.concatenate([x, np.full(9, 500.0)])
    t = np.concatenate([t, [2e3] * 4 + [np.inf] * 5])
    res = critical_data_size(x, t, n_boot=200, seed=3)
    assert not res.fits and res.n_boot_failed < res.n_boot  # the situation the interval must not hide
    for v in (res.nu, *res.nu_ci, res.d_c_fit, *res.d_c_fit_ci, res.gamma, *res.gamma_ci):
        assert math.isnan(v)
    assert "no fit" in res.summary() and "nu =" not in res.summary()


def test_threshold_matches_the_budget_limited_closed_form():
    # With budget T, half the seeds (median = A (D - D_c)^-nu, log-normal noise) generalize at
    # D* = D_c + (A / T)^(1/nu). Dense sizes and many seeds make the interpolation close to it.
    rng = np.random.default_rng(8)
    D_c, nu, A, T = 200.0, 1.0, 1e6, 5e3
    sizes = np.arange(300, 520, 10.0)
    x, t = synthetic_sweep(rng, sizes, 41, D_c, nu, A, sigma=0.3)
    res = critical_data_size(x, t, budget=T, n_boot=100, seed=2)
    d_star = D_c + (A / T) ** (1 / nu)
    assert res.d_c_threshold == pytest.approx(d_star, abs=12)
    assert res.d_c_threshold_ci[0] - 10 <= d_star <= res.d_c_threshold_ci[1] + 10
    assert res.d_c_threshold > D_c   # the operational threshold is above the asymptotic D_c


def test_interval_coverage_of_nu():
    # A 90% interval should cover the true nu in most replicates (loose bound: few replicates).
    covered = 0
    for rep in range(8):
        rng = np.random.default_rng(100 + rep)
        x, t = synthetic_sweep(rng, np.linspace(0.3, 0.9, 9), 9, D_c=0.2, nu=1.5, A=50.0, sigma=0.2)
        res = critical_data_size(x, t, n_boot=120, ci=0.9, seed=rep)
        covered += res.nu_ci[0] <= 1.5 <= res.nu_ci[1]
    assert covered >= 6


def test_nonfinite_and_diverged_members_count_as_not_generalized(tmp_path):
    x = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 4)
    t = np.where(x > 1.5, 100 / np.maximum(x - 1, 1e-9), np.inf)
    t[[4, 5, 6]] = np.nan         # three of four seeds at x=2 diverged: the median there is undefined
    res = critical_data_size(x, t, n_boot=0)
    assert res.n_gen.tolist() == [0, 1, 4, 4, 4, 4]
    assert np.isinf(res.t_median[1])
    assert res.d_c_threshold == pytest.approx(2 + (0.5 - 0.25) / 0.75)
    fig = plot_critical(res, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_bad_input_raises_one_line_errors():
    with pytest.raises(AnalysisError, match="must pair up"):
        critical_data_size([1, 2, 3], [1, 2])
    with pytest.raises(AnalysisError, match="distinct data size"):
        critical_data_size([1, 1], [2, 3])
    with pytest.raises(AnalysisError, match="need at least 4"):
        fit_shifted_power([1, 2, 3], [3, 2, 1])
    with pytest.raises(AnalysisError, match="ci=1.5"):
        critical_data_size([1, 2], [1, 2], ci=1.5)


# ----------------------------------------------------------------------------- phase maps
from grokscope.analysis._phasemap import member_phase, phase_map, plot_phase_map, point_table  # noqa: E402


def _members():
    # 2 weight decays x 2 data sizes x 2 learning rates x 3 seeds, written out by hand
    rows = []
    table = {
        (0.1, 100): ["memorization", "memorization", "grokking"],
        (0.1, 200): ["grokking", "grokking", "comprehension"],
        (1.0, 100): ["confusion", "confusion", "confusion"],
        (1.0, 200): ["comprehension", "comprehension", "grokking"],
    }
    point = 0
    for (wd, d), phases in table.items():
        for lr in (1e-3, 1e-2):
            for s, ph in enumerate(phases):
                gen = None if ph in ("memorization", "confusion") else 1000 * (s + 1) + (lr == 1e-2)
                rows.append({"point": point, "seed": s, "run_id": 1, "member": s, "phase": ph, "gen_step": gen,
                             "mem_step": 10, "diverged": (wd, d, lr, s) == (0.1, 200, 1e-2, 0),
                             "values": {"wd": wd, "D": d, "lr": lr}})
            point += 1
    return rows


def test_diverged_member_counts_as_diverged():
    assert member_phase({"phase": "grokking", "diverged": True}) == "diverged"
    assert member_phase({"phase": "weird"}) == "unknown"


def test_phase_map_cells_by_explicit_enumeration(tmp_path):
    ms = _members()
    pm = phase_map(ms, "wd", "D", where={"lr": 1e-3})
    assert pm.xs == [0.1, 1.0] and pm.ys == [100, 200] and pm.pooled == []
    assert pm.counts[(0.1, 100)] == {"grokking": 1, "memorization": 2}
    assert pm.counts[(1.0, 100)] == {"confusion": 3}
    assert pm.median_steps[(0.1, 200)] == 2000.0           # gen steps 1000, 2000, 3000
    assert math.isnan(pm.median_steps[(1.0, 100)])
    pooled = phase_map(ms, "wd", "D")
    assert pooled.pooled == ["lr"]
    # lr=1e-2 at (0.1, 200): seed 0 diverged, so 5 of 6 generalized; steps 1000,2000,3000,2001,3001
    assert pooled.counts[(0.1, 200)] == {"comprehension": 2, "grokking": 3, "diverged": 1}
    assert pooled.n_generalized[(0.1, 200)] == 5 and pooled.median_steps[(0.1, 200)] == 2001.0
    fig = plot_phase_map(pooled, tmp_path / "pm.png")
    assert (tmp_path / "pm.png").stat().st_size > 10_000
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_point_table_distribution_over_seeds():
    rows = point_table(_members())
    assert len(rows) == 8 and all(r["n"] == 3 for r in rows)
    r = rows[3]                                              # (0.1, 200), lr=1e-2
    assert r["values"] == {"wd": 0.1, "D": 200, "lr": 1e-2}
    assert r["counts"] == {"grokking": 1, "comprehension": 1, "diverged": 1}
    assert r["frac_generalized"] == pytest.approx(2 / 3)
    assert r["median_gen_step"] == pytest.approx(2501.0)


def test_phase_map_bad_keys():
    with pytest.raises(AnalysisError, match="not a swept key"):
        phase_map(_members(), "wd", "width")
    with pytest.raises(AnalysisError, match="both 'wd'"):
        phase_map(_members(), "wd", "wd")
    with pytest.raises(AnalysisError, match="no trained members"):
        phase_map([], "wd", "D")
