"""Per-member train/test splits of a task's inputs, padded into ``[model, ...]`` tensors.

Each ensemble member gets its own split, so one ensemble can sweep the training-set
size (Power et al. 2022's critical data fraction) or average over split randomness.

- Tasks that enumerate their inputs (``task.train_pool is None``): member ``m`` draws
  ``torch.randperm(n_all)`` from ``generator(seeds[m])``; its first ``n_m`` rows are the
  training set and all the others the test set. So train and test are disjoint and
  together cover every input, the same seed gives the same split, and two members with
  the same seed but different sizes get nested training sets.
- Tasks with fixed pools (sparse parity): member ``m`` trains on the first ``n_m`` rows
  of ``task.train_pool`` and every member tests on all of ``task.test_pool``; ``seeds``
  are not used (the pools were drawn with the task's own seed).

``frac`` counts in the rows available for training (all inputs, or the train pool):
``n_m = round(frac_m * n_avail)``. ``frac = 1`` leaves an empty test set; its test
metrics are undefined (callers report NaN rather than a number from no data).

A third, **unseen** split (``unseen_frac`` / ``unseen_count``, optional): rows that are never
trained on and never used for stopping or selection, e.g. the ``F_unseen`` term of Gokhale 2023
("The semantic landscape paradigm for neural networks", eq. 2). They are taken from the held-out
side, so the training set is the one the run would have without them:

- enumerated tasks: the last ``u_m`` rows of member ``m``'s permutation (the same draw from its
  data stream), so ``train = perm[:n_m]``, ``test = perm[n_m:n_all-u_m]``, ``unseen =
  perm[n_all-u_m:]``; members with the same seed share their unseen rows whatever their sizes;
  ``unseen_frac`` counts in all inputs;
- pooled tasks: the last ``u`` rows of the test pool (``unseen_frac`` counts in the test pool).

``split_for_run(task, section, member_seeds)`` is the split a run draws from its config's
``task`` section: the one place that knows the default training fraction (the whole train pool
of a pooled task, else 30%) and that member ``m``'s data comes from stream 0 of its seed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from grokscope.errors import ConfigError
from grokscope.seeding import generator, member_seed
from grokscope.tasks._base import Task, check_int

__all__ = ["Split", "split", "split_for_run", "default_train_frac", "SPLITS", "DATA_STREAM"]

SPLITS = ("train", "test", "unseen")  # the row sets a split may hold, in reporting order
DATA_STREAM = 0  # member m's split draws from member_seed(seeds[m], DATA_STREAM) (init: 1, batches: 2)
_DEFAULT_TRAIN_FRAC = 0.3  # ours; a pooled task trains on its whole train pool by default


@dataclass(frozen=True)
class Split:
    """Row indices into ``task.inputs`` for every member.

    Padding entries hold index 0 (a valid row, so a gather never goes out of range) and
    are False in the mask: always weight by the mask. ``unseen_*`` default to an empty
    ``[model, 0]`` third split, so code (and stored ``split`` artefacts) from before it existed
    still builds a ``Split`` from the six train/test fields.
    """

    train_idx: torch.Tensor  # [model, n_train_max] long
    train_mask: torch.Tensor  # [model, n_train_max] bool, False on padding
    test_idx: torch.Tensor  # [model, n_test_max] long
    test_mask: torch.Tensor  # [model, n_test_max] bool, False on padding
    n_train: torch.Tensor  # [model] long
    n_test: torch.Tensor  # [model] long
    unseen_idx: torch.Tensor | None = None  # [model, n_unseen_max] long (None -> [model, 0])
    unseen_mask: torch.Tensor | None = None  # [model, n_unseen_max] bool
    n_unseen: torch.Tensor | None = None  # [model] long

    def __post_init__(self) -> None:
        M = int(self.n_train.shape[0])
        if self.unseen_idx is None:
            object.__setattr__(self, "unseen_idx", torch.zeros(M, 0, dtype=torch.long))
        if self.unseen_mask is None:
            object.__setattr__(self, "unseen_mask", torch.zeros(self.unseen_idx.shape, dtype=torch.bool))
        if self.n_unseen is None:
            object.__setattr__(self, "n_unseen", self.unseen_mask.sum(1).long())

    @property
    def n_members(self) -> int:
        return int(self.n_train.shape[0])

    @property
    def has_unseen(self) -> bool:
        """Whether some member keeps a third, never-trained split."""
        return bool(self.n_unseen.sum() > 0)

    def names(self) -> tuple[str, ...]:
        """The splits present: ``("train", "test")`` plus ``"unseen"`` when kept."""
        return SPLITS if self.has_unseen else SPLITS[:2]

    def member(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Member ``i``'s unpadded ``(train rows [n_train_i], test rows [n_test_i])``."""
        return (
            self.train_idx[i, : int(self.n_train[i])],
            self.test_idx[i, : int(self.n_test[i])],
        )

    def rows(self, i: int) -> dict[str, torch.Tensor]:
        """Member ``i``'s unpadded rows of every split present, ``{name: [n_name_i]}``."""
        return {name: getattr(self, f"{name}_idx")[i, : int(getattr(self, f"n_{name}")[i])] for name in self.names()}

    def masks(self, n_all: int) -> dict[str, torch.Tensor]:
        """``{name: bool [model, n_all]}`` for every split present (padding ignored).

        >>> from grokscope.tasks import make_task
        >>> s = split(make_task("add", p=3), 1, count=4, unseen_count=2, seeds=[0])
        >>> {k: int(v.sum()) for k, v in s.masks(9).items()}
        {'train': 4, 'test': 3, 'unseen': 2}
        """
        out = {}
        for name in self.names():
            idx, mask = getattr(self, f"{name}_idx"), getattr(self, f"{name}_mask")
            m = torch.zeros(idx.shape[0], n_all, dtype=torch.bool)
            rows = torch.arange(idx.shape[0])[:, None].expand_as(idx)
            m[rows[mask], idx[mask]] = True
            out[name] = m
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The run's ``split`` artefact: ``{train,test}_{idx,mask}`` (and ``unseen_*`` when kept)."""
        return {f"{name}_{part}": getattr(self, f"{name}_{part}").numpy() for name in self.names()
                for part in ("idx", "mask")}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, object]) -> "Split":
        """Inverse of :meth:`to_arrays`; reads artefacts stored before the unseen split existed."""
        t = {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()}
        unseen = ("unseen_idx" in t and "unseen_mask" in t)
        return cls(t["train_idx"].long(), t["train_mask"].bool(), t["test_idx"].long(), t["test_mask"].bool(),
                   t["train_mask"].sum(1).long(), t["test_mask"].sum(1).long(),
                   t["unseen_idx"].long() if unseen else None, t["unseen_mask"].bool() if unseen else None)


