"""Process memory: keep per-step buffers in the heap, keep long-lived copies out of it.

**Why tune.** By default glibc serves large allocations with mmap and returns them to the OS on
free, so a training step that allocates and frees the same activation buffers every step pays page
faults for all of them again (measured on this project's 2-core machine: a visible share of a
small step). Turning off mmap for large blocks and the heap trim keeps those pages mapped. The CLI
calls :func:`tune_malloc` at start-up; library users may call it themselves. It is process-wide and
a no-op off glibc.

**Why keep long-lived copies out of the heap.** A heap that serves both a step's large transient
buffers and small allocations that live for many steps (a run's logged metrics, pending weight
checkpoints) fragments: each long-lived piece lands inside a hole a freed activation left, the next
step's activations no longer fit there and the heap grows at its top. Measured on the
``nanda-p113`` preset (docs/performance.md, "Memory"): 1.4 GB of free but resident heap after 60
steps for ~100 MB in use, with or without :func:`tune_malloc` (glibc's own mmap threshold rises to
the activations' size after the first free). :class:`OffHeap` keeps such copies in anonymous
mmap pages of their own, which the OS takes back when the copies are dropped, so the heap holds
only the step's buffers and reuses them. :func:`release_free_memory` hands the heap's free pages
back to the OS (glibc ``malloc_trim``), e.g. at the end of a run.

>>> tune_malloc() in (True, False)
True
>>> import numpy as np
>>> pages = OffHeap()
>>> slot = pages.put(np.arange(3.0))
>>> OffHeap.get(slot).tolist(), release_free_memory() in (True, False)
([0.0, 1.0, 2.0], True)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
from typing import Any

import numpy as np

__all__ = ["OffHeap", "release_free_memory", "tune_malloc"]

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_MAX = -4
_ALIGN = 64  # bytes; what torch's CPU allocator aligns to


def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def tune_malloc() -> bool:
    """Disable mmap for large blocks and heap trimming (glibc ``mallopt``); True if applied."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # 2**30: trim only when a gigabyte sits free at the top of the heap (INT_MAX is also valid)
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS (glibc ``malloc_trim(0)``); True if glibc did it.

    Costs a walk over the free chunks (milliseconds) and a page fault on each released page that
    is used again, so call it between runs or every few seconds, not every step.
    """
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


class OffHeap:
    """Copies of arrays and tensors in anonymous mmap pages, outside malloc's heap.

    ``put(x)`` copies an array-like (or a tensor, any device and dtype) into pages this object
    maps, ``chunk_bytes`` at a time (more for a bigger value), and returns a *slot*: a tuple of
    plain Python values, which live in Python's own small-object arenas, not in malloc's heap.
    ``get(slot)`` is the copy as a numpy array, ``get_tensor(slot)`` as a CPU tensor (views, made
    when needed and dropped after use). The pages go back to the OS once this object and every
    slot and view of them are gone: use one ``OffHeap`` per group of copies dropped together.
    """

    def __init__(self, chunk_bytes: int = 1 << 18):
        self.chunk_bytes = int(chunk_bytes)
        self._map: mmap.mmap | None = None
        self._offset = 0

    def _take(self, n_bytes: int) -> tuple[mmap.mmap, int]:
        offset = -(-self._offset // _ALIGN) * _ALIGN
        if self._map is None or offset + n_bytes > len(self._map):
            size = max(self.chunk_bytes, n_bytes, 1)
            self._map, offset = mmap.mmap(-1, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE), 0
        self._offset = offset + n_bytes
        return self._map, offset

    def put(self, x: Any) -> tuple:
        """Copy ``x`` into these pages; the slot to read it back with."""
        if hasattr(x, "detach"):  # a tensor: raw bytes, so every torch dtype fits
            import torch

            t = x.detach()
            n = t.numel() * t.element_size()
            buf, offset = self._take(n)
            if n:
                dst = torch.frombuffer(buf, dtype=torch.uint8, count=n, offset=offset)
                dst.view(t.dtype).view(t.shape).copy_(t)
            return ("tensor", buf, offset, str(t.dtype).removeprefix("torch."), tuple(t.shape))
        x = np.asarray(x)
        if x.dtype.hasobject:
            return ("object", x.copy())
        buf, offset = self._take(x.nbytes)
        if x.nbytes:
            np.frombuffer(buf, dtype=x.dtype, count=x.size, offset=offset).reshape(x.shape)[...] = x
        return ("array", buf, offset, x.dtype.str, x.shape)

    @staticmethod
    def get(slot: tuple) -> np.ndarray:
        """The copy in ``slot`` as a numpy array (a view of the pages; a tensor slot as its bytes' dtype)."""
        if slot[0] == "object":
            return slot[1]
        if slot[0] == "tensor":
            return OffHeap.get_tensor(slot).numpy()
        _, buf, offset, dtype, shape = slot
        n = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(buf, dtype=dtype, count=n, offset=offset).reshape(shape)

    @staticmethod
    def get_tensor(slot: tuple):
        """The copy in ``slot`` as a CPU tensor (a view of the pages)."""
        import torch

        if slot[0] != "tensor":
            return torch.from_numpy(OffHeap.get(slot))
        _, buf, offset, dtype, shape = slot
        dtype = getattr(torch, dtype)
        n = int(np.prod(shape, dtype=np.int64)) * torch.empty((), dtype=dtype).element_size()
        if n == 0:
            return torch.empty(shape, dtype=dtype)
        return torch.frombuffer(buf, dtype=torch.uint8, count=n, offset=offset).view(dtype).view(shape)
