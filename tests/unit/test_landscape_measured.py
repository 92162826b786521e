"""grokscope.landscape_measured: walks, the empirical graph, Arrhenius, Eq. 2, the simulator's walks, bad input.

References: hand-built walks with transitions and dwell times counted by hand; planted Arrhenius
slopes (exact without noise, covered by the interval with noise); the exact mean first-passage
time of the simulator's linear solve; the analysis package's own ``label_walk``.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import typer

from grokscope.errors import AnalysisError, ConfigError, GrokscopeError
from grokscope.landscape_measured import (
    MemberRecord,
    Walk,
    arrhenius_test,
    empirical_graph,
    eq2_curves,
    fit_arrhenius,
    measure_landscape,
    simulated_walks,
    theory_run,
    visits,
    walk_stats,
)

# ----------------------------------------------------------------------------- walks and the graph


def _walk_a():
    # a a b b b a c c   at steps 0 1 2 4 8 16 32 64
    t = np.array([0, 1, 2, 4, 8, 16, 32, 64])
    F = np.array([5.0, 4.0, 6.0, 6.0, 7.0, 3.0, 1.0, 0.5])
    return Walk("A", t, tuple("aabbbacc"), F, group=100.0)


def test_visits_and_dwell_times_of_a_hand_built_walk():
    vs = visits(_walk_a())
    assert [(v.node, v.enter, v.leave, v.dwell, v.censored) for v in vs] == [
        ("a", 0.0, 2.0, 2.0, False), ("b", 2.0, 16.0, 14.0, False), ("a", 16.0, 32.0, 16.0, False),
        ("c", 32.0, None, 32.0, True)]


def test_graph_of_two_walks_matches_hand_counts():
    b = Walk("B", np.array([0, 3, 9, 10]), ("a", "b", "c", "c"), np.array([5.0, 8.0, 2.0, 1.0]), group=200.0)
    g = empirical_graph([_walk_a(), b])
    nodes = {n.label: n for n in g.nodes}
    # a: visits A[0:2] (dwell 2), A[5] (dwell 16), B[0] (dwell 3) -> 3 visits, mean (2 + 16 + 3) / 3
    assert (nodes["a"].visits, nodes["a"].walks, nodes["a"].n_obs) == (3, 2, 4)
    assert nodes["a"].dwell_mean == pytest.approx(7.0) and nodes["a"].F_mean == pytest.approx((5 + 4 + 3 + 5) / 4)
    # b: A dwell 14, B dwell 6; c: censored in both walks
    assert nodes["b"].dwell_mean == pytest.approx(10.0) and nodes["b"].n_censored == 0
    assert np.isnan(nodes["c"].dwell_mean) and nodes["c"].n_censored == 2 and nodes["c"].visits == 2
    edges = {(e.src, e.dst): e for e in g.edges}
    assert set(edges) == {("a", "b"), ("b", "a"), ("a", "c"), ("b", "c")}
    assert edges[("a", "b")].count == 2 and edges[("a", "b")].wait_mean == pytest.approx((2 + 3) / 2)
    assert edges[("a", "b")].dF_mean == pytest.approx(((6 - 4) + (8 - 5)) / 2)
    assert edges[("b", "c")].dF_mean == pytest.approx(2 - 8)
    assert len(g.transitions) == 5 and g.transitions[1] == {
        "walk": "A", "group": 100.0, "src": "b", "dst": "a", "enter": 2.0, "step": 16.0, "wait": 14.0,
        "F_src": 7.0, "F_dst": 3.0}
    json.dumps(g.to_dict(), allow_nan=False)  # plain JSON, NaN made None


def test_walk_stats_by_hand():
    s = walk_stats([_walk_a()])
    # hops a->b (F 4 -> 6, up), b->a (7 -> 3, down), a->c (3 -> 1, down); visits after the first: b, a, c, one revisit
    assert s["hops_per_walk"] == 3 and s["nodes_per_walk"] == 3
    assert s["uphill_fraction"] == pytest.approx(1 / 3) and s["revisit_fraction"] == pytest.approx(1 / 3)
    d = np.array([2.0, 14.0, 16.0])  # completed dwells
    assert s["dwell_cv"] == pytest.approx(d.std() / d.mean())
    assert s["end_at_lowest_F"] == 1.0  # c has mean F 0.75, the lowest of a, b, c


def test_walk_rejects_mismatched_or_unordered_observations():
    with pytest.raises(AnalysisError, match="equally many"):
        Walk("w", np.array([0, 1]), ("a",), np.array([1.0, 2.0]))
    with pytest.raises(AnalysisError, match="strictly increasing"):
        Walk("w", np.array([0, 0]), ("a", "b"), np.array([1.0, 2.0]))


# ----------------------------------------------------------------------------- Arrhenius


def test_arrhenius_fit_recovers_a_planted_slope():
    rng = np.random.default_rng(1)
    dF = rng.uniform(-1, 5, 60)
    exact = fit_arrhenius(dF, 30.0 * np.exp(0.8 * dF), n_boot=0)
    assert float(exact.params["beta"]) == pytest.approx(0.8, rel=1e-12)
    assert float(exact.params["tau0"]) == pytest.approx(30.0, rel=1e-12)
    noisy = fit_arrhenius(dF, 30.0 * np.exp(0.8 * dF) * rng.lognormal(0, 0.3, dF.size), n_boot=300, seed=0)
    b = noisy.params["beta"]
    assert b.lo < 0.8 < b.hi and b.hi - b.lo < 0.2


def _member(i, D, h, wait, *, unseen=True):
    """A member whose test loss has a barrier of height h (F_all = 100 x test loss) and waits `wait` steps."""
    steps = np.arange(100, dtype=float)
    loss = np.interp(steps, [0, 10, 30, 99], [1.2, 1.0, 1.0 + h, 0.1])
    curves = {"test_loss": loss, "F_all": 100 * loss, "F_test": 40 * loss, "F_train": 40 * loss}
    n = {"train": 40, "test": 40}
    if unseen:
        curves["F_unseen"] = 20 * loss
        n["unseen"] = 20
    return MemberRecord(0, i, {"task.train_count": D}, steps, ["x"] * 100, curves, n | {"train": D}, 5.0, 5.0 + wait)


def test_arrhenius_test_within_data_sizes_removes_a_tau0_that_depends_on_D():
    beta, rng, members = 0.02, np.random.default_rng(0), []
    for i in range(18):
        D = (100, 200, 300)[i % 3]
        h = rng.uniform(0.5, 3.0) + 3.0 * (D == 100)  # barriers correlate with D: a pooled fit is biased
        members.append(_member(i, D, h, (3e5 / D) * np.exp(beta * 100 * h)))
    res = arrhenius_test(members, n_boot=50)
    assert res.n_crossed == 18 and res.n_censored == 0
    assert [r["dF"] for r in res.rows[:1]] == pytest.approx([100 * (members[0].curves["test_loss"][30] - 1.0)])
    assert float(res.within.params["beta"]) == pytest.approx(beta, rel=1e-9)
    assert abs(float(res.pooled.params["beta"]) - beta) > 1e-3  # tau0(D) leaks into the pooled slope
    assert "beta" in res.summary()
    on_test = arrhenius_test(members, barrier="test", n_boot=0)  # F_test = 0.4 F_all here: slope / 0.4
    assert float(on_test.within.params["beta"]) == pytest.approx(beta / 0.4, rel=1e-9)


def test_arrhenius_test_says_why_a_fit_is_missing():
    res = arrhenius_test([_member(0, 100, 1.0, 50.0), _member(1, 200, 1.0, float("nan"))], n_boot=10)
    assert res.n_crossed == 1 and res.n_censored == 1 and res.pooled is None and "pooled" in res.reasons


# ----------------------------------------------------------------------------- Eq. 2


def test_eq2_splits_add_up_and_a_run_without_unseen_split_is_named():
    r = eq2_curves([_member(0, 40, 1.0, 10.0), _member(1, 40, 2.0, 10.0)], n_boot=20)
    assert r.identity_max_error == pytest.approx(0.0, abs=1e-15)
    assert r.summary_dict["gap_last"]["value"] == pytest.approx(0.0, abs=1e-12)  # 20 L / 20 - 40 L / 40
    assert r.members[0]["f_test"] == pytest.approx(_member(0, 40, 1.0, 10.0).curves["test_loss"])
    with pytest.raises(AnalysisError, match="run 0 member 1 keeps no unseen split.*task.unseen_frac"):
        eq2_curves([_member(0, 40, 1.0, 10.0), _member(1, 40, 1.0, 10.0, unseen=False)])


# ----------------------------------------------------------------------------- the simulator's walks


def test_simulated_walkers_hit_M_G_after_the_exact_mean_first_passage_time():
    from grokscope.landscape_measured._simulated import _path
    from grokscope.theory import (
        connection_threshold,
        hopping_rates,
        mean_first_passage,
        sea_of_minima,
    )

    land = sea_of_minima(4, seed=3)
    present = land.edge_u * land.z < min(connection_threshold(land) + 0.5, land.z)
    rates = hopping_rates(land.edges[present], land.F, beta=1.0, rule="arrhenius")
    exact = mean_first_passage(rates, [land.target])[land.source]
    rng = np.random.default_rng(0)
    hits = np.array([_path(rates, land.source, land.target, rng, 10**6)[0][-1] for _ in range(2000)])
    assert abs(hits.mean() - exact) < 4 * hits.std() / np.sqrt(hits.size)
    ws = simulated_walks(L=4, n_walkers=5, n_obs=20, seed=3)
    assert all(w.nodes[0] == "M_M" and w.nodes[-1] == "M_G" and w.times.size == 20 for w in ws)


# ----------------------------------------------------------------------------- stored sweeps, bad input


def _sweep(store, name, n_seeds, fracs, **sets):
    from grokscope.sweep import parse_spec, run_sweep

    spec = parse_spec({"name": name, "base": "demo", "seeds": n_seeds, "steps": 60,
                       "set": {"task.p": 11, "threads": 1, "log.n_checkpoints": 8, **sets},
                       "grid": {"task.train_frac": fracs}})
    run_sweep(spec, store, progress=False, tune_memory=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from grokscope.store import Store

    s = Store(tmp_path_factory.mktemp("lm") / "runs.db")
    _sweep(s, "ok", 2, [0.4, 0.6], **{"task.unseen_frac": 0.2})
    _sweep(s, "one", 1, [0.5])
    _sweep(s, "nockpt", 2, [0.5], **{"log.n_checkpoints": 0})
    _sweep(s, "mul", 2, [0.5], **{"task.op": "mul"})
    from grokscope.sweep import parse_spec, run_sweep

    run_sweep(parse_spec({"name": "parity", "base": "pair-parity", "seeds": 2, "steps": 1000,
                          "set": {"threads": 1, "log.n_checkpoints": 8, "task.n_bits": 8, "model.width": 32,
                                  "task.n_train": 200, "task.n_test": 56}, "grid": {"optim.weight_decay": [0.05]}}),
              s, progress=False, tune_memory=False)
    return s


def test_parity_nodes_are_the_bits_in_use_of_each_checkpoint(store):
    from grokscope.analysis import label_walk, load_run
    from grokscope.sweep import sweep_members

    m = measure_landscape(store, "parity", parts=["graph"], sim_walkers=5)
    run_id = sweep_members(store, "parity")[0]["run_id"]
    run = load_run(store, run_id)
    expected = []
    for member in range(run.n_members):  # the reference: L1 mass of each bit's row of W_in, numpy's median
        labels = []
        for step in run.steps:
            mass = run.anatomy(run.load(step)).neuron_in[member].double().abs().sum(-1).numpy()  # [n_bits]
            used = [i for i in range(mass.size) if mass[i] >= 4 * np.median(mass)]
            labels.append("bits{" + ",".join(map(str, used)) + f"}}/{len(set(used) & {0, 1, 2})}r")
        expected += [(f"run {run_id} member {member}", float(s), lab) for s, lab in label_walk(run.steps, labels)[1:]]
    assert [(t["walk"], t["step"], t["dst"]) for t in m.graph.transitions] == expected
    assert any(n.label.endswith("/3r") for n in m.graph.nodes)  # the relevant bits were found


def _cli(*args):
    """``grokscope landscape measured ARGS`` as grokscope.cli.main runs it: (exit code, stdout, error line)."""
    from grokscope.cli import measured

    root = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(measured.app, name="landscape")
    try:
        root(args=["landscape", "measured", *map(str, args)], standalone_mode=False)
    except GrokscopeError as e:
        return 2, "", str(e)
    return 0, "", ""


@pytest.mark.parametrize("source, extra, match", [
    ("one", [], "sweep 'one' has 1 trained member.*at least 2"),
    ("nockpt", [], r"has \d+ weight checkpoint|has no weight checkpoints"),
    ("mul", [], "task mod11_mul.* has no heuristic-model labels"),
    ("ok", ["--parts", "graph,bogus"], "parts"),
    ("ok", ["--parts", "theory", "--simulate"], "data size|D_c"),
])
def test_bad_input_is_one_line_naming_what_is_missing(store, tmp_path, source, extra, match):
    code, _, err = _cli(source, "--store", store.path, "--out", tmp_path, *extra)
    assert code == 2 and "\n" not in err and re.search(match, err), err
    assert not (tmp_path / "landscape_measured.json").exists()
    assert theory_run(store) is None  # the simulator is run only once the sweep's side has been measured


def test_parts_are_checked_before_the_store_is_read(tmp_path):
    with pytest.raises(ConfigError, match="parts"):
        measure_landscape(None, "x", parts=["nope"])
