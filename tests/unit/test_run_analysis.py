"""analyze_run: one JSON data object per run, its numbers checked against references computed here.

References: numpy's FFT for the Fourier spectra (not grokscope's real basis), torch's own
cross-entropy on the reference model for the losses, plain sums for the relevant-bit mass.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import grokscope as gs
from grokscope.analysis import MEASURES, RunAnalysis, analyze_run
from grokscope.models import build_model

SRC = Path(gs.__file__).parent


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    store = gs.Store(tmp_path_factory.mktemp("store") / "runs.db")
    cfg = gs.load_config(preset="pair-mod67", overrides=[
        "task.p=11", "model.d_embed=6", "model.d_hidden=10", "train.steps=40", "n_members=3",
        "log.n_checkpoints=4", "optim.lr=1e-2",
    ])  # fmt: skip
    return store, gs.train(cfg, store=store).run_id, cfg


def test_json_round_trip(pair_run):
    store, run_id, _ = pair_run
    ra = analyze_run(store, run_id)
    text = ra.to_json()
    back = json.loads(text)
    assert back == json.loads(json.dumps(back))  # plain JSON, no NaN tokens (allow_nan=False wrote it)
    again = RunAnalysis.from_json(text)
    assert again.to_dict() == back
    assert back["steps"] == store.checkpoint_steps(run_id)
    for name, rows in back["curves"].items():
        assert len(rows) == len(back["steps"]) and all(len(r) == 3 for r in rows), name
        np.testing.assert_array_equal(again.curve(name), ra.curve(name))
    assert set(back["results"]) == set(back["definitions"])
    assert {"phases", "fourier_snapshot", "key_frequencies", "heuristic_walk"} <= set(back["results"])


def _real_energy(fft: np.ndarray, p: int) -> np.ndarray:
    """Energy per frequency 0..p//2 in an orthonormal real basis, from an unnormalized FFT along axis 0."""
    power = np.abs(fft) ** 2 / p  # [p, ...]
    k = np.arange(p // 2 + 1)
    return np.stack([power[0] if j == 0 else power[j] + (power[p - j] if p - j != j else 0) for j in k])


def test_fourier_numbers_equal_a_direct_computation(pair_run):
    store, run_id, cfg = pair_run
    ra = analyze_run(store, run_id)
    snap = ra.results["fourier_snapshot"]
    m, step = ra.best_member, ra.steps[-1]
    assert snap["step"] == step and snap["member"] == m
    state = store.load_checkpoint(run_id, step)
    p = 11
    # The embedding's energy per frequency (summed over embedding dimensions), by numpy's FFT.
    w_e = state["embed.W_E"][m].double().numpy()  # [p, d_embed]
    e = _real_energy(np.fft.fft(w_e, axis=0), p).sum(-1)
    np.testing.assert_allclose(snap["embed_energy"], e, rtol=1e-9, atol=1e-12)
    rest = e[1:]
    key = [k for k in range(1, len(e)) if e[k] >= 10 * np.median(rest) and e[k] >= 0.02 * rest.sum() and e[k] > 0]
    assert snap["key_freqs"] == key
    # PAIR's neurons are made by their input map W_E·W_in: its dominant frequency, by numpy's FFT.
    assert snap["neuron_freq_from"] == "input map"
    w_in = (state["embed.W_E"][m].double() @ state["mlp.W_in"][m].double()).numpy()  # [p, d_hidden]
    e_in = _real_energy(np.fft.fft(w_in, axis=0), p)[1:]  # [K, n]
    np.testing.assert_array_equal(snap["neuron_freq"], e_in.argmax(0) + 1)
    np.testing.assert_allclose(snap["neuron_frac"], e_in.max(0) / e_in.sum(0), rtol=1e-6)  # W_E·W_in in float32
    task = cfg.build_task()
    ens = build_model(cfg, task)
    # Losses of every checkpoint: torch's cross-entropy on the reference model.
    masks = gs.tasks.Split.from_arrays(store.load_arrays(run_id, "split")).masks(task.n_all)
    for i, s in enumerate(ra.steps):
        ens.load_state_dict(store.load_checkpoint(run_id, s))
        for j in range(3):
            logits = ens.member(j)(task.inputs).double()
            for split, mask in masks.items():
                want = F.cross_entropy(logits[mask[j]], task.labels[mask[j]]).item()
                assert ra.curve(f"{split}_loss")[i, j] == pytest.approx(want, rel=1e-5)  # float32 logits


def test_transformer_neurons_take_the_frequency_of_their_activations(tmp_path):
    store = gs.Store(tmp_path / "runs.db")
    cfg = gs.load_config(preset="nanda-p113", overrides=[
        "task.p=7", "model.d_model=8", "model.d_mlp=12", "model.n_heads=2", "model.d_head=4", "train.steps=30",
        "n_members=2", "log.n_checkpoints=3",
    ])  # fmt: skip
    run_id = gs.train(cfg, store=store).run_id
    ra = analyze_run(store, run_id)
    snap, p = ra.results["fourier_snapshot"], 7
    assert snap["neuron_freq_from"] == "activations" and snap["stars"] is None
    ens = build_model(cfg, cfg.build_task())
    ens.load_state_dict(store.load_checkpoint(run_id, ra.steps[-1]))
    a = torch.arange(p)
    pairs = torch.stack(torch.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)
    tokens = torch.cat([pairs, torch.full((p * p, 1), p)], 1)  # "a b =": the "=" token is p
    _, cache = ens.member(ra.best_member).run_with_cache(tokens)
    acts = cache["blocks.0.mlp.hook_post"][:, -1].double().numpy().reshape(p, p, -1)  # [a, b, neuron]
    power = np.abs(np.fft.fft2(acts, axes=(0, 1))) ** 2 / p**2  # [k_a, k_b, n]

    def bin_energy(ka, kb):
        return sum(power[sa * ka % p, sb * kb % p] for sa in ((1, -1) if ka else (1,)) for sb in ((1, -1) if kb else (1,)))

    per = np.stack([bin_energy(k, 0) + bin_energy(0, k) + bin_energy(k, k) for k in range(1, p // 2 + 1)])  # [K, n]
    total = power.sum((0, 1)) - power[0, 0]
    np.testing.assert_array_equal(snap["neuron_freq"], per.argmax(0) + 1)
    dead = total == 0  # a neuron silent on every input has no variance to share: 0 by definition
    want = np.where(dead, 0.0, per.max(0) / np.where(dead, 1.0, total))
    np.testing.assert_allclose(snap["neuron_frac"], want, rtol=1e-5)  # float32 activations


def test_stars_caption_names_the_output_map_of_the_model():
    from grokscope.analysis._snapshot import map_titles
    from grokscope.models import PairMLPConfig, PairMLPEnsemble

    tied = PairMLPEnsemble(PairMLPConfig(p=7, d_embed=4, d_hidden=5, output="tied"), n_models=1).init_([0])
    untied = PairMLPEnsemble(PairMLPConfig(p=7, d_embed=4, d_hidden=5, output="untied"), n_models=1).init_([0])
    assert map_titles(tied.anatomy()) == ("W_E·W_in", "W_out·W_Eᵀ")
    assert map_titles(untied.anatomy()) == ("W_E·W_in", "W_out·W_U")


def test_parity_measure_applies_and_matches_the_weights(tmp_path):
    store = gs.Store(tmp_path / "runs.db")
    cfg = gs.load_config(preset="pair-parity", overrides=[
        "task.n_bits=8", "task.n_train=64", "task.n_test=32", "model.width=6", "train.steps=20", "n_members=2",
        "log.n_checkpoints=3",
    ])  # fmt: skip
    run_id = gs.train(cfg, store=store).run_id
    ra = analyze_run(store, run_id)
    applied = {m.name for m in MEASURES if m.name in ra.results}
    assert "parity_relevant_bits" in applied and "fourier_snapshot" not in applied
    positions = sorted(int(i) for i in cfg.build_task().positions)
    for i, s in enumerate(ra.steps):
        w = store.load_checkpoint(run_id, s)["blocks.0.mlp.W_in"].double().numpy()  # [model, n_bits, width]
        l1 = np.abs(w).sum(-1)
        want = l1[:, positions].sum(-1) / l1.sum(-1)
        np.testing.assert_allclose(ra.results["parity_relevant_bits"]["relevant_l1"][i], want, rtol=1e-12)


def test_member_and_steps_are_checked(pair_run):
    store, run_id, _ = pair_run
    with pytest.raises(gs.GrokscopeError, match=r"^member=3: .*\n?$"):
        analyze_run(store, run_id, member=3)
    with pytest.raises(gs.GrokscopeError, match="steps=") as e:
        analyze_run(store, run_id, steps=[123456])
    assert "\n" not in str(e.value)
    ra = analyze_run(store, run_id, member=1, steps=store.checkpoint_steps(run_id)[:2])
    assert ra.results["fourier_snapshot"]["member"] == 1 and len(ra.steps) == 2


def test_report_draws_the_splits_and_groups_a_run_logged(tmp_path):
    from grokscope.report import write_report

    store = gs.Store(tmp_path / "runs.db")
    run_id = store.create_run("train", {"p": 5}, [{"seed": 0}, {"seed": 1}])
    steps = [1, 10, 100]
    metrics = []
    for s in steps:
        row = {}
        for split in ("train", "test", "unseen", "all"):
            row[f"{split}_acc"], row[f"{split}_loss"] = [s / 100, 1.0], [1 / s, 0.5]
            for g in ("odd", "even"):
                row[f"{split}_acc/{g}"], row[f"{split}_loss/{g}"] = [s / 200, 0.5], [2 / s, 0.7]
        metrics.append((s, row))
    store.flush(run_id, metrics=metrics)
    path = write_report(store, run_id, analysis=False)
    names = {p.name for p in path.parent.iterdir()}
    assert {"accuracy.png", "loss.png", "accuracy_by_group.png", "loss_by_group.png"} <= names
    text = path.read_text()
    assert "Train, test and unseen accuracy." in text and "Accuracy on each group of rows the task names" in text


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_analysis_imports_neither_report_nor_cli():
    for path in sorted((SRC / "analysis").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(("grokscope.report", "grokscope.cli"))}
        assert not bad, (path.name, bad)


def test_nothing_in_analysis_or_report_reads_parameter_names():
    # Constructions (analysis/_construct.py) write PAIR's state dict and may name its tensors; the
    # deprecated weight_views of report/_weights.py reads bare state dicts without a config.
    allowed = {"_construct.py", "_weights.py"}
    for path in sorted([*(SRC / "analysis").glob("*.py"), *(SRC / "report").glob("*.py")]):
        if path.name in allowed:
            continue
        strings = [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str) and not n.value.startswith(("\n", " "))]
        hits = [s for s in strings if any(w in s for w in ("embed.W_E", "mlp.W_in", "mlp.W_out", "unembed.W_U"))
                and len(s) < 40]
        assert not hits, (path.name, hits)
    assert math.isfinite(1.0)


def test_a_features_task_with_groups_and_a_toy_architecture():
    from toys import Blobs, ToyConfig, ToyEnsemble

    from grokscope.analysis import RunData, analyze_run_data

    task = Blobs(n_per_class=6, d=4, seed=1)
    ens = ToyEnsemble(ToyConfig(d_in=4, n_classes=3, d_hidden=5), n_models=2).init_([3, 4])
    states = {0: {k: v.clone() for k, v in ens.state_dict().items()}, 10: {k: 2 * v for k, v in ens.state_dict().items()}}
    g = torch.Generator().manual_seed(0)
    train = torch.rand(2, task.n_all, generator=g) < 0.5
    run = RunData(task, ens, [0, 10], lambda s: states[s], train, ~train, None, "toy")
    ra = analyze_run_data(run)
    assert ra.task["input_kind"] == "features" and ra.task["groups"] == ["class0", "class1", "class2"]
    assert ra.model["arch"] == "toy_relu" and "fourier_snapshot" not in ra.results and "phases" in ra.results
    json.loads(ra.to_json())
    for i, s in enumerate(ra.steps):
        model = ToyEnsemble(ens.cfg, n_models=2)
        model.load_state_dict(states[s])
        for m in range(2):
            logits = model.member(m)(task.inputs).double()
            for c in range(3):
                rows = (task.labels == c) & train[m]
                want = F.cross_entropy(logits[rows], task.labels[rows]).item()
                assert ra.curve(f"train_loss/class{c}")[i, m] == pytest.approx(want, rel=1e-6)
