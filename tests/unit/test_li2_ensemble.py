"""The Li2 ensemble trainer against the plain reference: member i of ``train_ridge_adam_ensemble`` is
``train_ridge_adam`` run alone for that member (float64), whether or not other members leave early."""

from __future__ import annotations

import math

import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.groups import cyclic, parse_group
from grokscope.li2 import Member, train_ridge_adam, train_ridge_adam_ensemble


def _alone(group, mem: Member, steps: int, **kw):
    """``(W [2M, K], records)`` of ``train_ridge_adam`` for one member (one seed for pairs and init)."""
    run = train_ridge_adam(group, fraction=mem.fraction, seed=mem.seed, steps=steps, **kw)
    _, w_a, w_b = run.checkpoints[-1]
    return torch.cat([w_a, w_b]), [(r["step"], r["train_acc"], r["test_acc"]) for r in run.records]


@pytest.mark.parametrize(("spec", "hidden", "eta"), [("cyclic:11", 24, 1e-2), ("dihedral:4", 40, 1e-2),
                                                   ("cyclic:11", 24, 0.0)])
def test_every_member_equals_train_ridge_adam_run_alone(spec, hidden, eta):
    # cyclic:11, K = 24: every member has n > K (the [K, K] ridge system), sizes 36, 60, 97 padded to 97;
    # dihedral:4 (M = 8), K = 40: n = 19, 32, 38 < K (the [n, n] push-through system); eta = 0: the
    # minimum-norm least squares through a pseudo-inverse (the padded rows are zeros in its Gram matrix)
    g = parse_group(spec)
    members = [Member(0.3, 2), Member(0.5, 0), Member(0.8, 1)] if spec.startswith("cyclic") else \
        [Member(0.3, 0), Member(0.5, 1), Member(0.6, 3)]
    kw = {"hidden": hidden, "eta": eta, "lr": 1e-2, "weight_decay": 1e-3, "eval_every": 5}
    run = train_ridge_adam_ensemble(g, members, steps=30, keep_weights=True, **kw)
    assert len({m["n_train"] for m in run.members}) == 3
    for i, mem in enumerate(members):
        w, records = _alone(g, mem, 30, **kw)
        assert torch.allclose(run.weights[i], w, rtol=1e-10, atol=1e-12)
        got = run.members[i]["records"]
        assert [r[0] for r in got] == [r[0] for r in records]
        for (_, tr, te), (_, tr0, te0) in zip(got, records):
            assert math.isclose(tr, tr0, abs_tol=1e-10) and math.isclose(te, te0, abs_tol=1e-10)
    assert run.member_steps == run.member_steps_full == 90


def test_eta_zero_with_more_nodes_than_pairs_follows_the_run_alone():
    # K = 40 > n: at eta = 0 the push-through system F̃F̃ᵀ has rank n - 1 (it crashed the solver before the
    # pseudo-inverse was shared with ridge_top); the minimum-norm solution amplifies the rounding in which
    # the batched and the single computation differ (4.6e-7 after 30 steps for a member without padding),
    # so the agreement asked here is 1e-5, not the 1e-10 of the eta > 0 cases above
    g = parse_group("dihedral:4")
    members = [Member(0.3, 0), Member(0.5, 1), Member(0.6, 3)]
    kw = {"hidden": 40, "eta": 0.0, "lr": 1e-2, "weight_decay": 1e-3, "eval_every": 5}
    run = train_ridge_adam_ensemble(g, members, steps=30, keep_weights=True, **kw)
    for i, mem in enumerate(members):
        w, _ = _alone(g, mem, 30, **kw)
        assert torch.allclose(run.weights[i], w, rtol=0, atol=1e-5), i


def test_init_seed_separates_the_init_from_the_training_pairs():
    g = cyclic(7)
    run = train_ridge_adam_ensemble(g, [Member(0.6, 0), Member(0.6, 0, init_seed=5)], hidden=8, steps=0,
                                    keep_weights=True)
    assert run.members[0]["n_train"] == run.members[1]["n_train"]
    assert not torch.allclose(run.weights[0], run.weights[1])
    w5 = train_ridge_adam(g, fraction=0.6, hidden=8, steps=0, seed=5).checkpoints[0]
    assert torch.equal(run.weights[1], torch.cat([w5[1], w5[2]]))


def test_leaving_early_changes_neither_the_survivors_nor_the_leaver():
    # Z_11, 90% of the pairs generalizes within ~100 steps at lr 0.05; 30% memorizes
    g, steps = cyclic(11), 200
    members = [Member(0.9, 0), Member(0.3, 1), Member(0.9, 2), Member(0.4, 3)]
    kw = {"hidden": 32, "eta": 2e-4, "lr": 5e-2, "weight_decay": 1e-4, "eval_every": 10}
    stay = train_ridge_adam_ensemble(g, members, steps=steps, keep_weights=True, **kw)
    leave = train_ridge_adam_ensemble(g, members, steps=steps, keep_weights=True, leave_window=20, **kw)
    left = [i for i, m in enumerate(leave.members) if m["left_step"] is not None]
    assert left and len(left) < len(members)  # some left, some stayed
    assert leave.member_steps < stay.member_steps == steps * len(members)
    for i, m in enumerate(leave.members):
        if m["left_step"] is None:  # a survivor: the same run as without anyone leaving
            assert torch.allclose(leave.weights[i], stay.weights[i], rtol=1e-12, atol=1e-14)
            flat = lambda recs: [x for r in recs for x in r]
            assert flat(m["records"]) == pytest.approx(flat(stay.members[i]["records"]), abs=1e-12)
        else:  # the leaver: held >= 0.99 for 20 steps, its W as train_ridge_adam's at that step
            s = m["left_step"]
            assert m["steps_trained"] == s and s - m["gen_step"] >= 20
            assert all(te >= 0.99 for step, _, te in m["records"] if step >= s - 20)
            w, _ = _alone(g, members[i], s, **kw)
            assert torch.allclose(leave.weights[i], w, rtol=1e-10, atol=1e-12)


def test_bad_input_is_one_config_error():
    g = cyclic(7)
    with pytest.raises(ConfigError):
        train_ridge_adam_ensemble(g, [], steps=1)
    with pytest.raises(ConfigError):
        train_ridge_adam_ensemble(g, [Member(1.5, 0)], steps=1)
    with pytest.raises(ConfigError):
        train_ridge_adam_ensemble(g, [Member(0.5, 0)], steps=-1)