def _per_member(value: object, n_members: int, what: str) -> list[tuple[str, object]]:
    """A scalar or a length-``n_members`` sequence as ``[(label, value), ...]``."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, numbers.Number)):
        raise ConfigError(f"{what}={value!r}: must be a number or a list of {n_members} numbers")
    if isinstance(value, numbers.Number):
        return [(what, value)] * n_members
    if len(value) != n_members:
        raise ConfigError(
            f"{what} has {len(value)} values: must be one value or one per member ({n_members})"
        )
    return [(f"{what}[{i}]", v) for i, v in enumerate(value)]


def _sizes(frac: object, count: object, n_members: int, n_avail: int, pooled: bool) -> list[int]:
    """Training-set size of each member."""
    if (frac is None) == (count is None):
        raise ConfigError("task.train_frac / task.train_count: give exactly one of the two")
    of = "of the train pool" if pooled else "of the inputs"
    sizes = []
    if count is not None:
        for what, c in _per_member(count, n_members, "task.train_count"):
            sizes.append(check_int(c, what, 1, n_avail))
        return sizes
    for what, f in _per_member(frac, n_members, "task.train_frac"):
        real = isinstance(f, numbers.Real) and not isinstance(f, bool)
        if not real or not math.isfinite(f) or not 0 < f <= 1:
            raise ConfigError(f"{what}={f!r}: must be a fraction in (0, 1] {of}")
        n = round(f * n_avail)
        if n < 1:
            raise ConfigError(
                f"{what}={f}: gives 0 training rows ({f} x {n_avail} rounds to 0); "
                "use a larger fraction or task.train_count"
            )
        sizes.append(n)
    return sizes


def _pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack ragged index lists into ``(idx [model, n_max], mask [model, n_max], n [model])``."""
    n = torch.tensor([len(r) for r in rows], dtype=torch.long)  # [model]
    n_max = int(n.max()) if len(rows) else 0
    idx = torch.zeros(len(rows), n_max, dtype=torch.long)  # [model, n_max]
    for m, r in enumerate(rows):
        idx[m, : len(r)] = r
    mask = torch.arange(n_max)[None, :] < n[:, None]  # [model, n_max]
    return idx, mask, n


def _unseen_sizes(frac: object, count: object, n_members: int, n_avail: int, pooled: bool) -> list[int]:
    """Unseen-split size of each member (0 when neither is given)."""
    if frac is not None and count is not None:
        raise ConfigError("task.unseen_frac / task.unseen_count: give at most one of the two")
    if count is not None:
        return [check_int(c, what, 0, n_avail) for what, c in _per_member(count, n_members, "task.unseen_count")]
    if frac is None:
        return [0] * n_members
    of = "of the test pool" if pooled else "of the inputs"
    sizes = []
    for what, f in _per_member(frac, n_members, "task.unseen_frac"):
        real = isinstance(f, numbers.Real) and not isinstance(f, bool)
        if not real or not math.isfinite(f) or not 0 <= f < 1:
            raise ConfigError(f"{what}={f!r}: must be a fraction in [0, 1) {of}")
        sizes.append(round(f * n_avail))
    return sizes


