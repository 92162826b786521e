"""The architectures grokscope can build, by the name a run config gives in ``model.arch``.

Each architecture file ends with one :func:`register_architecture` call naming its config
dataclass, its ensemble and reference classes and how a task fills the config's sizes. Adding an
architecture is that file plus one import in ``grokscope.models._build``; test or user code may
register one the same way, with no edit under ``src/``.

>>> from grokscope.models import architectures, get_architecture
>>> list(architectures())
['pair_mlp', 'transformer', 'mlp', 'feature_mlp', 'li2']
>>> get_architecture("mlp").input_kind
'tokens'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from grokscope.errors import ConfigError
from grokscope.tasks import INPUT_KINDS, input_kind

from ._common import EnsembleBase, ReferenceBase

__all__ = ["Architecture", "ARCHS", "register_architecture", "unregister_architecture", "architectures",
           "get_architecture", "check_input_kind"]


@dataclass(frozen=True)
class Architecture:
    """One registered architecture."""

    name: str  # what model.arch says
    config_cls: type  # frozen dataclass of hyperparameters
    ensemble_cls: type[EnsembleBase]  # n members batched, [model, ...] parameters
    reference_cls: type[ReferenceBase]  # one member, plain code, the ensemble's ground truth
    task_sizes: Callable[[Any], dict[str, Any]]  # task -> the config fields the task sets (one-line ConfigError if unfit)

    @property
    def input_kind(self) -> str:
        return self.ensemble_cls.input_kind


_REGISTRY: dict[str, Architecture] = {}
# name -> (config class, ensemble class), the shape ``ARCHS`` always had; kept in step with the registry.
ARCHS: dict[str, tuple[type, type[EnsembleBase]]] = {}


def register_architecture(name: str, config_cls: type, ensemble_cls: type[EnsembleBase],
                          reference_cls: type[ReferenceBase], task_sizes: Callable[[Any], dict[str, Any]]) -> Architecture:
    """Make ``model.arch = name`` build ``ensemble_cls``; returns the entry.

    Registering the same classes under the same name again is a no-op (a module imported twice);
    a different architecture under a taken name is a ``ConfigError``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"architecture name {name!r}: must be an identifier such as 'pair_mlp'")
    if not (isinstance(ensemble_cls, type) and issubclass(ensemble_cls, EnsembleBase)):
        raise ConfigError(f"architecture {name!r}: ensemble_cls={ensemble_cls!r} must be a subclass of EnsembleBase")
    if not (isinstance(reference_cls, type) and issubclass(reference_cls, ReferenceBase)):
        raise ConfigError(f"architecture {name!r}: reference_cls={reference_cls!r} must be a subclass of ReferenceBase")
    if ensemble_cls.input_kind not in INPUT_KINDS:
        raise ConfigError(f"{ensemble_cls.__name__}.input_kind={ensemble_cls.input_kind!r}: must be one of {', '.join(INPUT_KINDS)}")
    if not callable(task_sizes):
        raise ConfigError(f"architecture {name!r}: task_sizes={task_sizes!r} must be a function of the task")
    entry = Architecture(name, config_cls, ensemble_cls, reference_cls, task_sizes)
    old = _REGISTRY.get(name)
    if old is not None and old != entry:
        raise ConfigError(f"architecture {name!r}: already registered to {old.ensemble_cls.__name__}; pick another name")
    _REGISTRY[name] = entry
    ARCHS[name] = (config_cls, ensemble_cls)
    return entry


def unregister_architecture(name: str) -> None:
    """Remove ``name`` from the registry (for tests that register a toy architecture)."""
    get_architecture(name)
    del _REGISTRY[name]
    del ARCHS[name]


def architectures() -> dict[str, Architecture]:
    """Every registered architecture by name, in registration order (a copy)."""
    return dict(_REGISTRY)


def get_architecture(name: str) -> Architecture:
    """The architecture ``model.arch = name`` builds, or a one-line ``ConfigError``."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"model.arch={name!r}: must be one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def check_input_kind(arch: Architecture, task) -> None:
    """A task's ``input_kind`` (``"tokens"`` when it declares none) must be what ``arch`` reads."""
    kind = input_kind(task)
    if kind != arch.input_kind:
        raise ConfigError(
            f"model.arch={arch.name!r} with task {getattr(task, 'name', '?')}: the model reads {arch.input_kind},"
            f" the task's input_kind is {kind!r}; pick an architecture that reads {kind}"
        )
