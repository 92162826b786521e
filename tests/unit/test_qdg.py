"""Quanta discovery from gradients, checked where the truth is known.

- per-sample gradients equal torch autograd run one sample at a time (float64, to 1e-12);
- the blocked cosine-similarity matrix equals the direct float64 product;
- the sweep's labels equal scikit-learn's ``SpectralClustering(affinity="precomputed")`` at each k;
- planted clusters of synthetic gradients are recovered (adjusted Rand index); with random signs
  (a two-class loss's gradient flips with the label) only the sign-blind affinity recovers them;
- the stable cross-entropy gradient equals autograd's where rounding is harmless, and keeps the exact
  anti-parallel gradients of opposite labels that autograd's ``p_y - 1`` rounds away at large margins;
- the rank-frequency fit recovers an exact power law;
- the command line runs on a stored run, and bad input is one line with exit code 2.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokscope.errors import ConfigError
from grokscope.models import (
    FeatureMLP,
    FeatureMLPConfig,
    Transformer,
    TransformerConfig,
)
from grokscope.quanta._clusters import adjusted_rand, angular_affinity, homogeneity, spectral_sweep
from grokscope.quanta._qdg import (
    QDGConfig,
    cosine_similarity,
    per_sample_gradients,
    qdg,
    select_params,
)
from grokscope.quanta._rankfreq import rank_frequency, rank_frequency_figure
from grokscope.train import per_example_loss


def _one_at_a_time(model, x, y, names, loss):
    """The reference: one forward and one autograd call per sample, gradients flattened in ``names`` order."""
    params = dict(model.named_parameters())
    rows = []
    for i in range(x.shape[0]):
        logits = model(x[i : i + 1])
        ell = per_example_loss(logits[None], y[None, i : i + 1], loss).sum()
        grads = torch.autograd.grad(ell, [params[n] for n in names])
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_per_sample_gradients_equal_one_at_a_time_autograd_on_features(loss):
    gen = torch.Generator().manual_seed(0)
    model = FeatureMLP(FeatureMLPConfig(d_in=6, n_classes=3, width=5, depth=2), dtype=torch.float64).init_(3)
    x, y = torch.randn(11, 6, generator=gen, dtype=torch.float64), torch.randint(0, 3, (11,), generator=gen)
    names = select_params(model, ["blocks.1", "unembed.W_U"])
    assert names == ["blocks.1.mlp.W_in", "blocks.1.mlp.b_in", "unembed.W_U"]
    got = per_sample_gradients(model, x, y, params=names, loss=loss, chunk=4, normalize=False)
    want = _one_at_a_time(model, x, y, names, loss)
    assert got.grads.dtype == torch.float64 and got.sizes == [25, 5, 15]
    torch.testing.assert_close(got.grads, want, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got.norms, want.norm(dim=1), rtol=1e-12, atol=0)
    unit = per_sample_gradients(model, x, y, params=names, loss=loss, chunk=5).grads  # float32 unit rows
    torch.testing.assert_close(unit, (want / want.norm(dim=1, keepdim=True)).float(), rtol=1e-6, atol=1e-7)


def test_per_sample_gradients_equal_one_at_a_time_autograd_on_tokens():
    """A transformer on tokens, every parameter: vmap skips the token check, the plain forward does it."""
    model = Transformer(TransformerConfig(d_vocab=7, n_ctx=3, n_classes=7, d_model=8, n_heads=2, d_head=4, d_mlp=16,
                                          n_layers=1), dtype=torch.float64).init_(5)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randint(0, 7, (9, 3), generator=gen), torch.randint(0, 7, (9,), generator=gen)
    names = select_params(model, None)
    got = per_sample_gradients(model, x, y, params=None, chunk=4, normalize=False)
    torch.testing.assert_close(got.grads, _one_at_a_time(model, x, y, names, "ce"), rtol=1e-12, atol=1e-14)
    with pytest.raises(ConfigError, match="token ids span"):
        per_sample_gradients(model, x + 7, y)


def test_blocked_similarity_equals_the_direct_product():
    gen = torch.Generator().manual_seed(2)
    G = F.normalize(torch.randn(23, 40, generator=gen, dtype=torch.float64), dim=1)
    C = cosine_similarity(G, block=7)
    assert C.dtype == torch.float32 and bool((C == C.T).all())
    torch.testing.assert_close(C.double(), (G @ G.T).clamp(-1, 1), rtol=0, atol=2e-6)
    A = angular_affinity(torch.tensor([[1.0, -1.0, 0.0, 0.5]]))  # 1 - arccos(c)/pi at known angles
    np.testing.assert_allclose(A[0], [1.0, 0.0, 0.5, 1 - 1 / 3], atol=1e-12)


def _planted(sizes, dim, noise, seed):
    """Unit vectors around random cluster centres: cluster c has sizes[c] members."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(sizes), dim))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    X = centres[truth] + noise * rng.standard_normal((truth.size, dim))
    return torch.tensor(X / np.linalg.norm(X, axis=1, keepdims=True)), truth


