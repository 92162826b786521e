"""CoGO's semi-ring, its constructed optima and the factorization of per-frequency solutions.

References: the network run on all d² pairs (exact enumeration), the ring-homomorphism identities
r(z1 + z2) = r(z1) + r(z2), r(z1 * z2) = r(z1) r(z2), r(1) = 1 (Tian 2024, CoGO), the
constructions' zero loss (CoGO's theorems: z_F6, z_F4/6 and z_M are global optima), and
``torch.optim.Adam`` run member by member for the training loop.
"""

from __future__ import annotations

import cmath
import importlib
import json
import math

import pytest
import torch

from grokscope.li2 import (
    FourierNet,
    construction_losses,
    direct_loss,
    factorize,
    loss_from_r,
    per_frequency,
    r_cross,
    r_self,
    tian_loss_terms,
    train_cogo,
    y_k,
    z_f6,
    z_f46,
    z_memorize,
    z_nu,
    z_syn,
    z_xi,
)


def _random_net(d: int, q: int, seed: int, dc: bool = True) -> tuple[FourierNet, tuple]:
    g = torch.Generator().manual_seed(seed)
    w_a, w_b = torch.randn(d, q, generator=g, dtype=torch.float64), torch.randn(d, q, generator=g, dtype=torch.float64)
    v = torch.randn(q, d, generator=g, dtype=torch.float64)
    if not dc:
        w_a, w_b = w_a - w_a.mean(0), w_b - w_b.mean(0)
    return FourierNet.from_weights(w_a, w_b, v), (w_a, w_b, v)


def test_weights_round_trip_and_identity():
    net, (w_a, w_b, v) = _random_net(7, 4, 0)
    back = net.weights()
    for x, y in zip(back, (w_a, w_b, v)):
        assert torch.allclose(x, y, atol=1e-12)
    one_a, _, one_v = FourierNet.one(7).weights()
    assert torch.allclose(one_a[:, 0], 7 * torch.eye(7, dtype=torch.float64)[0])
    assert torch.allclose(one_v[0], 0.5 * torch.eye(7, dtype=torch.float64)[0])


def test_sum_and_product_are_ring_homomorphisms():
    n1, _ = _random_net(7, 3, 1)
    n2, _ = _random_net(7, 2, 2)
    for r in (r_cross, r_self):
        assert torch.allclose(r(n1 + n2), r(n1) + r(n2), atol=1e-10)
        assert torch.allclose(r(n1 * n2), r(n1) * r(n2), atol=1e-10)
        assert torch.allclose(r(n1 * FourierNet.one(7)), r(n1), atol=1e-12)
        assert torch.allclose(r(FourierNet.one(7)), torch.ones_like(r(FourierNet.one(7))))
        assert torch.allclose(r(n1.scaled(-0.7)), (-0.7) ** 3 * r(n1), atol=1e-12)
    assert (n1 * n2).q == 6 and (n1 + n2).q == 5
    # the product of real networks is real: its weights exist and run
    w = (n1 * n2).weights()
    assert math.isfinite(direct_loss(*w))


def test_network_of_a_sum_is_the_sum_of_the_networks():
    n1, w1 = _random_net(5, 3, 3)
    n2, w2 = _random_net(5, 2, 4)
    w_a, w_b, v = (n1 + n2).weights()
    x = torch.arange(5)
    def out(wa, wb, vv):
        return ((wa[x][:, None, :] + wb[x][None, :, :]) ** 2) @ vv  # [a, b, d]
    assert torch.allclose(out(w_a, w_b, v), out(*w1) + out(*w2), atol=1e-9)


@pytest.mark.parametrize("dc", [True, False])
def test_loss_from_the_r_terms_equals_the_network_run_on_all_pairs(dc):
    net, w = _random_net(9, 5, 5, dc=dc)
    direct = direct_loss(*w)
    assert loss_from_r(net) == pytest.approx(direct, rel=1e-10)
    if not dc:  # Tian's ℓ_k holds when no node has a DC input component
        ell = tian_loss_terms(net)["ell"]
        assert float((ell[1:] + 1).sum() / 9) == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("d", [5, 23])
