"""What every task provides, and the value checks the task constructors share.

A task is a frozen dataclass that enumerates all of its inputs once, at construction:

- ``input_kind``: what a row of ``inputs`` is, ``"tokens"`` (the default) or ``"features"``;
- ``inputs``: for ``"tokens"`` a LongTensor ``[n_all, n_ctx]`` of token ids in ``[0, vocab_size)``;
  for ``"features"`` a float tensor ``[n_all, d_in]`` of real-valued features (the trainer casts
  it to the model's dtype; there is no vocabulary, ``vocab_size`` and ``n_ctx`` are 0);
- ``labels``  LongTensor ``[n_all]``: class ids in ``[0, n_classes)``;
- ``vocab_size``, ``n_classes``, ``n_ctx``, ``d_in`` (``None`` for token tasks), ``name`` (a short
  slug), ``fourier_p`` (the modulus for Fourier analysis, or ``None``), ``describe()`` (one line);
- ``train_pool`` / ``test_pool``: ``None`` when any input may go to either side of a
  split (``split`` draws a random permutation per member), or LongTensors of row indices
  when the task fixes which rows are for training and which for testing (sparse parity,
  whose 2**30 inputs cannot all be enumerated);
- ``groups``: named sets of rows, ``{name: LongTensor row ids}`` (empty by default): a subtask
  of a multitask problem, a class, a frequency band. The trainer reports every metric of every
  split also per group, as ``{split}_{loss,acc}/{group}`` (a mean over the split's rows in the
  group), from the same forward pass. Groups may overlap and need not cover every row.

A task built outside ``grokscope.tasks`` may leave out ``input_kind``, ``d_in`` and ``groups``;
read them with :func:`input_kind` and :func:`task_groups`, which supply the defaults. A new task
kind is one class (a :class:`TaskBase` subclass) and one ``register_task(kind, cls)`` call.

The tensors are shared, not copied: treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from grokscope.errors import ConfigError
from grokscope.validate import check_bool, check_choice, check_int  # noqa: F401  (task modules import them from here)

__all__ = ["Task", "TaskBase", "INPUT_KINDS", "input_kind", "task_groups"]

INPUT_KINDS = ("tokens", "features")  # token ids [n_all, n_ctx] | real-valued rows [n_all, d_in]


@runtime_checkable
class Task(Protocol):
    """The structural type of a task (see the module docstring for the contract).

    Optional members, read through :func:`input_kind` and :func:`task_groups`: ``input_kind``,
    ``d_in``, ``groups``.
    """

    name: str
    vocab_size: int
    n_classes: int
    n_ctx: int
    fourier_p: int | None
    inputs: torch.Tensor  # [n_all, n_ctx] long token ids, or [n_all, d_in] float features
    labels: torch.Tensor  # [n_all] long
    train_pool: torch.Tensor | None  # [n_pool_train] long row ids, or None
    test_pool: torch.Tensor | None  # [n_pool_test] long row ids, or None

    @property
    def n_all(self) -> int: ...

    def describe(self) -> str: ...


def is_prime(n: int) -> bool:
    """Trial division; moduli here are small (p <= 4096)."""
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def with_eq_token(pairs: torch.Tensor, eq_id: int) -> torch.Tensor:
    """Append the "=" token: ``[n, 2] -> [n, 3]`` (the ``a b =`` context of Nanda et al. 2023)."""
    eq = torch.full((pairs.shape[0], 1), eq_id, dtype=torch.long)
    return torch.cat([pairs, eq], dim=1)


def set_frozen(obj: object, **values: object) -> None:
    """Fill ``init=False`` fields of a frozen dataclass from its ``__post_init__``."""
    for key, value in values.items():
        object.__setattr__(obj, key, value)


@dataclass(frozen=True)
class TaskBase:
    """The fields every task derives from its options (set in ``__post_init__``), and ``n_all``."""

    inputs: torch.Tensor = field(init=False, repr=False, compare=False)  # [n_all, n_ctx] long
    labels: torch.Tensor = field(init=False, repr=False, compare=False)  # [n_all] long
    vocab_size: int = field(init=False)
    n_classes: int = field(init=False)
    n_ctx: int = field(init=False)
    name: str = field(init=False)
    fourier_p: int | None = field(init=False)
    train_pool: torch.Tensor | None = field(init=False, repr=False, compare=False)  # parity only
    test_pool: torch.Tensor | None = field(init=False, repr=False, compare=False)
    # Optional in the contract: the defaults below are what a task that does not set them means.
    input_kind: str = field(init=False, default="tokens")  # "tokens" | "features"
    d_in: int | None = field(init=False, default=None)  # features per row ("features" tasks only)
    groups: dict[str, torch.Tensor] = field(init=False, default_factory=dict, repr=False, compare=False)

    @property
    def n_all(self) -> int:
        """How many inputs the task enumerates (rows of ``inputs``)."""
        return int(self.labels.shape[0])


def input_kind(task) -> str:
    """``task.input_kind`` (``"tokens"`` when the task does not say), checked against ``INPUT_KINDS``."""
    kind = getattr(task, "input_kind", "tokens")
    if kind not in INPUT_KINDS:
        raise ConfigError(f"task {getattr(task, 'name', task)!r} has input_kind={kind!r}: must be one of "
                          f"{', '.join(INPUT_KINDS)}")
    return kind


def task_groups(task) -> dict[str, torch.Tensor]:
    """``task.groups`` as ``{name: LongTensor row ids}`` (empty when the task has none), checked once.

    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(name="toy", labels=torch.zeros(4, dtype=torch.long), groups={"odd": [1, 3]})
    >>> task_groups(t)["odd"].tolist()
    [1, 3]
    """
    raw = getattr(task, "groups", None) or {}
    n_all = int(task.labels.shape[0])
    out = {}
    for name, rows in raw.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigError(f"task {task.name!r} has group name {name!r}: must be a non-empty string without '/'")
        rows = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= n_all):
            raise ConfigError(f"task {task.name!r} group {name!r}: row ids must be in [0, {n_all})")
        out[name] = rows
    return out