def test_sweep_equals_scikit_learn_spectral_clustering_at_each_k():
    from sklearn.cluster import SpectralClustering

    G, _ = _planted([40, 25, 15, 10], dim=30, noise=1.2, seed=3)
    A = angular_affinity(cosine_similarity(G))
    ours, _ = spectral_sweep(A, [3, 4, 6], eigen_solver="arpack", seed=7, n_init=10)
    for k, labels in ours.items():
        sk = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=7, eigen_solver="arpack").fit_predict(A)
        assert adjusted_rand(sk, labels) == 1.0, k


@pytest.mark.parametrize("solver", ["arpack", "lobpcg"])
def test_planted_clusters_are_recovered(solver):
    sizes = [120, 60, 40, 30, 24, 20]  # Zipf-like: 120 / rank
    G, truth = _planted(sizes, dim=200, noise=0.8, seed=4)  # within-cluster cosine ~0.6, across ~0
    A = angular_affinity(cosine_similarity(G, block=64))
    sweep, _ = spectral_sweep(A, [6], eigen_solver=solver, seed=0)
    assert adjusted_rand(truth, sweep[6]) > 0.99
    rf = rank_frequency(sweep[6], n_boot=200, seed=0)
    assert rf.sizes == sizes
    assert rf.exponent.covers(1.0)  # sizes = 120 / rank: exponent 1 within the bootstrap interval


