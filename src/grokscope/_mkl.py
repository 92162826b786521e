"""MKL's reproducibility mode: a member's bits must not depend on where it sits in its ensemble.

Every ensemble model computes its members with batched matrix products (``torch.bmm``), and the
library promises that member *i* gets the same bits whichever ensemble it is packed into: retired
members are dropped and the survivors go on unchanged, a refilling sweep stacks members as they
come. On the CPU torch hands those products to Intel MKL, which by default picks its kernels by the
memory alignment of each operand, and a member's alignment changes with its place. Measured on an
AMD EPYC (AVX2) with torch 2.13 and MKL 2024.2: over 840 small shapes, member 1 of a 3-member
product got other bits than the same member placed first in 78 float64 and 82 float32 shapes, and
nine tests of packing, retirement and resumption failed. The machines of earlier sessions passed
them, so MKL's default is alignment-independent on some CPUs and not on others.

MKL's Conditional Numerical Reproducibility (``MKL_CBWR``) removes the dependence: with ``AUTO``
(the CPU's own code path) no shape moved (``tests/unit/test_mkl.py``), at a cost measured by
``benchmarks/bench_mkl_cbwr.py``. MKL reads the variable once, at its first call, so grokscope sets
it on import, before any product has run. A value the user set is kept; in a process that ran an
MKL product before importing grokscope the setting comes too late.

Not covered: a batch of one member. torch computes ``bmm`` of a single matrix pair on another path
than a batch. Measured with ``AUTO``: at one thread, 23 of the 840 shapes (float32 and float64
alike, all with a single output column: MKL's matrix-vector path) differ in the last bits from the
same member in a batch of three; at two threads, 103 float64 shapes do, as MKL then splits the one
product across threads. So an ensemble that shrinks to one member can move by rounding from the
same member packed with others (``torch.bmm(a.expand(2, -1, -1), b.expand(2, -1, -1))[:1]`` would
avoid it; the models do not do that).
"""

from __future__ import annotations

import os

__all__ = ["MKL_MODE", "set_mkl_mode"]

MKL_MODE = "AUTO"  # MKL's CNR mode: the CPU's own code path, results independent of alignment


def set_mkl_mode() -> str:
    """Set ``MKL_CBWR`` to :data:`MKL_MODE` unless the user set it; return the value in force."""
    return os.environ.setdefault("MKL_CBWR", MKL_MODE)
