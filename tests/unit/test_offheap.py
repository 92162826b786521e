"""``grokscope._malloc.OffHeap``: copies outside malloc's heap read back equal, in every dtype and shape."""

import mmap

import numpy as np
import pytest
import torch

from grokscope._malloc import OffHeap


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 5, 7)])
def test_tensor_round_trip(dtype, shape):
    gen = torch.Generator().manual_seed(0)
    t = (torch.randn(shape, generator=gen) * 5).to(dtype)
    pages = OffHeap(chunk_bytes=64)  # tiny chunks: values span several maps
    other = t.transpose(0, 2) if t.dim() == 3 else t  # non-contiguous where it can be
    slots = [pages.put(t), pages.put(other)]
    ref, ref_other = t.clone(), other.clone()
    back = OffHeap.get_tensor(slots[0])
    assert back.dtype == dtype and back.shape == t.shape and torch.equal(back, ref)
    t.zero_()  # the slots hold copies, not views of the source
    assert torch.equal(OffHeap.get_tensor(slots[0]), ref) and torch.equal(OffHeap.get_tensor(slots[1]), ref_other)


def test_non_contiguous_tensor_and_arrays():
    t = torch.arange(12.0).view(3, 4).T  # non-contiguous
    pages = OffHeap()
    assert torch.equal(OffHeap.get_tensor(pages.put(t)), t)
    a = np.linspace(0, 1, 9).reshape(3, 3)[:, ::2]
    slots = [pages.put(a), pages.put(np.float64(2.5)), pages.put([1, 2, 3]), pages.put(np.array(["x"], dtype=object))]
    np.testing.assert_array_equal(OffHeap.get(slots[0]), a)
    assert OffHeap.get(slots[1]).shape == () and float(OffHeap.get(slots[1])) == 2.5
    assert OffHeap.get(slots[2]).tolist() == [1, 2, 3]
    assert OffHeap.get(slots[3]).tolist() == ["x"]


def test_copies_live_in_mmap_pages_not_in_the_heap():
    pages = OffHeap()
    slot = pages.put(np.ones(10))
    assert isinstance(slot[1], mmap.mmap)
    assert all(isinstance(x, (str, int, tuple, mmap.mmap)) for x in slot)
