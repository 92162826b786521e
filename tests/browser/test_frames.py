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
