"""``make_task(kind, **kwargs)``: build a task from the names a config file uses."""

from __future__ import annotations

import dataclasses
import functools

from grokscope.errors import ConfigError
from grokscope.tasks._base import Task
from grokscope.tasks._digits import Digits
from grokscope.tasks._groups import DihedralGroup, GroupComposition, PermutationGroup
from grokscope.tasks._modular import MODULAR_OPS, ModularArithmetic
from grokscope.tasks._multitask_parity import MultitaskParity
from grokscope.tasks._parity import SparseParity

__all__ = ["make_task", "register_task", "unregister_task", "TASK_KINDS"]

_CLASSES: dict[str, type] = {
    "modular": ModularArithmetic,
    "permutation": PermutationGroup,
    "dihedral": DihedralGroup,
    "group": GroupComposition,  # any group parse_group builds: cyclic:M, product:2,3,4, dihedral:n, symmetric:n
    "parity": SparseParity,
    "digits": Digits,  # real-valued 8x8 images from scikit-learn (Omnigrok's MNIST, offline)
    "multitask_parity": MultitaskParity,  # Zipf-weighted parity subtasks (Michaud et al. 2023, quanta)
}
TASK_KINDS: tuple[str, ...] = tuple(_CLASSES)  # the built-in kinds; register_task adds more


def register_task(kind: str, cls: type) -> None:
    """Make ``make_task(kind, ...)`` (and so a config's ``task.kind``) build ``cls(...)``.

    ``cls`` is a frozen dataclass whose init fields are the task's options, usually a
    ``TaskBase`` subclass (see ``grokscope.tasks._base`` for the contract). Registering a kind
    again replaces it.

    >>> from grokscope.tasks import ModularArithmetic
    >>> register_task("my_add", ModularArithmetic)
    >>> make_task("my_add", p=5).n_all
    25
    >>> unregister_task("my_add")
    """
    if not isinstance(kind, str) or not kind or kind in MODULAR_OPS:
        raise ConfigError(f"task kind {kind!r}: must be a non-empty name that is not a modular op")
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ConfigError(f"task class {cls!r}: must be a dataclass whose init fields are the task's options")
    _CLASSES[kind] = cls
    _build.cache_clear()  # an earlier class of the same kind must not be served from the cache


def unregister_task(kind: str) -> None:
    """Remove a kind added by :func:`register_task` (the built-in kinds stay)."""
    if kind in TASK_KINDS or kind not in _CLASSES:
        raise ConfigError(f"task kind {kind!r}: not a registered task kind (built-ins cannot be removed)")
    del _CLASSES[kind]
    _build.cache_clear()


def make_task(kind: str, **kwargs: object) -> Task:
    """Build the task ``kind`` with constructor arguments ``kwargs``.

    Kinds: ``modular`` (``op``, ``p``, ``pairs``, ``eq_token``), ``permutation`` (``n``,
    ``eq_token``), ``dihedral`` (``n``, ``eq_token``), ``parity`` (``n_bits``, ``k``,
    ``positions``, ``n_train``, ``n_test``, ``seed``), ``digits`` (``scale``), ``multitask_parity`` (``n_tasks``,
    ``n``, ``k``, ``alpha`` | ``zipf_exponent``, ``n_train``, ``n_test_per_task``, ``online``, ``seed``,
    ``subsets``). A modular op name is also accepted as the kind: ``make_task("add", p=67)`` is
    ``make_task("modular", op="add", p=67)``.
    Built tasks are cached, so equal arguments return the same instance: never modify
    its tensors in place.

    >>> make_task("modular", op="sub", p=7).describe()
    "a - b mod 7 over ordered pairs (49 inputs), context 'a b', vocab 7, 7 classes"
    >>> make_task("add", p=67, pairs="unordered").n_all
    2278
    """
    if isinstance(kind, str) and kind in MODULAR_OPS:
        if "op" in kwargs and kwargs["op"] != kind:
            raise ConfigError(f"task.op={kwargs['op']!r}: conflicts with task.kind={kind!r}")
        kwargs = {**kwargs, "op": kind}
        kind = "modular"
    if not isinstance(kind, str) or kind not in _CLASSES:
        allowed = ", ".join(_CLASSES) + " (or a modular op: " + ", ".join(MODULAR_OPS) + ")"
        raise ConfigError(f"task.kind={kind!r}: must be one of {allowed}")
    cls = _CLASSES[kind]
    accepted = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"task.{key}: not an option of task kind {kind!r} (allowed: {', '.join(accepted)})"
            )
    # TOML gives lists; tuples make the arguments a cache key.
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    try:
        hash(frozen)
    except TypeError:
        return cls(**kwargs)  # an odd argument type: let the constructor judge it, uncached
    return _build(kind, frozen)


@functools.lru_cache(maxsize=16)
def _build(kind: str, frozen: tuple[tuple[str, object], ...]) -> Task:
    """Tasks are immutable, so one instance serves every caller (S_6 takes ~0.3 s to build)."""
    return _CLASSES[kind](**dict(frozen))
