"""A member's product does not depend on where it sits in its ensemble (grokscope/_mkl.py).

Reference: the same member's product with the member placed first in a batch of the same size,
over a grid of small shapes, float32 and float64. Each check runs in a fresh process, because MKL
reads its reproducibility mode once, at its first call. Without the mode, 62 of these 490 products
move on an AMD EPYC (AVX2) with torch 2.13; on CPUs where MKL's default is alignment-independent the
first test passes either way.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = """
import itertools, os, sys
import grokscope, torch
torch.manual_seed(0)
moved = 0
for dtype in (torch.float32, torch.float64):
    for m, k, n in itertools.product([1, 3, 5, 8, 11, 24, 40], [1, 8, 11, 24, 66], [1, 3, 7, 11, 24, 40, 97]):
        a, b = torch.randn(4, m, k, dtype=dtype), torch.randn(4, k, n, dtype=dtype)
        moved += not torch.equal(torch.bmm(a[0:3], b[0:3])[1], torch.bmm(a[1:4], b[1:4])[0])
print(os.environ.get("MKL_CBWR"), moved)
"""


def run_check(**env_changes: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=True)
    mode, moved = out.stdout.split()
    return mode, int(moved)


def test_importing_grokscope_makes_a_members_bits_independent_of_its_place():
    mode, moved = run_check()
    assert mode == "AUTO"
    assert moved == 0


def test_a_mode_the_user_set_is_kept():
    mode, _ = run_check(MKL_CBWR="AVX2")
    assert mode == "AVX2"
