"""Subnormal floats: flush them to zero while a training loop runs, and say whether they are.

A float32 below ~1.2e-38 (float64: ~2.2e-308) is *subnormal*; x86 CPUs compute with those in
microcode, tens of times slower than with normal numbers. Weight decay drives unused weights
towards zero, so a long run fills its tensors with them and slows down as it goes: measured on
``grokscope.li2.train_cogo(23)`` (5 members, q = 512, one thread), about 3x slower per step over the
first 4,000 steps without flushing (docs/li2-solutions.md, "Subnormal floats"; the trainer's own
measurements are in docs/performance.md, "Subnormal floats").
Flushing changes results only through those values, which are rounded to 0.

:func:`flushing_denormals` sets torch's flush-to-zero mode for a block and restores the previous
mode after it; every training loop of the library runs inside it (the general trainer through
``RunConfig.flush_denormal``, default on). It is a no-op on CPUs without FTZ/DAZ.

>>> with flushing_denormals():
...     inside = flushes_denormals() or not torch.backends.cpu.get_cpu_capability()
>>> inside
True
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["flushes_denormals", "flushing_denormals"]


def flushes_denormals() -> bool:
    """Whether this thread flushes subnormal floats to zero now (torch has no getter for it)."""
    return float(torch.tensor([1e-39], dtype=torch.float32).mul_(2.0)) == 0.0


@contextmanager
def flushing_denormals(on: bool = True) -> Iterator[None]:
    """Run the block with subnormal flushing ``on`` (or off), then restore the mode found."""
    before = flushes_denormals()
    torch.set_flush_denormal(bool(on))
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
