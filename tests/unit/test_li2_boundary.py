"""Theorem 4's measurement (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning
Dynamics of Grokking"): the starting maxima are Theorem 2's, the full table keeps every one, the
bisection's bracket is what it claims, and the c·ln M/M law is fitted exactly on exact data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.fit import compare, fit
from grokscope.groups import cyclic, dihedral, irreps, parse_group
from grokscope.li2 import (
    LN_OVER_M,
    Energy,
    component_maxima,
    critical_fraction,
    kept_maxima,
)

F64 = torch.float64


@pytest.mark.parametrize("spec", ["cyclic:10", "dihedral:5", "symmetric:3"])
def test_starting_points_are_theorem_2_maxima_in_their_component(spec):
    """E* = M/(2 d_k) for real irreps, M/(4 d_k) for complex pairs (Tian's M/(8d_k), M/(16d_k), ×4)."""
    g = parse_group(spec)
    table = irreps(g)
    comps = [c for c, comp in enumerate(table.components) if not table.irreps[comp[0]].is_trivial]
    w = component_maxima(g, comps, seed=1)
    e = Energy(g, dtype=F64)(w)
    for c, val in zip(comps, e.tolist()):
        comp = table.components[c]
        d = table.irreps[comp[0]].dim
        expected = g.order / (4 * d) if len(comp) == 2 else g.order / (2 * d)
        assert val == pytest.approx(expected, rel=1e-8)


def test_the_full_table_keeps_every_maximum():
    r = kept_maxima(cyclic(31), 1.0, seed=0, max_components=6)
    assert r.n == 31 ** 2 and r.share_kept == 1.0 and min(r.purity) > 1 - 1e-9


def test_dihedral_full_table_keeps_its_maxima():
    r = kept_maxima(dihedral(6), 1.0, seed=2)
    assert r.share_kept == 1.0 and len(r.labels) == len(irreps(dihedral(6)).components) - 1


def test_bisection_bracket_holds_on_re_measurement():
    """``hi`` keeps at least half of the maxima, ``lo`` fewer, and p* lies between them."""
    g = cyclic(19)
    p, lo, hi, probes = critical_fraction(g, seed=1, iters=3, max_components=6)
    assert lo < p < hi and p == pytest.approx(math.sqrt(lo * hi))
    assert len(probes) >= 4  # the first probe at 1/2, then three bisection steps
    # measured again from scratch (same seed: same training prefix, same components and starting maxima)
    assert kept_maxima(g, hi, seed=1, max_components=6).share_kept >= 0.5
    assert kept_maxima(g, lo, seed=1, max_components=6).share_kept < 0.5


def test_ln_over_m_law_recovers_c_and_wins_on_its_own_data():
    m = np.array([23.0, 31, 41, 53, 71, 97])
    y = 4.2 * np.log(m) / m
    f = fit(LN_OVER_M, m, y)
    assert f.params["c"] == pytest.approx(4.2, rel=1e-12) and f.rss < 1e-25
    noisy = y * np.exp(0.01 * np.sin(np.arange(6)))
    c = compare(m, noisy, {"ln": (LN_OVER_M, {}), "pow": ("power_law", {})})
    assert c.best == "ln"
