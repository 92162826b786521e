"""Multitask sparse parity: many parity subtasks whose frequencies follow a power law.

The toy world of Michaud, Liu, Girit & Tegmark (2023, "The Quantization Model of Neural Scaling",
arXiv:2303.13506, Section 3), where the quanta story is true by construction. There are
``n_tasks`` subtasks over ``n`` task bits. A row is a one-hot **control block** of length
``n_tasks`` (which subtask is asked) followed by the ``n`` bits, all as real-valued features
(``d_in = n_tasks + n``, values 0.0 / 1.0). Subtask ``i`` has its own random ``k``-subset
``S_i`` of the bits, and its label is the parity of the bits in ``S_i``. Subtask ``i``
(0-based) is drawn with probability

    p_i = (i + 1)^-(α + 1) / Σ_j (j + 1)^-(α + 1)

**Two exponents, two names.** The paper's α is the exponent of the predicted scaling laws
(L ∝ N^-α, L ∝ D^-α/(α+1), L ∝ S^-α/(α+1)); the frequencies are Zipf with exponent α + 1.
The reference code (ejmichaud/quantization-model, ``scripts/sparse-parity-v4.py``) calls the
**Zipf exponent** ``alpha`` (its default 1.5 is the paper's α = 0.5), which has confused readers.
Here ``alpha`` is always the paper's α and ``zipf_exponent`` is α + 1: give one of them, not
both. After construction the choice is folded into ``alpha`` (``zipf_exponent`` reads ``None``;
the exponent itself is :attr:`exponent`), so a stored config names the law once.

Rows, all enumerated at construction (so every metric comes from one forward pass):

- rows ``[0, n_train)``, the train pool: ``n_train`` draws from the Zipf mixture (the paper's
  fixed training set of size D; members of a data-size sweep train on nested prefixes of it);
- then ``n_test_per_task`` rows per subtask, subtask-major: the test pool, uniform over
  subtasks, so each subtask's test loss is measured with the same precision.

Each subtask is a task group ``task000``, ``task001``, ... (all its rows, train and test), so
``test_loss/task007`` is subtask 7's test loss in every run. ``test_loss`` itself is the
*unweighted* mean over subtasks; the Zipf-weighted mean is ``Σ_i p_i · test_loss/task{i}``
(``grokscope.quanta``), and ``train_loss`` estimates it directly (its rows are mixture draws).

**Online sampling** (``online = true``, the reference's default ``D = -1``): the trainer draws a
fresh batch of ``train.batch_size`` rows from the mixture at every step, per member, from that
member's batch generator (:meth:`sample`; ``grokscope.train._data``). The train pool is then
never trained on: it is a fixed sample of the mixture that ``train_loss`` is measured on.

Randomness: the subsets, the train pool and the test pool come from three streams of ``seed``
(``member_seed(seed, 0 | 1 | 2)``). The drawn subsets are written back into ``subsets``, so the
resolved config of a run stores them; giving ``subsets`` explicitly fixes them instead.

>>> t = MultitaskParity(n_tasks=4, n=6, k=2, alpha=0.5, n_train=8, n_test_per_task=3)
>>> t.d_in, t.n_all, t.input_kind, list(t.groups)
(10, 20, 'features', ['task000', 'task001', 'task002', 'task003'])
>>> t.alpha, t.zipf_exponent, t.exponent
(0.5, None, 1.5)
>>> bits, S = t.inputs[:, 4:].long(), torch.tensor(t.subsets)[t.subtask]   # [n_all, n], [n_all, k]
>>> bool((t.labels == bits.gather(1, S).sum(1) % 2).all())
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from grokscope.errors import ConfigError
from grokscope.seeding import generator, member_seed
from grokscope.tasks._base import TaskBase, check_bool, check_int, set_frozen
from grokscope.validate import check_number

__all__ = ["MultitaskParity", "zipf_probs"]

_MAX_BITS = 1024
_MAX_TASKS = 10_000
_MAX_ELEMENTS = 1 << 28  # inputs are float32 [n_all, d_in]: at most 1 GiB
_ENUMERATE_SUBSETS = 200_000  # below this many k-subsets, draw without replacement from all of them
_DEFAULT_ALPHA = 0.5  # paper α; the reference code's default Zipf exponent is 1.5 = α + 1


def zipf_probs(n_tasks: int, exponent: float) -> torch.Tensor:
    """``[n_tasks]`` float64: ``p_i ∝ (i + 1)^-exponent``, normalized.

    >>> [round(p, 4) for p in zipf_probs(3, 1.0).tolist()]
    [0.5455, 0.2727, 0.1818]
    """
    w = torch.arange(1, n_tasks + 1, dtype=torch.float64).pow(-float(exponent))
    return w / w.sum()


@dataclass(frozen=True)
class MultitaskParity(TaskBase):
    """``n_tasks`` sparse-parity subtasks with Zipf frequencies (see the module docstring)."""

    n_tasks: int = 100  # Michaud et al. 2023, sparse-parity-v4.py: n_tasks = 100
    n: int = 50  # task bits; sparse-parity-v4.py: n = 50
    k: int = 3  # bits per subset; sparse-parity-v4.py: k = 3
    alpha: float | None = None  # the PAPER's α (> 0); None: 0.5 unless zipf_exponent is given
    zipf_exponent: float | None = None  # α + 1 (> 1): what the reference code calls `alpha`
    n_train: int = 10_000  # D, draws of the mixture (online: only measured); ours
    n_test_per_task: int = 1000  # sparse-parity-v4.py: test_points_per_task = 1000
    online: bool = False  # True: a fresh batch from the mixture every step (the reference's D = -1)
    seed: int = 0
    subsets: Sequence[Sequence[int]] | None = None  # None: drawn from seed (then stored here)

    probs: torch.Tensor = field(init=False, repr=False, compare=False)  # [n_tasks] float64 p_i
    subtask: torch.Tensor = field(init=False, repr=False, compare=False)  # [n_all] long: each row's subtask

    def __post_init__(self) -> None:
        n_tasks = check_int(self.n_tasks, "task.n_tasks", 1, _MAX_TASKS)
        n = check_int(self.n, "task.n", 1, _MAX_BITS)
        k = check_int(self.k, "task.k", 1, n)
        alpha = self._resolve_alpha()
        n_train = check_int(self.n_train, "task.n_train", 1)
        n_test = check_int(self.n_test_per_task, "task.n_test_per_task", 1)
        online = check_bool(self.online, "task.online")
        seed = check_int(self.seed, "task.seed", 0, 2**64 - 1)
        n_sub = math.comb(n, k)
        if n_tasks > n_sub:
            raise ConfigError(f"task.n_tasks={n_tasks}: must be <= C(n={n}, k={k}) = {n_sub} "
                              "(each subtask needs its own subset)")
        n_all = n_train + n_tasks * n_test
        if n_all * (n_tasks + n) > _MAX_ELEMENTS:
            raise ConfigError(f"task.n_train={n_train}, task.n_test_per_task={n_test}: {n_all} rows of "
                              f"{n_tasks + n} features exceed {_MAX_ELEMENTS} floats; use fewer rows")
        subsets = self._check_subsets(n_tasks, n, k) if self.subsets is not None else \
            _draw_subsets(n_tasks, n, k, generator(member_seed(seed, 0)))
        S = torch.tensor(subsets, dtype=torch.long)  # [n_tasks, k]
        probs = zipf_probs(n_tasks, alpha + 1.0)
        cdf = _cdf(probs)

        g_train, g_test = generator(member_seed(seed, 1)), generator(member_seed(seed, 2))
        train_ids = _draw_ids(cdf, n_train, g_train)  # [n_train]
        train_bits = torch.randint(0, 2, (n_train, n), generator=g_train)
        test_ids = torch.arange(n_tasks).repeat_interleave(n_test)  # [n_tasks * n_test], subtask-major
        test_bits = torch.randint(0, 2, (n_tasks * n_test, n), generator=g_test)
        ids, bits = torch.cat([train_ids, test_ids]), torch.cat([train_bits, test_bits])
        inputs, labels = _rows(ids, bits, S, n_tasks)

        width = max(3, len(str(n_tasks - 1)))  # task000 .. task099 (sorts as it reads)
        groups = {f"task{i:0{width}d}": rows for i, rows in enumerate(_rows_by_subtask(ids, n_tasks))}
        set_frozen(
            self,
            alpha=alpha, zipf_exponent=None, online=online,
            subsets=tuple(tuple(s) for s in subsets),
            inputs=inputs, labels=labels, subtask=ids, probs=probs,
            vocab_size=0, n_classes=2, n_ctx=0,
            name=f"multitask_parity_t{n_tasks}_n{n}_k{k}",
            fourier_p=None,
            train_pool=torch.arange(n_train),
            test_pool=torch.arange(n_train, n_all),
            input_kind="features", d_in=n_tasks + n, groups=groups,
        )

    @property
    def exponent(self) -> float:
        """The Zipf exponent α + 1 of the subtask frequencies (the reference code's ``alpha``)."""
        return self.alpha + 1.0

    @property
    def group_names(self) -> tuple[str, ...]:
        """The group of subtask ``i`` is ``group_names[i]``."""
        return tuple(self.groups)

    def _resolve_alpha(self) -> float:
        if self.alpha is not None and self.zipf_exponent is not None:
            raise ConfigError(f"task.alpha={self.alpha!r} and task.zipf_exponent={self.zipf_exponent!r}: give one "
                              "(alpha is the paper's α, zipf_exponent = α + 1 is the reference code's 'alpha')")
        if self.zipf_exponent is not None:
            return check_number(self.zipf_exponent, "task.zipf_exponent", 1.0, lo_open=True) - 1.0
        if self.alpha is None:
            return _DEFAULT_ALPHA
        return check_number(self.alpha, "task.alpha", 0.0, lo_open=True)

    def _check_subsets(self, n_tasks: int, n: int, k: int) -> list[tuple[int, ...]]:
        given = self.subsets
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or len(given) != n_tasks:
            raise ConfigError(f"task.subsets: must be a list of n_tasks={n_tasks} lists of k={k} bit positions")
        out = []
        for s in given:
            if isinstance(s, (str, bytes)) or not isinstance(s, Sequence):
                raise ConfigError(f"task.subsets: entry {s!r} must be a list of k={k} bit positions")
            pos = tuple(sorted(check_int(p, "task.subsets[][]", 0, n - 1) for p in s))
            if len(pos) != k or len(set(pos)) != k:
                raise ConfigError(f"task.subsets: entry {list(s)} must hold k={k} distinct positions in [0, {n - 1}]")
            out.append(pos)
        if len(set(out)) != len(out):
            raise ConfigError("task.subsets: two subtasks share a subset; each needs its own")
        return out

    def sample(self, n_rows: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh batch from the mixture: ``inputs [n_rows, d_in]`` float32, ``labels [n_rows]``.

        Draws from ``gen`` only (subtask ids by inverse CDF of ``probs``, then the bits), so a
        generator in a given state always yields the same batch.
        """
        ids = _draw_ids(_cdf(self.probs), n_rows, gen)  # [n_rows]
        bits = torch.randint(0, 2, (n_rows, self.n), generator=gen)  # [n_rows, n]
        return _rows(ids, bits, torch.tensor(self.subsets, dtype=torch.long), self.n_tasks)

    def describe(self) -> str:
        train = (f"online: a fresh batch from the mixture each step ({self.n_train} fixed draws only measured)"
                 if self.online else f"{self.n_train} training rows drawn from the mixture")
        return (f"multitask sparse parity: {self.n_tasks} subtasks, parity of k={self.k} of n={self.n} bits "
                f"after a one-hot control block; p_i ∝ i^-{self.exponent:g} (paper α = {self.alpha:g}); {train}; "
                f"{self.n_test_per_task} test rows per subtask; data seed {self.seed} (subsets in task.subsets)")


def _cdf(probs: torch.Tensor) -> torch.Tensor:
    cdf = probs.cumsum(0)
    cdf[-1] = 1.0  # no row may fall past the last subtask through rounding
    return cdf


def _draw_ids(cdf: torch.Tensor, n_rows: int, gen: torch.Generator) -> torch.Tensor:
    """``[n_rows]`` subtask ids, i.i.d. from the mixture (inverse CDF of one uniform each)."""
    u = torch.rand(n_rows, generator=gen, dtype=torch.float64)
    return torch.searchsorted(cdf, u, right=True)  # P(id = i) = cdf[i] - cdf[i-1] = p_i


def _rows(ids: torch.Tensor, bits: torch.Tensor, S: torch.Tensor, n_tasks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[rows, n_tasks + n]`` (one-hot control block, then the bits) and parity labels ``[rows]``."""
    x = torch.zeros(ids.shape[0], n_tasks + bits.shape[1], dtype=torch.float32)
    x[torch.arange(ids.shape[0]), ids] = 1.0
    x[:, n_tasks:] = bits
    labels = bits.gather(1, S[ids]).sum(1) % 2  # [rows]: parity of the row's own subset
    return x, labels


def _rows_by_subtask(ids: torch.Tensor, n_tasks: int) -> list[torch.Tensor]:
    order = torch.argsort(ids, stable=True)
    counts = torch.bincount(ids, minlength=n_tasks).tolist()
    return list(torch.split(order, counts))


def _draw_subsets(n_tasks: int, n: int, k: int, gen: torch.Generator) -> list[tuple[int, ...]]:
    """``n_tasks`` distinct sorted ``k``-subsets of ``range(n)``, uniformly without replacement."""
    total = math.comb(n, k)
    if total <= _ENUMERATE_SUBSETS:
        every = list(itertools.combinations(range(n), k))
        return [every[i] for i in torch.randperm(total, generator=gen)[:n_tasks].tolist()]
    out, seen = [], set()
    while len(out) < n_tasks:  # collisions are rare: n_tasks <= 10,000 of more than 200,000 subsets
        s = tuple(sorted(torch.randperm(n, generator=gen)[:k].tolist()))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out