def split(
    task: Task,
    n_members: int,
    *,
    frac: float | Sequence[float] | None = None,
    count: int | Sequence[int] | None = None,
    seeds: Sequence[int],
    unseen_frac: float | Sequence[float] | None = None,
    unseen_count: int | Sequence[int] | None = None,
) -> Split:
    """Split ``task``'s inputs for ``n_members`` members (see the module docstring).

    Give exactly one of ``frac`` (in (0, 1]) or ``count`` (in [1, n_avail]); each is one
    value for all members or one per member. ``seeds`` holds one seed per member,
    e.g. ``[member_seed(run_seed, i) for i in range(n_members)]``.
    Power et al. 2022 (arXiv:2201.02177) sweep this training fraction. At most one of
    ``unseen_frac`` (in [0, 1)) or ``unseen_count`` keeps a third, never-trained split.

    >>> from grokscope.tasks import make_task
    >>> s = split(make_task("add", p=7), 2, frac=[0.5, 1.0], seeds=[1, 2])
    >>> s.n_train.tolist(), s.n_test.tolist(), tuple(s.train_idx.shape)
    ([24, 49], [25, 0], (2, 49))
    >>> s = split(make_task("add", p=7), 2, frac=0.5, unseen_count=[5, 10], seeds=[1, 2])
    >>> s.n_train.tolist(), s.n_test.tolist(), s.n_unseen.tolist()
    ([24, 24], [20, 15], [5, 10])
    """
    n_members = check_int(n_members, "n_members", 1)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, torch.Tensor, np.ndarray)):
        raise ConfigError(f"seeds={seeds!r}: must be a list of {n_members} integer seeds")
    seeds = list(seeds.tolist() if isinstance(seeds, (torch.Tensor, np.ndarray)) else seeds)
    if len(seeds) != n_members:
        raise ConfigError(f"seeds has {len(seeds)} values: must have one per member ({n_members})")
    seeds = [check_int(s, f"seeds[{i}]", 0, 2**64 - 1) for i, s in enumerate(seeds)]

    pooled = task.train_pool is not None
    n_avail = len(task.train_pool) if pooled else task.n_all
    sizes = _sizes(frac, count, n_members, n_avail, pooled)
    n_held = len(task.test_pool) if pooled else task.n_all
    unseen = _unseen_sizes(unseen_frac, unseen_count, n_members, n_held, pooled)

    train_rows, test_rows, unseen_rows = [], [], []
    for m, (n_m, u_m, seed) in enumerate(zip(sizes, unseen, seeds)):
        if pooled:
            held, n_train_side = task.test_pool, 0
            train_rows.append(task.train_pool[:n_m])
        else:
            perm = torch.randperm(task.n_all, generator=generator(seed))  # [n_all]
            held, n_train_side = perm, n_m
            train_rows.append(perm[:n_m])
        if n_train_side + u_m > len(held):
            what = "task.unseen_count" if unseen_count is not None else "task.unseen_frac"
            raise ConfigError(f"{what} gives member {m} {u_m} unseen rows: only {len(held) - n_train_side} "
                              "held-out rows are left outside its training rows")
        test_rows.append(held[n_train_side:len(held) - u_m])
        unseen_rows.append(held[len(held) - u_m:])
    train_idx, train_mask, n_train = _pad(train_rows)
    test_idx, test_mask, n_test = _pad(test_rows)
    unseen_idx, unseen_mask, n_unseen = _pad(unseen_rows)
    return Split(train_idx, train_mask, test_idx, test_mask, n_train, n_test, unseen_idx, unseen_mask, n_unseen)


def default_train_frac(task: Task) -> float:
    """The training fraction of a run that sets neither ``train_frac`` nor ``train_count``."""
    return 1.0 if getattr(task, "train_pool", None) is not None else _DEFAULT_TRAIN_FRAC


def split_for_run(task: Task, section: Mapping[str, object], member_seeds: Sequence[int]) -> Split:
    """The split a run draws: sizes from its config's ``task`` section, member ``m`` from its data stream.

    ``section`` may hold ``train_frac`` | ``train_count`` (default :func:`default_train_frac`)
    and ``unseen_frac`` | ``unseen_count``; other keys are ignored. ``member_seeds`` are the
    members' seeds (``RunConfig.seeds()``); member ``m`` draws from
    ``member_seed(member_seeds[m], DATA_STREAM)``.

    >>> from grokscope.tasks import make_task
    >>> split_for_run(make_task("add", p=7), {"kind": "modular"}, [0, 1]).n_train.tolist()  # 30% of 49
    [15, 15]
    """
    frac, count = section.get("train_frac"), section.get("train_count")
    if frac is None and count is None:
        frac = default_train_frac(task)
    return split(task, len(member_seeds), frac=frac, count=count,
                 seeds=[member_seed(s, DATA_STREAM) for s in member_seeds],
                 unseen_frac=section.get("unseen_frac"), unseen_count=section.get("unseen_count"))