def test_homogeneity_equals_its_closed_form():
    """1 - H(truth | cluster) / H(truth), by hand: truth [0, 0, 1, 1] and clusters [0, 0, 0, 1] leave
    cluster 0 (3/4 of the samples) with truth proportions 2/3, 1/3 and cluster 1 pure."""
    h = lambda *p: -sum(q * math.log(q) for q in p)
    assert homogeneity([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(1 - 0.75 * h(2 / 3, 1 / 3) / math.log(2), abs=1e-12)
    assert homogeneity([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx(1.0)  # a refinement: each cluster in one group
    assert homogeneity([0, 0, 1, 1], [5, 5, 5, 5]) == pytest.approx(0.0)  # one cluster: it tells nothing of the truth


def test_planted_refinement_is_homogeneous_where_the_ari_is_not():
    """Each of 3 truth groups is made of 2 planted clusters (random, nearly orthogonal centres): at k = 6
    QDG's clustering finds the planted clusters (ARI against them > 0.99), which lie inside the groups
    (homogeneity > 0.99) while their ARI against the groups stays low (0.57), as on multitask parity,
    where a subtask is 2^k input classes (docs/qdg.md)."""
    G, planted = _planted([50] * 6, dim=200, noise=0.8, seed=6)
    groups = planted // 2
    sweep, _ = spectral_sweep(angular_affinity(cosine_similarity(G, block=64)), [6], seed=0)
    assert adjusted_rand(planted, sweep[6]) > 0.99
    assert homogeneity(groups, sweep[6]) > 0.99
    assert adjusted_rand(groups, sweep[6]) < 0.7


def test_abs_affinity_recovers_planted_clusters_with_random_signs_and_signed_does_not():
    """A reference by construction: each sample is ± a noisy copy of its cluster's centre, the sign drawn at
    random (as a two-class cross-entropy gradient flips with the label). The clusters are lines, not
    half-lines: ``1 - arccos(|C|)/π`` sees them, ``1 - arccos(C)/π`` splits each into two repelling halves."""
    sizes = [120, 60, 40, 30, 24, 20]
    G, truth = _planted(sizes, dim=200, noise=0.8, seed=4)
    signs = torch.tensor(np.random.default_rng(5).choice([-1.0, 1.0], size=truth.size))
    C = cosine_similarity(G * signs[:, None], block=64)
    signed, _ = spectral_sweep(angular_affinity(C, "signed"), [6], seed=0)
    absolute, _ = spectral_sweep(angular_affinity(C, "abs"), [6], seed=0)
    assert adjusted_rand(truth, absolute[6]) > 0.99
    assert adjusted_rand(truth, signed[6]) < 0.5
    with pytest.raises(ValueError, match="kind='cos'"):
        angular_affinity(C, "cos")


@pytest.mark.parametrize("loss", ["ce", "ce64"])
def test_stable_ce_gradients_equal_one_at_a_time_autograd(loss):
    """Where ``p_y - 1`` is not rounding error (float64, losses of order 1) both evaluations agree."""
    gen = torch.Generator().manual_seed(6)
    model = FeatureMLP(FeatureMLPConfig(d_in=6, n_classes=4, width=5, depth=2), dtype=torch.float64).init_(1)
    x, y = torch.randn(9, 6, generator=gen, dtype=torch.float64), torch.randint(0, 4, (9,), generator=gen)
    names = select_params(model, None)
    got = per_sample_gradients(model, x, y, loss=loss, chunk=4, normalize=False, stable_ce=True)
    want = _one_at_a_time(model, x, y, names, loss)
    torch.testing.assert_close(got.grads, want, rtol=1e-12, atol=1e-14)
    unit = per_sample_gradients(model, x, y, loss=loss, chunk=5, stable_ce=True)  # float32 unit rows, exact norms
    torch.testing.assert_close(unit.norms, want.norm(dim=1), rtol=1e-12, atol=0)
    torch.testing.assert_close(unit.grads, (want / want.norm(dim=1, keepdim=True)).float(), rtol=1e-6, atol=1e-7)


def test_stable_ce_keeps_the_antiparallel_gradients_that_autograd_rounds_away():
    """Two-class cross-entropy: the loss gradients of one input under labels 0 and 1 are exactly anti-parallel
    (``∓ p_other ∇(z_1 - z_0)``). With m inputs each under both labels, the mean off-diagonal cosine is then
    exactly ``-1 / (2m - 1)`` whatever the inputs (pairs of different inputs cancel). A float32 network with
    margins of 20 to 100 rounds the true-class entry ``p_y - 1`` of its confident samples and misses it."""
    model = FeatureMLP(FeatureMLPConfig(d_in=4, n_classes=2, width=8, depth=1)).init_(0)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        margin = (model(x)[:, 1] - model(x)[:, 0]).abs().min()
        model.unembed.W_U.mul_(20.0 / margin)  # every |z_1 - z_0| >= 20: 1 - p_y < 2.1e-9
        model.unembed.b_U.mul_(20.0 / margin)
    xs, ys = x.repeat(2, 1), torch.arange(10) // 5  # [10, 4]: each input under label 0 and label 1
    cfg = {"samples": 10, "clusters": (2,), "max_loss": None, "n_boot": 0}
    exact = qdg(model, xs, ys, QDGConfig(ce_gradient="stable", **cfg))
    rounded = qdg(model, xs, ys, QDGConfig(**cfg))
    assert abs(exact.mean_cosine + 1 / 9) < 1e-6 and "stable cross-entropy gradient" in exact.definition
    assert abs(rounded.mean_cosine + 1 / 9) > 0.05 and "stable" not in rounded.definition


def test_zero_gradients_counts_samples_without_a_direction_not_underflowed_norms():
    """A margin of 1,000 nats: ``1 − p_y = e^-1000`` underflows float64, so the stable gradient's norm is 0 while
    its direction is exact; such a sample has a gradient and is not counted. Rows whose hidden ReLUs are all off
    have no gradient on the hidden layer at all: exactly those are counted."""
    model = FeatureMLP(FeatureMLPConfig(d_in=3, n_classes=2, width=2, depth=1))
    with torch.no_grad():
        model.blocks[0].mlp.W_in.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        model.blocks[0].mlp.b_in.zero_()
        model.unembed.W_U.copy_(torch.tensor([[-500.0, 500.0], [500.0, -500.0]]))
        model.unembed.b_U.zero_()
    x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])  # margins +1000, -1000, 0, 0
    y = torch.tensor([1, 0, 1, 0])
    cfg = QDGConfig(samples=4, clusters=(2,), max_loss=None, n_boot=0, ce_gradient="stable",
                    params=("blocks.0.mlp.W_in",))
    psg = per_sample_gradients(model, x, y, params=["blocks.0.mlp.W_in"], stable_ce=True)
    assert psg.norms[:2].tolist() == [0.0, 0.0]  # the norms underflow ...
    assert torch.linalg.vector_norm(psg.grads[:2], dim=1).tolist() == pytest.approx([1.0, 1.0])  # ... not the directions
    assert qdg(model, x, y, cfg).n_zero_gradients == 2  # rows 2 and 3: both ReLUs off, no gradient on W_in


def test_rank_frequency_recovers_an_exact_power_law_and_handles_two_clusters():
    sizes = [round(2000 * r**-1.3) for r in range(1, 13)]
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(12) * 3 + 5, sizes))  # any label values
    rf = rank_frequency(labels, n_boot=300, seed=1)
    assert rf.sizes == sizes and abs(float(rf.exponent) - 1.3) < 2e-3 and abs(rf.slope + 1.3) < 2e-3
    assert rf.exponent.lo < 1.3 < rf.exponent.hi and rf.n_boot_failed == 0
    two = rank_frequency([0, 0, 0, 1], n_boot=10)  # two points fit a two-parameter law exactly
    assert two.sizes == [3, 1] and abs(float(two.exponent) - math.log(3) / math.log(2)) < 1e-9


