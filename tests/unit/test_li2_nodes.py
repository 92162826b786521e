"""Li2 trained networks: Adam under the ridge top layer against autograd, per-node energies against
Theorem 2's E*, and the stage rule on constructed checkpoints."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grokscope.groups import cyclic, parse_group
from grokscope.li2 import (
    component_maxima,
    li2_objective,
    network_stages,
    node_energies,
    ridge_top,
    train_ridge_adam,
)
from grokscope.li2._empirical import sample_pairs
from grokscope.li2._stage1 import hidden_features


def test_adam_run_equals_torch_adam_on_the_autograd_gradient_with_v_at_its_ridge_solution():
    from grokscope.models._li2 import Li2, Li2Config

    g, frac, k, eta, lr, wd, seed = cyclic(7), 0.6, 12, 1e-2, 1e-2, 1e-3, 0
    run = train_ridge_adam(g, fraction=frac, hidden=k, eta=eta, lr=lr, weight_decay=wd, steps=3, eval_every=1, seed=seed)
    pairs = sample_pairs(g, frac, seed)
    a, b = pairs[:, 0], pairs[:, 1]
    c = g.table[a, b]
    net = Li2(Li2Config(p=7, d_hidden=k), dtype=torch.float64).init_(seed=seed)
    w = torch.cat([net.mlp.W_in_a.detach(), net.mlp.W_in_b.detach()], 0).clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr, weight_decay=wd)
    for step in range(3):
        _, f = hidden_features(w[:7].detach(), w[7:].detach(), a, b, "x2")
        v = ridge_top(f, F.one_hot(c, 7).double(), eta)  # V held at its ridge solution (envelope theorem)
        opt.zero_grad()
        ((2.0 / len(c)) * li2_objective(w[:7], w[7:], v, a, b, c, "x2", eta)).backward()
        opt.step()
        s, wa, wb = run.checkpoints[step + 1]
        assert s == step + 1
        assert torch.allclose(torch.cat([wa, wb]), w.detach(), rtol=1e-10, atol=1e-13)


def test_node_energy_of_a_single_frequency_node_is_theorem_2s_maximum_with_any_phases_and_amplitudes():
    m, k = 13, 5
    g = torch.arange(m, dtype=torch.float64)
    u = 0.3 * torch.cos(2 * math.pi * k * g / m + 0.7)
    v = 2.0 * torch.cos(2 * math.pi * k * g / m - 1.1)
    rand = torch.randn(m, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = node_energies(cyclic(m), torch.stack([u, rand[:, 0]], 1), torch.stack([v, rand[:, 1]], 1))
    # E(w/|w|) at ‖u‖ ≠ ‖v‖ is M/4 · 4‖u‖²‖v‖²/(‖u‖² + ‖v‖²)², the maximum only when ‖u‖ = ‖v‖
    nu, nv = float(u.pow(2).sum()), float(v.pow(2).sum())
    assert math.isclose(float(r["energy"][0]), m / 4 * 4 * nu * nv / (nu + nv) ** 2, rel_tol=1e-10)
    assert r["labels"][int(r["label"][0])] == "k=±5" and float(r["e_star"][0]) == m / 4
    assert math.isclose(float(r["purity"][0]), 1.0, rel_tol=1e-12) and float(r["purity"][1]) < 0.9
    d5 = parse_group("dihedral:5")
    w = component_maxima(d5, [2, 2], seed=0)  # two maxima inside the 2-dimensional ρ2
    r = node_energies(d5, w[:, :10].T, w[:, 10:].T)
    assert torch.allclose(r["ratio"], torch.ones(2, dtype=torch.float64), rtol=1e-6)  # E* = M/(2 d_k) = 2.5


def test_stage_rule_on_constructed_checkpoints():
    grp, m, k = cyclic(11), 11, 16
    gen = torch.Generator().manual_seed(0)
    w_a, w_b = torch.randn(2, m, k, generator=gen, dtype=torch.float64) / math.sqrt(3 * m)
    step1 = (w_a * 1.05, w_b * 1.05)  # moved 5%: lazy
    noise = torch.randn(2, m, k, generator=gen, dtype=torch.float64) / math.sqrt(3 * m)
    step2 = (w_a + noise[0], w_b + noise[1])  # moved ~100%, no node at a maximum
    feat = component_maxima(grp, [3, 3, 3], seed=1)  # three maxima in k=±3
    one_a, one_b = step2[0].clone(), step2[1].clone()
    one_a[:, 0], one_b[:, 0] = feat[0, :m], feat[0, m:]  # one emerged node: not yet a learned irrep
    three_a, three_b = one_a.clone(), one_b.clone()
    three_a[:, 1:3], three_b[:, 1:3] = feat[1:, :m].T, feat[1:, m:].T
    cps = [(0, w_a, w_b), (1, *step1), (2, *step2), (3, one_a, one_b), (4, three_a, three_b)]
    st = network_stages(grp, cps, records=[{"step": 4, "test_acc": 0.5}])
    assert [r["stage"] for r in st.rows] == ["I", "I", "II", "II", "III"]
    assert [r["emerged"] for r in st.rows] == [0, 0, 0, 1, 3]
    assert st.rows[-1]["learned"] == ["k=±3"] and st.rows[-1]["test_acc"] == 0.5
    assert len(st.final_nodes) == k and st.final_nodes[0]["label"] == "k=±3"
    assert math.isclose(st.final_nodes[0]["ratio"], 1.0, rel_tol=1e-6)
