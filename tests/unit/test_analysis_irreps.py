"""Which irreps a network uses (grokscope.analysis._irreps), checked against references built here.

References: the character table of S_4 written from cycle types (trivial, sign, the 2-dimensional
irrep, the standard irrep ``fix − 1`` and its sign twist; Fulton & Harris 1991, "Representation
Theory", §2.3), whose isotypic projectors ``P_χ = (χ(1)/|G|) Σ_g χ(g) L(g)`` (Serre 1977, Thm. 8)
give each share as ``‖P_χ x‖² / ‖x‖²`` with no use of the numerically computed irreps; embeddings
planted from the matrix coefficients of chosen irreps (which span exactly their isotypic
components: Peter–Weyl); numpy's FFT for a cyclic group.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

import grokscope as gs
from grokscope.analysis import analyze_run, irrep_usage
from grokscope.plots import plot_irrep_usage
from grokscope.groups import irreps, parse_group, symmetric


def _coefficients(group, index: int) -> torch.Tensor:
    """``[|G|, 2 d²]`` real functions on G: real and imaginary parts of irrep ``index``'s matrix entries."""
    m = irreps(group).irreps[index].matrices.reshape(group.order, -1)
    return torch.cat([m.real, m.imag], 1)


def _s4_characters() -> dict[str, np.ndarray]:
    """S_4's characters on its elements (lexicographic permutations, as the task numbers them), by cycle type."""
    perms = list(itertools.permutations(range(4)))

    def cycle_type(p):
        seen, lengths = set(), []
        for i in range(4):
            if i not in seen:
                n, j = 0, i
                while j not in seen:
                    seen.add(j)
                    j, n = p[j], n + 1
                lengths.append(n)
        return tuple(sorted(lengths, reverse=True))

    two = {(1, 1, 1, 1): 2, (2, 1, 1): 0, (2, 2): 2, (3, 1): -1, (4,): 0}
    sign = np.array([(-1) ** (4 - len(cycle_type(p))) for p in perms], dtype=float)
    fix = np.array([sum(p[i] == i for i in range(4)) for p in perms], dtype=float)
    return {"trivial": np.ones(24), "sign": sign, "two": np.array([two[cycle_type(p)] for p in perms], dtype=float),
            "standard": fix - 1, "standard_x_sign": (fix - 1) * sign}


def _s4_projector(chi: np.ndarray) -> np.ndarray:
    """``P[h, h'] = (χ(1)/|G|) χ(h·h'⁻¹)`` (characters of S_4 are real)."""
    g = symmetric(4)
    diff = g.table[:, g.inverse].numpy()
    return chi[0] / 24 * chi[diff]


def _label_of(g, chi: np.ndarray) -> str:
    """The component label whose computed character equals the reference character ``chi``."""
    table = irreps(g)
    for comp in table.components:
        if np.allclose(table.irreps[comp[0]].character.real.numpy(), chi, atol=1e-8):
            return table.component_label(comp)
    raise AssertionError("reference character not found")