def _multitask(n_tasks=4, n=24, k=2, width=96, steps=700, seed=0):
    """A small network trained on multitask sparse parity (plain loop; online batches from the task)."""
    from grokscope.tasks import make_task

    task = make_task("multitask_parity", n_tasks=n_tasks, n=n, k=k, alpha=0.4, n_train=16, n_test_per_task=60,
                     online=True, seed=seed)
    model = FeatureMLP(FeatureMLPConfig(d_in=task.d_in, n_classes=2, width=width, depth=1)).init_(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = task.sample(128, gen)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return task, model


def test_qdg_end_to_end_on_multitask_parity_reports_ari_and_draws_the_figure():
    task, model = _multitask()
    rows = task.test_pool
    cfg = QDGConfig(samples=200, clusters=(2, 4, 8), max_loss=None, n_boot=50, chunk=64, block=50)
    r = qdg(model, task.inputs[rows], task.labels[rows], cfg, truth=task.subtask[rows], source="test")
    assert r.n_samples == 200 and len(r.rows) == 200 and r.n_params == sum(p.numel() for p in model.parameters())
    assert [c.k for c in r.clusters] == [2, 4, 8] and all(len(c.labels) == 200 for c in r.clusters)
    for c in r.clusters:
        assert -1.0 <= c.ari <= 1.0 and sum(c.rank_frequency.sizes) == 200
        assert c.ari == adjusted_rand(np.asarray(r.truth), np.asarray(c.labels))
        assert c.homogeneity == homogeneity(np.asarray(r.truth), np.asarray(c.labels))
    d = json.loads(r.to_json())
    assert d["clusters"][1]["homogeneity"] == r.clusters[1].homogeneity
    assert d["clusters"][1]["k"] == 4 and set(d["seconds"]) >= {"gradients_s", "similarity_s", "embedding_s"}
    fig = rank_frequency_figure(r)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].get_legend().get_texts()) == 3