def test_constructed_optima_reach_zero_loss_on_all_pairs(d):
    for net, nodes in ((z_f6(d), 3 * (d - 1)), (z_f46(d), 2 * (d - 1) + 2), (z_memorize(d), d * d)):
        assert net.q == nodes
        assert direct_loss(*net.weights()) < 1e-20
    # other members of the families are optima too
    assert direct_loss(*z_f6(d, v=0.6 + 0.8j).weights()) < 1e-20
    assert direct_loss(*z_f6(d, v=1.7).weights()) < 1e-20
    assert direct_loss(*z_f46(d, k0=(d - 1) // 2, x=0.3 - 1.2j).weights()) < 1e-20


def test_order_4_alone_leaves_a_constant_output_that_z_f6_hat_cancels():
    losses = construction_losses(11, memorize=False)
    assert losses["z_F4/6"]["loss"] < 1e-20
    assert losses["z_F4 alone"]["loss"] > 1.0  # ¼|Σ_p r_{p,k,-k,k}|² ≠ 0 on every frequency


def test_partial_solutions_satisfy_their_constraint_sets():
    d = 7
    idx = torch.arange(d)
    s = r_cross(z_syn(d) * y_k(d, 1))
    # z_syn kills every cross term at k = 1 except r_kkk = 3
    mask = torch.ones(d, d, dtype=torch.bool)
    mask[1, 1] = False
    assert torch.allclose(s[:, :, 1][mask], torch.zeros(1, dtype=s.dtype), atol=1e-12)
    assert s[1, 1, 1] == pytest.approx(3)
    # z_ν kills r_{p,k,k,k}: z_syn * z_ν then has r_kkk = 6 (Tian's 6^{-1/3})
    v = z_nu(d, cmath.exp(0.4j))
    assert torch.allclose(r_self(v)[:, 1, 1, 1], torch.zeros(2, dtype=torch.complex128), atol=1e-12)
    assert r_cross(z_syn(d) * v)[idx, idx, idx][1] == pytest.approx(6)
    assert r_cross(z_nu(d, 1j) * z_xi(d))[1, 1, 1] == pytest.approx(4)


def _scramble(f: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = f.shape[1]
    f = f[:, torch.randperm(q, generator=g)].clone()
    f[:2] *= torch.where(torch.rand(q, generator=g) < 0.5, -1.0, 1.0).to(f.dtype)  # the node's sign symmetry
    return f * torch.tensor([0.3, 2.0, 5.0], dtype=f.dtype)[:, None]  # any per-row normalization


@pytest.mark.parametrize("net,kind", [
    (lambda d: z_syn(d) * z_nu(d, cmath.exp(0.3j)), "nu*syn"),
    (lambda d: z_syn(d) * z_nu(d, 1j), "nu_i*syn_ab"),
    (lambda d: z_nu(d, 1j) * z_xi(d, 0.5 + 0.9j), "nu_i*xi"),
    (lambda d: z_xi(d, -1, -1) * z_nu(d, -1j), "nu_i*xi"),
])
def test_factorize_recovers_the_constructed_forms(net, kind):
    for k, seed in ((1, 0), (4, 1)):
        fz = factorize(_scramble(net(11).z[:, k], seed), k)
        assert fz.factorable and fz.kind == kind and fz.error < 1e-12


def test_factorization_error_grows_with_noise_and_random_solutions_are_not_factorable():
    g = torch.Generator().manual_seed(7)
    base = (z_syn(11) * z_nu(11, cmath.exp(0.3j))).z[:, 1]
    noise = torch.randn(3, 6, generator=g, dtype=torch.complex128)
    small = factorize(base + 1e-3 * noise).error
    big = factorize(base + 1e-2 * noise).error
    assert 1e-5 < small < big < 0.1
    assert factorize(torch.randn(3, 6, generator=g, dtype=torch.complex128)).kind == "non-factorable"


def test_per_frequency_groups_nodes_by_their_dominant_frequency():
    orders = {k: f.shape[1] for k, f in per_frequency(z_f46(11, k0=2)).items()}
    assert orders == {1: 4, 2: 6, 3: 4, 4: 4, 5: 4}


def test_train_cogo_matches_torch_adam_member_by_member():
    d, q, steps = 7, 16, 30
    run = train_cogo(d, hidden=q, lr=0.01, weight_decay=1e-3, steps=steps, seeds=(3, 4), dtype=torch.float64)
    from grokscope.models._li2 import Li2, Li2Config

    for m, seed in enumerate((3, 4)):
        ref = Li2(Li2Config(p=d, d_hidden=q), dtype=torch.float64).init_(seed=seed)
        opt = torch.optim.Adam(ref.parameters(), lr=0.01, weight_decay=1e-3)
        perm = torch.randperm(d * d, generator=torch.Generator().manual_seed(seed))[:round(0.9 * d * d)]
        a, b = perm // d, perm % d
        y = torch.nn.functional.one_hot((a + b) % d, d).double()
        for _ in range(steps):
            opt.zero_grad()
            err = ref(torch.stack([a, b], 1)) - y
            ((err - err.mean(1, keepdim=True)) ** 2).sum(1).mean().backward()
            opt.step()
        assert torch.allclose(run.weights[0][m], ref.mlp.W_in_a.detach(), atol=1e-10)
        assert torch.allclose(run.weights[2][m], ref.mlp.W_out.detach(), atol=1e-10)


def test_cli_checks_the_constructions_as_json(run_cli):
    code, out, err = run_cli("li2", "solutions", "--d", "7", "--steps", "0", "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["table"] is None
    for name in ("z_F6", "z_F4/6", "z_M"):
        assert out["constructions"][name]["loss"] < 1e-20


def test_cli_small_table(run_cli):
    code, out, err = run_cli("li2", "solutions", "--d", "7", "--hidden", "16", "--steps", "20", "--seeds", "1,2")
    assert code == 0, err
    assert "nu_i*xi" in out and "seed 2" in out and "z_M" in out


@pytest.mark.parametrize("args,match", [
    (["--d", "8"], "--d=8"),
    (["--d", "1"], "--d=1"),
    (["--seeds", "a,b"], "--seeds='a,b'"),
    (["--hidden", "0"], "--hidden=0"),
    (["--train-fraction", "1.5"], "--train-fraction=1.5"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    code, _, err = run_cli("li2", "solutions", *args)
    assert code == 2
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")


def test_solution_table_of_a_constructed_network_counts_its_types():
    from grokscope.li2 import CogoRun, solution_table

    w_a, w_b, v = z_f46(11, k0=3).weights()
    run = CogoRun(d=11, hidden=w_a.shape[1], lr=0.0, weight_decay=0.0, steps=0, train_fraction=1.0, seeds=(0,),
                  train_loss=(0.0,), test_acc=(float("nan"),), seconds=0.0, weights=(w_a[None], w_b[None], v[None]))
    table = solution_table(run)
    assert table.details[0]["orders"] == {1: 4, 2: 4, 3: 6, 4: 4, 5: 4}
    row = table.rows[0]
    assert row["pct_not_order_4_6"] == 0 and row["pct_nonfact_4"] == 0 and row["pct_nonfact_6"] == 0
    assert row["nu_i*xi"] == pytest.approx(80) and row["nu_i*syn_ab"] == pytest.approx(20)
    assert row["error_4"] < 1e-10 and row["error_6"] < 1e-10
    assert json.loads(json.dumps(table.to_dict()))["details"][0]["factorizations"][0]["kind"] == "nu_i*xi"


def _thread_flushes() -> bool:
    # 1e-39 is subnormal in float32: with FTZ/DAZ the product is 0, in IEEE arithmetic 2e-39.
    return float(torch.tensor([1e-39], dtype=torch.float32).mul_(2.0)) == 0.0


@pytest.mark.parametrize("flush", [True, False])
@pytest.mark.parametrize("caller", [False, True])
def test_train_cogo_trains_in_the_asked_denormal_mode_and_restores_the_callers(flush, caller, monkeypatch):
    if not torch.set_flush_denormal(caller):
        pytest.skip("this CPU has no flush-to-zero mode")
    train_pkg = importlib.import_module("grokscope.train")  # the package (`grokscope.train` is also a function)
    real_adam, seen = train_pkg.adam, []

    def recording_adam(*args, **kwargs):  # the real optimizer, noting the mode at every step
        opt = real_adam(*args, **kwargs)
        real_step = opt.step

        def step(params, grads, state):
            seen.append(_thread_flushes())
            return real_step(params, grads, state)

        opt.step = step
        return opt

    monkeypatch.setattr(train_pkg, "adam", recording_adam)
    try:
        run = train_cogo(5, hidden=4, steps=3, seeds=(1,), flush_denormal=flush)
        after = _thread_flushes()
    finally:
        torch.set_flush_denormal(False)
    assert seen == [flush] * 3 and run.steps == 3
    assert after == caller


def test_train_cogo_flush_denormal_must_be_a_bool():
    from grokscope.errors import ConfigError

    with pytest.raises(ConfigError, match="flush_denormal=1"):
        train_cogo(5, hidden=4, steps=1, flush_denormal=1)
