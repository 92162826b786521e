"""Sparse parity: the label of a bit string is the parity of ``k`` of its ``n_bits`` bits.

The "1s and 0s" task of the PAIR explorable (Pearce et al. 2023, "Do machine learning
models memorize or generalize?"): random strings of 30 bits, the label is whether the
first 3 bits hold an odd number of ones; the other 27 bits are distractors. A model is
trained on a fixed set of 1,200 strings and tested on fresh ones. Barak et al. 2022
("Hidden progress in deep learning: SGD learns parities near the computational limit",
arXiv:2207.08799) study the same (n, k)-parity family.

Tokens are the bits (vocab 2, one token per position, ``n_ctx = n_bits``).

What "all inputs" means here. With ``n_bits <= 16`` the task enumerates all ``2**n_bits``
strings exactly (row ``i`` holds the binary digits of ``i``, most significant first) and
the train and test pools are disjoint random subsets of those rows. Above 16 bits the
``2**n_bits`` strings cannot be enumerated, so ``inputs`` is the union of the two pools:
``n_train + n_test`` distinct strings drawn uniformly with ``seed`` (rows ``0..n_train-1``
are the train pool, the rest the test pool). Test accuracy then estimates accuracy on
uniformly random strings (a binomial estimate over ``n_test`` samples).

Which seed draws the strings (``data_seed``). ``"task"`` (the default, and what every run stored
before the option existed trained on): the task's own ``seed`` option, so runs with different run
seeds train on the same strings. ``"run"``: the run's ``seed``, as PAIR's notebook draws each
model's training set from that model's seed: the trainer sets ``task.seed`` to the run's seed
before the run is stored (``grokscope.train``), so the stored config names the strings used and
a resume or an analysis rebuilds them. Every member of one run (one ensemble) shares the strings.

Data-size sweeps: the train pool is one fixed, ordered list. ``split`` gives member ``m``
its first ``n_m`` strings (nested training sets) and every member the whole test pool,
so members differ only in how much data they see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from grokscope.errors import ConfigError
from grokscope.seeding import generator
from grokscope.tasks._base import TaskBase, check_int, set_frozen
from grokscope.validate import check_choice

__all__ = ["DATA_SEEDS", "SparseParity"]

DATA_SEEDS = ("task", "run")  # where the strings' seed comes from: the task's `seed`, or the run's

_MAX_ENUMERATED_BITS = 16  # 2**16 strings x 16 bits = 8 MB: cheap to enumerate exactly.
_MAX_BITS = 1024
_MAX_SAMPLED = 2**20  # sampled strings kept in memory (1M x 30 bits ≈ 240 MB as int64).


def _all_bit_strings(n_bits: int) -> torch.Tensor:
    """``[2**n_bits, n_bits]``: row ``i`` is ``i`` in binary, most significant bit first."""
    i = torch.arange(2**n_bits)
    shifts = torch.arange(n_bits - 1, -1, -1)
    return (i[:, None] >> shifts[None, :]) & 1


def _distinct_random_strings(n: int, n_bits: int, g: torch.Generator) -> torch.Tensor:
    """``[n, n_bits]`` distinct uniform bit strings, in the order first drawn."""
    rows = torch.empty(0, n_bits, dtype=torch.long)
    while rows.shape[0] < n:
        # Over-draw a little: duplicates are rare (n <= 2**(n_bits-1) is enforced).
        fresh = torch.randint(0, 2, (2 * (n - rows.shape[0]) + 16, n_bits), generator=g)
        rows = torch.cat([rows, fresh])
        if n_bits <= 62:  # pack each string into one int64: 1-D unique is much faster
            keys = rows @ (2 ** torch.arange(n_bits))  # [n_rows]
            _, inverse = torch.unique(keys, return_inverse=True)
        else:
            _, inverse = torch.unique(rows, dim=0, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1,), rows.shape[0], dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(rows.shape[0]), reduce="amin")
        rows = rows[torch.sort(first).values]  # drop later copies, keep draw order
    return rows[:n]


@dataclass(frozen=True)
class SparseParity(TaskBase):
    """Parity of the bits at ``positions`` (default: the first ``k``) of ``n_bits``-bit strings.

    ``n_test=None`` (only with ``n_bits <= 16``) puts every string outside the train pool
    into the test pool.

    >>> task = SparseParity(n_bits=30, k=3, n_train=1200, n_test=1000, seed=0)
    >>> task.n_all, task.n_ctx, task.vocab_size, task.n_classes
    (2200, 30, 2, 2)
    >>> bool((task.labels == task.inputs[:, :3].sum(1) % 2).all())
    True
    """

    n_bits: int = 30  # PAIR: "random sequences of thirty 1s and 0s"
    k: int | None = None  # None: len(positions), or 3 (PAIR) when positions is None too
    positions: Sequence[int] | None = None  # None: the first k bits, as in PAIR
    n_train: int = 1200  # PAIR: "trained on a fixed batch of 1,200 sequences"
    # 1000 test strings: a binomial accuracy estimate with std <= 1.6 points (at 50%).
    n_test: int | None = 1000
    seed: int = 0
    # "task": the strings come from `seed` (grokscope's behaviour before this option); "run": the
    # trainer sets `seed` to the run's seed, so each run seed trains on its own strings (PAIR's notebook).
    data_seed: str = "task"

    def __post_init__(self) -> None:
        check_choice(self.data_seed, "task.data_seed", DATA_SEEDS)
        n_bits = check_int(self.n_bits, "task.n_bits", 1, _MAX_BITS)
        positions = self._check_positions(n_bits)
        seed = check_int(self.seed, "task.seed", 0, 2**64 - 1)
        enumerated = n_bits <= _MAX_ENUMERATED_BITS
        space = 2**n_bits
        if enumerated:
            n_train = check_int(self.n_train, "task.n_train", 1, space)
            if self.n_test is None:
                n_test = space - n_train
            else:
                n_test = check_int(self.n_test, "task.n_test", 0, space - n_train)
        else:
            if self.n_test is None:
                raise ConfigError(
                    f"task.n_test=None with task.n_bits={n_bits}: 'every other string' needs "
                    f"n_bits <= {_MAX_ENUMERATED_BITS}; give a count"
                )
            cap = min(_MAX_SAMPLED, space // 2)
            n_train = check_int(self.n_train, "task.n_train", 1, cap - 1)
            n_test = check_int(self.n_test, "task.n_test", 0, cap - n_train)

        g = generator(seed)
        if enumerated:
            inputs = _all_bit_strings(n_bits)  # [2**n_bits, n_bits]
            order = torch.randperm(space, generator=g)
            train_pool = order[:n_train]
            test_pool = order[n_train : n_train + n_test]
        else:
            inputs = _distinct_random_strings(n_train + n_test, n_bits, g)  # [n_all, n_bits]
            train_pool = torch.arange(n_train)
            test_pool = torch.arange(n_train, n_train + n_test)
        labels = inputs[:, list(positions)].sum(dim=1) % 2  # [n_all]

        set_frozen(
            self,
            k=len(positions),
            positions=positions,
            n_test=n_test,
            inputs=inputs.contiguous(),
            labels=labels,
            vocab_size=2,
            n_classes=2,
            n_ctx=n_bits,
            name=f"parity_n{n_bits}_k{len(positions)}",
            fourier_p=None,
            train_pool=train_pool,
            test_pool=test_pool,
        )

    def _check_positions(self, n_bits: int) -> tuple[int, ...]:
        k = None if self.k is None else check_int(self.k, "task.k", 1, n_bits)
        if self.positions is None:
            if k is None:
                k = check_int(3, "task.k", 1, n_bits)  # PAIR: "the first three digits"
            return tuple(range(k))
        if isinstance(self.positions, (str, bytes)) or not isinstance(self.positions, Sequence):
            raise ConfigError(f"task.positions={self.positions!r}: must be a list of bit positions")
        positions = tuple(
            check_int(pos, "task.positions[]", 0, n_bits - 1) for pos in self.positions
        )
        if not positions or len(set(positions)) != len(positions):
            raise ConfigError(
                f"task.positions={list(positions)}: must be distinct positions in [0, {n_bits - 1}]"
            )
        if k is not None and k != len(positions):
            raise ConfigError(
                f"task.k={k}: does not match task.positions={list(positions)} ({len(positions)} bits)"
            )
        return positions

    def describe(self) -> str:
        if self.n_bits <= _MAX_ENUMERATED_BITS:
            universe = f"all {self.n_all} strings enumerated"
        else:
            universe = "inputs = the two pools (2^n_bits strings cannot be enumerated)"
        return (
            f"parity of bits {list(self.positions)} of {self.n_bits}-bit strings; "
            f"{len(self.train_pool)} train / {len(self.test_pool)} test strings drawn with "
            f"seed {self.seed}{' (the run seed)' if self.data_seed == 'run' else ''} ({universe})"
        )