def test_bad_config_is_one_config_error_line():
    for kw, match in [({"samples": 0}, "samples=0"), ({"clusters": (1,)}, "clusters=1"),
                      ({"samples": 5, "clusters": (2, 6)}, "clusters=6"), ({"clusters": ()}, "clusters=()"),
                      ({"eigen_solver": "amg"}, "eigen_solver='amg'"), ({"max_loss": -1.0}, "max_loss=-1.0"),
                      ({"affinity": "cos"}, "affinity='cos'"), ({"ce_gradient": "exact"}, "ce_gradient='exact'")]:
        with pytest.raises(ConfigError, match=match) as e:
            QDGConfig(**kw)
        assert "\n" not in str(e.value)
    model = FeatureMLP(FeatureMLPConfig(d_in=2, n_classes=2, width=3, depth=1))
    with pytest.raises(ConfigError, match="params='blocks.7': not a parameter of FeatureMLP") as e:
        select_params(model, ["blocks.7"])
    assert "\n" not in str(e.value)


RUN = """\
name = "qdg-cli"
n_members = 2
[task]
kind = "multitask_parity"
n_tasks = 3
n = 8
k = 2
n_train = 60
n_test_per_task = 20
[model]
arch = "feature_mlp"
width = 16
depth = 1
[train]
steps = 30
[log]
n_checkpoints = 2
"""


def test_cli_qdg_on_a_stored_run_and_bad_input(tmp_path, run_cli):
    cfg, db, fig = tmp_path / "run.toml", tmp_path / "runs.db", tmp_path / "figs" / "rank.png"
    cfg.write_text(RUN)
    code, _, err = run_cli("train", cfg, "--store", db, "--quiet")
    assert code == 0, err
    code, out, err = run_cli("quanta", "qdg", 1, "--store", db, "--member", 1, "--samples", 50, "--clusters", "2,3",
                             "--clusters", 5, "--all-samples", "--n-boot", 20, "--json", "--out", fig)
    assert code == 0, err
    d = json.loads(out)
    assert d["n_samples"] == 50 and [c["k"] for c in d["clusters"]] == [2, 3, 5] and "member 1" in d["source"]
    assert all(c["ari"] is not None for c in d["clusters"]) and len(d["truth"]) == 50  # subtasks are the groups
    assert fig.read_bytes()[:4] == b"\x89PNG"
    code, out, err = run_cli("quanta", "qdg", 1, "--store", db, "--samples", 30, "--clusters", 3, "--all-samples",
                             "--params", "unembed", "--n-boot", 10)
    assert code == 0 and "ARI" in out and "homog." in out and f"{16 * 2 + 2:,} parameters" in out, err
    code, out, err = run_cli("quanta", "qdg", 1, "--store", db, "--samples", 30, "--clusters", 3, "--all-samples",
                             "--affinity", "abs", "--ce-gradient", "stable", "--n-boot", 10, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["config"]["affinity"] == "abs" and d["config"]["ce_gradient"] == "stable"
    assert "1 - arccos(|C|)/pi" in d["definition"] and "stable cross-entropy" in d["definition"]
    code, out, err = run_cli("quanta", "emergence", 1, "--store", db, "--n-boot", 10)  # the other analysis, wired
    assert code == 0 and json.loads(out)["n_tasks"] == 3, err
    for args, named in [(["--samples", 0], "--samples=0"), (["--clusters", 1], "clusters=1"),
                        (["--samples", 10, "--clusters", 11], "clusters=11"), (["--params", "W_Z"], "params='W_Z'"),
                        (["--member", 2], "member=2"), (["--step", 7], "step=7"),
                        (["--affinity", "cosine"], "affinity='cosine'"), (["--ce-gradient", "x"], "ce_gradient='x'")]:
        code, out, err = run_cli("quanta", "qdg", 1, "--store", db, *args)
        assert code == 2 and named in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)


def test_too_few_low_loss_samples_is_one_analysis_error_line():
    from grokscope.errors import AnalysisError

    model = FeatureMLP(FeatureMLPConfig(d_in=4, n_classes=3, width=5, depth=1)).init_(0)  # untrained: loss ~ln 3
    x, y = torch.eye(4).repeat(3, 1), torch.arange(12) % 3
    with pytest.raises(AnalysisError, match="0 of 12 samples have loss below 0.06931 nats") as e:
        qdg(model, x, y, QDGConfig(samples=12, clusters=(2,)))
    assert "\n" not in str(e.value)