def test_shares_equal_explicit_character_projectors_and_sum_to_one():
    g = symmetric(4)
    w = torch.randn(3, 24, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # [model, |G|, d]
    u = irrep_usage(g, [5], [w], [w], [w])
    shares = np.asarray(u.embedding[0])  # [model, n_components]
    np.testing.assert_allclose(shares.sum(-1), 1.0, rtol=0, atol=1e-12)
    x = w.numpy()
    total = (x ** 2).sum((1, 2))  # [model]
    for chi in _s4_characters().values():
        p = _s4_projector(chi)
        ref = (np.einsum("hk,mkd->mhd", p, x) ** 2).sum((1, 2)) / total
        np.testing.assert_allclose(shares[:, u.labels.index(_label_of(g, chi))], ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(u.unembedding[0]), shares, rtol=0, atol=0)
    counts = np.asarray(u.neurons_per_irrep[0])
    assert counts.sum(-1).tolist() == [7, 7, 7] and counts[:, 0].sum() == 0  # the trivial component names no neuron


@pytest.mark.parametrize("spec,planted", [("symmetric:4", [3, 4]), ("symmetric:4", [2]), ("dihedral:7", [2, 4]),
                                          ("symmetric:3", [1])])
def test_a_planted_embedding_gets_exactly_its_irreps(spec, planted):
    g = parse_group(spec)
    table = irreps(g)
    cols = [_coefficients(g, k) for k in planted] + [torch.full((g.order, 3), 2.5, dtype=torch.float64)]
    emb = torch.cat(cols, 1)[None]  # [model=1, |G|, d]: chosen irreps plus a constant (trivial) part
    u = irrep_usage(g, [0], [emb], [None], [emb])
    want = sorted(table.component_label(c) for c in table.components if c[0] in planted)
    assert sorted(u.embedding_in_use[0][0]) == want
    shares = np.asarray(u.embedding[0][0])
    outside = [i for i, c in enumerate(table.components) if c[0] not in planted and i != 0]
    assert shares[outside].max() < 1e-12
    # Schur orthogonality: each of the d_k² complex coefficients of a unitary irrep has Σ_g |ρ_ij(g)|² = |G|/d_k,
    # so irrep k's block has norm² d_k·|G|; the constant block has norm² 3·2.5²·|G|
    energy = {k: table.irreps[k].dim * g.order for k in planted}
    total = sum(energy.values()) + 3 * 6.25 * g.order
    np.testing.assert_allclose(shares[0], 3 * 6.25 * g.order / total, rtol=1e-10)
    assert u.unembedding is None and u.unembedding_in_use is None


def test_neuron_purity_of_pure_mixed_and_constant_neurons():
    g = symmetric(4)
    table = irreps(g)
    a = _coefficients(g, 3)[:, 0]  # a function in the standard irrep's component, say
    b = _coefficients(g, 1)[:, 0]  # the sign character
    a, b = a / a.norm(), b / b.norm()
    neurons = torch.stack([a + 7.0, math.sqrt(0.75) * a + math.sqrt(0.25) * b, torch.ones(24), 0.3 * b], 1)[None]
    u = irrep_usage(g, [0], [neurons], [None], [neurons])
    lab = [table.component_label(c) for c in table.components]
    purity, irrep = u.neuron_purity[0], u.neuron_irrep[0]
    assert purity[0] == pytest.approx(1.0, abs=1e-12) and irrep[0] == lab[3]  # the constant offset is left out
    assert purity[1] == pytest.approx(0.75, abs=1e-12) and irrep[1] == lab[3]
    assert purity[2] is None and irrep[2] is None  # a constant tells no element apart
    assert purity[3] == pytest.approx(1.0, abs=1e-12) and irrep[3] == lab[1]
    assert u.purity_median[0][0] == pytest.approx(1.0, abs=1e-12)  # median of (1, 0.75, 1)


def test_cyclic_shares_equal_numpy_fourier_power():
    g = parse_group("cyclic:9")
    x = torch.randn(1, 9, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    u = irrep_usage(g, [0], [x], [None], [None])
    power = (np.abs(np.fft.fft(x[0].numpy(), axis=0)) ** 2).sum(1)  # [9]
    ref = np.array([power[0]] + [power[k] + power[9 - k] for k in range(1, 5)]) / power.sum()
    np.testing.assert_allclose(np.asarray(u.embedding[0][0]), ref, rtol=1e-10)
    assert u.neuron_purity is None and u.purity_median is None


@pytest.fixture(scope="module")
def group_run(tmp_path_factory):
    store = gs.Store(tmp_path_factory.mktemp("store") / "runs.db")
    cfg = gs.load_config(preset="nanda-p113", overrides=[
        "task.kind=permutation", "task.n=3", "task.train_frac=0.5", "model.d_model=16", "model.n_heads=2",
        "model.d_head=8", "model.d_mlp=24", "train.steps=20", "n_members=2", "log.n_checkpoints=3",
    ])  # fmt: skip
    return store, gs.train(cfg, store=store).run_id


def test_analyze_run_includes_irreps_of_a_transformer_on_s3(group_run):
    store, run_id = group_run
    ra = analyze_run(store, run_id)
    r = json.loads(ra.to_json())["results"]["irreps"]
    assert r["group"] == "S_3" and r["steps"] == ra.steps and r["dims"] == [1, 1, 2]
    step = ra.steps[-1]
    w_e = store.load_checkpoint(run_id, step)["embed.W_E"].double()[:, :6]  # [model, |G|, d_model]; row 6 is "="
    for m in range(2):
        x = w_e[m].numpy()
        chars = {"trivial": np.ones(6), "sign": np.array([1, -1, -1, 1, 1, -1.0])}  # lexicographic S_3
        chars["standard"] = np.array([sum(p[i] == i for i in range(3)) - 1 for p in itertools.permutations(range(3))],
                                     dtype=float)
        g = symmetric(3)
        diff = g.table[:, g.inverse].numpy()
        for chi in chars.values():
            p = chi[0] / 6 * chi[diff]
            ref = ((p @ x) ** 2).sum() / (x ** 2).sum()
            assert r["embedding"][-1][m][r["labels"].index(_label_of(g, chi))] == pytest.approx(ref, rel=1e-9)
    assert len(r["neuron_purity"][0]) == 24 and len(r["unembedding"]) == len(ra.steps)
    assert "irreps_in_use" in ra.summary() and "irreps" in ra.definitions


def test_the_figure_draws_one_line_per_component(group_run):
    store, run_id = group_run
    r = json.loads(analyze_run(store, run_id).to_json())["results"]["irreps"]
    fig = plot_irrep_usage(r, member=1, title="S_3")
    axes = fig.get_axes()
    assert len(axes) == 2 and all(len(ax.get_lines()) == 3 for ax in axes)
    np.testing.assert_allclose(axes[1].get_lines()[2].get_ydata(), [row[1][2] for row in r["unembedding"]])


def test_mismatched_inputs_are_one_line_errors():
    g = symmetric(3)
    w = torch.zeros(1, 6, 2, dtype=torch.float64)
    with pytest.raises(gs.errors.ConfigError, match="weights per step"):
        irrep_usage(g, [0, 1], [w], [None], [None])
    with pytest.raises(gs.errors.ConfigError, match="weight shape"):
        irrep_usage(g, [0], [w[:, :4]], [None], [None])  # fewer rows than |G|
