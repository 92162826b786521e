"""The explorer's per-checkpoint views against references computed here from the stored weights alone:
each neuron's final frequency (the largest DFT energy of its input map at the last checkpoint) and its
star coordinates (the map's cos/sin coefficients at that frequency) by numpy's FFT. No browser needed."""

from __future__ import annotations

import numpy as np

from grokscope.analysis import load_run
from grokscope.explorer import decode_arrays, member_frames
from grokscope.explorer._data import Cache, run_frames
from grokscope.store import Store


def test_frames_match_the_stored_weights(explorer_store):
    store = Store(explorer_store)
    run = load_run(store, 1)
    steps = run.steps[-3:]
    member = 2
    meta, arrays = member_frames(run, steps, member)
    p = run.task.fourier_p
    w_in = np.stack([run.model.anatomy(run.load(s)).neuron_in[member, :p].double().numpy() for s in steps])  # [S, p, n]
    f = np.fft.rfft(w_in, axis=1)  # [S, p//2 + 1, n]: F_k = sum_x w[x] e^{-2 pi i k x / p}
    energy = np.abs(f[-1, 1 : (p + 1) // 2]) ** 2  # the last checkpoint, frequencies 1 .. (p-1)/2
    freq = energy.argmax(0) + 1  # [n]
    order = meta["order"]
    assert meta["fourier"]["neuron_freq"] == [int(freq[i]) for i in order]
    assert meta["fourier"]["neuron_freq"] == sorted(meta["fourier"]["neuron_freq"])  # grouped by frequency
    # stars: sqrt(2/p) sum_x w[x] cos(w_k x) = sqrt(2/p) Re F_k; the sine coefficient is -sqrt(2/p) Im F_k
    k = freq[order]
    coef = f[:, k, order]  # [S, n]: each neuron (in display order) at its final frequency
    ref = np.sqrt(2 / p) * np.stack([coef.real, -coef.imag], -1)  # [S, n, 2]
    np.testing.assert_allclose(arrays["stars"], ref, rtol=1e-6, atol=1e-9)
    # the weights, reordered, and what the endpoint sends (float32) are the same numbers
    np.testing.assert_allclose(arrays["neuron_in"], w_in[:, :, order], rtol=1e-12)
    sent_meta, sent = decode_arrays(run_frames(store, 1, member, Cache()))
    assert sent_meta["order"] == order and sent["stars"].dtype == np.float32
    np.testing.assert_allclose(sent["stars"][-3:], ref, rtol=1e-5, atol=1e-6)


def test_group_tasks_show_the_embedding_energy_per_irrep(tmp_path):
    """D_4 (order 8): every checkpoint's shares sum to 1, the trivial irrep's share is the closed form
    |G| * mean^2 summed over columns / the squared norm, and the frames send the stored embedding's shares."""
    from grokscope import load_config, train
    from grokscope.groups import dihedral, irrep_shares

    store = Store(tmp_path / "g.db")
    cfg = load_config(overrides=["task.kind=dihedral", "task.n=4", "task.train_frac=0.5", "model.arch=transformer",
                                 "n_members=2", "train.steps=20", "log.n_checkpoints=3"])
    res = train(cfg, store)
    run = load_run(store, res.run_id)
    meta, arrays = member_frames(run, run.steps, 1)
    assert meta["fourier"] is None and meta["irreps"]["group"] == "D_4"
    assert meta["irreps"]["dims"].count(2) == 1 and meta["irreps"]["dims"].count(1) == 4  # D_4: four 1-d, one 2-d
    shares = arrays["irreps"]  # [n_steps, components]
    np.testing.assert_allclose(shares.sum(1), 1.0, rtol=1e-12)
    trivial = meta["irreps"]["labels"].index(irrep_shares(dihedral(4), np.ones((8, 1))).labels[0])
    for j, s in enumerate(run.steps):
        emb = run.model.anatomy(run.load(s)).embedding[1, :8].double().numpy()  # [|G|, d]
        np.testing.assert_allclose(shares[j, trivial], 8 * (emb.mean(0) ** 2).sum() / (emb ** 2).sum(), rtol=1e-10)
        np.testing.assert_allclose(shares[j], irrep_shares(dihedral(4), emb).shares[0].numpy(), rtol=1e-10)
