"""Node labels of the measured landscape for group tasks: irreps in use and the memorized fraction.

References: matrix coefficients of an irrep lie in its isotypic component (Serre 1977, Thm. 8), so an
embedding built from them has all its non-trivial energy there; a faithful irrep's character
takes its maximum d only at the identity, so logits Re χ(a·b·c⁻¹) answer every pair; the task's
own element numbering equals grokscope.groups' for S_n and D_n (both documented)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from grokscope.groups import dihedral, irrep_shares, irreps, symmetric
from grokscope.landscape_measured import (
    irrep_label,
    irreps_in_use,
    load_members,
    memorized_fraction,
)
from grokscope.tasks import composed_group, make_task


def _task(kind: str, n: int):
    return make_task(kind, n=n)


@pytest.mark.parametrize("kind, n, ref", [("permutation", 4, symmetric), ("dihedral", 5, dihedral),
                                          ("permutation", 3, symmetric)])
def test_the_group_a_task_names_is_its_own_table(kind, n, ref):
    task = _task(kind, n)
    g = composed_group(task)
    assert g.name == ref(n).name and torch.equal(g.table, task.labels.reshape(g.order, g.order))
    assert composed_group(make_task("modular", op="add", p=7)) is None


def _planted(group, comps: list[int], noise: float, seed: int) -> torch.Tensor:
    """``[1, |G|, d]``: each chosen component's matrix coefficients (real and imaginary parts), randomly
    mixed and scaled to unit energy per component, plus isotropic noise of relative energy ``noise``."""
    rng = torch.Generator().manual_seed(seed)
    table, n = irreps(group), group.order
    blocks = []
    for c in comps:
        cols = torch.cat([torch.cat([r.matrices.real.reshape(n, -1), r.matrices.imag.reshape(n, -1)], 1)
                          for r in (table.irreps[k] for k in table.components[c])], 1).double()  # [|G|, *]
        mixed = cols @ torch.randn(cols.shape[1], 6, generator=rng, dtype=torch.float64)
        blocks.append(mixed / mixed.norm())
    w = torch.cat(blocks, 1)
    w = w + torch.randn(w.shape, generator=rng, dtype=torch.float64) * (noise * w.norm() ** 2 / w.numel()) ** 0.5
    return w[None]


@pytest.mark.parametrize("kind, n, comps", [
    ("permutation", 4, [3]),  # one 3-dimensional irrep (S_4's standard representation or its sign twist)
    ("permutation", 4, [2, 4]),  # the 2-dimensional irrep and a 3-dimensional one
    ("permutation", 4, [1, 2, 3, 4]),  # every non-trivial one
    ("dihedral", 5, [2]),  # one 2-dimensional irrep of D_5
    ("dihedral", 5, [1, 3]),  # the sign of the reflections and the other 2-dimensional irrep
    ("permutation", 3, [2]),
])
def test_a_planted_embedding_is_labelled_with_exactly_its_irreps(kind, n, comps):
    group = composed_group(_task(kind, n))
    for seed in range(3):
        sh = irrep_shares(group, _planted(group, comps, noise=0.01, seed=seed))
        assert irreps_in_use(sh.shares[0].numpy(), sh.labels) == [sh.labels[c] for c in comps]


def test_the_trivial_component_is_left_out_and_the_rule_takes_the_fewest_reaching_90_percent():
    labels = ["ρ0", "ρ1", "ρ2", "ρ3"]
    assert irreps_in_use(np.array([0.9, 0.0, 0.1, 0.0]), labels) == ["ρ2"]  # the constant part is ignored
    assert irreps_in_use(np.array([0.0, 0.05, 0.5, 0.45]), labels) == ["ρ2", "ρ3"]  # 0.95 >= 0.9 with two
    assert irreps_in_use(np.array([0.0, 0.1, 0.5, 0.4]), labels) == ["ρ2", "ρ3"]  # exactly 0.9
    assert irreps_in_use(np.array([0.0, 0.2, 0.45, 0.35]), labels) == ["ρ1", "ρ2", "ρ3"]
    assert irreps_in_use(np.array([1.0, 0.0, 0.0, 0.0]), labels) == []
    assert irrep_label(["ρ2"], 0.04) == "{ρ2} mem=0.0" and irrep_label([], 0.96) == "{} mem=1.0"


def _character_logits(task, group, comps: list[int]) -> torch.Tensor:
    """``[n_all, C]`` logits Σ_c Re χ_c(a·b·c⁻¹) over the irreps of the chosen components."""
    table, n = irreps(group), group.order
    a, b = task.inputs[:, 0], task.inputs[:, 1]
    g = group.table[group.table[a, b][:, None], group.inverse[torch.arange(n)][None, :]]
    chi = sum(table.irreps[k].character.real for c in comps for k in table.components[c])  # [|G|]
    return chi[g]


def test_memorized_fraction_of_a_character_circuit_and_of_a_lookup_table():
    task = _task("permutation", 4)
    group = composed_group(task)
    sh = irrep_shares(group, torch.randn(1, group.order, 3, dtype=torch.float64))
    three = next(c for c, d in enumerate(sh.dims) if d == 3)
    train = torch.rand(task.n_all, generator=torch.Generator().manual_seed(0)) < 0.4
    circuit = _character_logits(task, group, [three])
    # Faithful 3-d irrep: χ = 3 only at the identity, so the circuit answers every pair ...
    assert memorized_fraction(circuit, group, task.inputs, task.labels, train, []) == 1.0
    # ... and with its irrep removed nothing is left: no training pair is answered by memorization.
    assert memorized_fraction(circuit, group, task.inputs, task.labels, train, [three]) == 0.0
    # A lookup table of the training pairs (margin 10 over unit noise, 40% of the pairs) keeps them
    # even with every non-trivial irrep's function of a·b·c⁻¹ removed: that part is at most 10 * 0.4.
    noise = torch.randn(task.n_all, task.n_classes, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    table = noise + 10.0 * torch.nn.functional.one_hot(task.labels, task.n_classes) * train[:, None]
    everything = list(range(1, len(sh.labels)))
    assert memorized_fraction(table, group, task.inputs, task.labels, train, everything) >= 0.95


def test_a_trained_group_run_is_labelled_from_its_stored_embedding(tmp_path):
    """Every checkpoint's irreps are those of [W_in_a | W_in_b] read from the store directly."""
    from grokscope import load_config, train
    from grokscope.store import Store

    store = Store(tmp_path / "g.db")
    cfg = load_config(preset="demo", overrides=["task.kind=dihedral", "task.n=5", "model.arch=li2", "model.d_hidden=16",
                                                "n_members=2", "train.steps=30", "log.n_checkpoints=4", "threads=1",
                                                "train.stop_after_grok=false"])
    run_id = train(cfg, store=store).run_id
    members = load_members(store, run_id, run=True)
    group = composed_group(cfg.build_task())
    for rec in members:
        assert len(rec.labels) == len(store.checkpoint_steps(run_id))
        for step, label in zip(rec.steps, rec.labels):
            ck = store.load_checkpoint(run_id, int(step))
            emb = torch.cat([ck["mlp.W_in_a"], ck["mlp.W_in_b"]], -1)[rec.member : rec.member + 1]
            sh = irrep_shares(group, emb.double())
            names = irreps_in_use(sh.shares[0].numpy(), sh.labels)
            assert re.fullmatch(r"\{[^}]*\} mem=(0|1)\.\d", label)
            assert label.startswith("{" + ",".join(names) + "} ")
