"""The sweep's window onto ``grokscope.config``: base configs, dotted keys, validation.

Kept in one small module so that the sweep code depends on the config contract
(``docs/architecture.md``: ``load_config``, ``RunConfig.from_dict(d).to_dict()``, and the
per-member list keys) in exactly one place.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from grokscope import config
from grokscope.errors import ConfigError

# Keys that may hold one value per ensemble member: the config's own list, so a key added
# there is packed per member here too.
LIST_KEYS = config.PER_MEMBER_KEYS
# Free-form sections: their options depend on task.kind / model.arch, so any key may be set and
# the config's validation (building the task and the model config) decides.
_OPEN_SECTIONS = ("task", "model")
# Setting one of these removes the other: the config accepts only one way to size the split.
_EXCLUSIVE = {"task.train_frac": "task.train_count", "task.train_count": "task.train_frac"}
SEEDS_KEY = "member_seeds"
N_MEMBERS_KEY = "n_members"
# The spec's `steps = N` sets this key (the trainer's step budget).
STEPS_KEY = "train.steps"


def load_base(base: str | dict | None, spec_dir: Path | None) -> dict[str, Any]:
    """The full base config as a dict: a preset name, a path to a config TOML, or an inline table.

    An inline table is a set of dotted overrides on the default config (``{"optim.lr": 1e-3}``)
    or a nested dict; both are applied over ``load_config()``'s defaults.
    """
    if base is None:
        return config.load_config().to_dict()
    if isinstance(base, str):
        p = Path(base)
        if p.suffix == ".toml":
            if not p.is_absolute() and spec_dir is not None:
                p = spec_dir / p
            if not p.exists():
                raise ConfigError(f"sweep base={base!r}: no such config file ({p})")
            return config.load_config(path=str(p)).to_dict()
        return config.load_config(preset=base).to_dict()
    if isinstance(base, dict):
        d = config.load_config().to_dict()
        for key, value in flatten(base).items():
            set_key(d, key, value, where="sweep [base]")
        return validate(d, where="sweep [base]")
    raise ConfigError(f"sweep base={base!r}: must be a preset name, a .toml path or an inline table")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (keys already dotted pass through)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def known_keys(cfg: dict[str, Any]) -> set[str]:
    return set(flatten(cfg))


def check_key(cfg: dict[str, Any], key: str, where: str) -> None:
    """``ConfigError`` naming the key and close matches if ``key`` is not in the config schema.

    Keys of the open sections (``task.*``, ``model.*``) pass here and are checked by
    ``validate``, which builds the task and the model config and names unknown options.
    """
    keys = known_keys(cfg)
    parts = key.split(".")
    if key in keys or (len(parts) == 2 and parts[0] in _OPEN_SECTIONS and parts[1]):
        return
    import difflib

    close = difflib.get_close_matches(key, sorted(keys), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"keys look like {', '.join(sorted(keys)[:4])}, ..."
    raise ConfigError(f"{where}: unknown config key {key!r}; {hint}")


def set_key(cfg: dict[str, Any], key: str, value: Any, where: str) -> None:
    check_key(cfg, key, where)
    node = cfg
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    other = _EXCLUSIVE.get(key)
    if other is not None:
        node.pop(other.split(".")[1], None)


def get_key(cfg: dict[str, Any], key: str) -> Any:
    node = cfg
    for p in key.split("."):
        node = node[p]
    return node


def validate(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    """Round-trip through ``RunConfig`` so that its validation (types, ranges) applies; returns the dict."""
    try:
        return config.RunConfig.from_dict(copy.deepcopy(cfg)).to_dict()
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
