"""Sweep specs: which config keys vary, over which values, with how many seeds.

A spec is a small TOML file (see ``docs/sweeps.md``)::

    name = "wd-x-frac"                # the sweep's identity in the store (default: the file name)
    base = "pair-mod67"               # a preset, a config .toml, or an inline [base] table
    seeds = 9                         # seeds per point (or an explicit list of seed indices)
    seed = 0                          # member i of a point gets member_seed(seed, seed_index)
    steps = 20000                     # the step budget of every member (config key train.steps)
    max_ensemble = 512                # at most this many members trained as one ensemble, or "measure":
                                      # time a few steps at 1, 2, 4, ... members and stack the fastest
                                      # (sweep/_measure.py; the choice is stored with the sweep)
    refill = 16                       # optional: ensembles of at most 16 members, stacked up to
                                      # max_ensemble rows; a queued one joins as soon as members
                                      # retire and free its rows (continuous batching; 0 = off)

    [set]                             # fixed overrides applied to every point
    "optim.kind" = "adamw"

    [grid]                            # explicit values
    "task.train_frac" = [0.2, 0.3, 0.4]

    [logspace]                        # log-spaced values: start, stop, num (int = true rounds)
    "optim.weight_decay" = { start = 0.01, stop = 1.0, num = 5 }

    [random]                          # `samples` joint draws, crossed with the grid
    samples = 4
    seed = 0
    "optim.lr" = { low = 1e-4, high = 1e-2, log = true }

Points are the Cartesian product of the grid and logspace axes (in file order) crossed
with the random samples; every point is trained with every seed. The expansion is a pure
function of the spec, so a re-run finds the same members in the same order, which is
what lets an interrupted sweep resume (``_executor``).

Seeds are *common random numbers*: seed index s uses the same member seed at every point,
so two points differ only in the swept values, not in initialization or data order.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import grokscope.sweep._configs as C
from grokscope.errors import ConfigError
from grokscope.validate import check_int

__all__ = ["SweepSpec", "Point", "load_spec", "parse_spec"]

_TOP_KEYS = {"name", "base", "seeds", "seed", "steps", "max_ensemble", "refill", "set", "grid", "logspace", "random",
             "description"}
# 512 members: large enough that a PAIR-sized point block (9 seeds x dozens of values)
# fills one ensemble, small enough that a transformer ensemble's activations fit in RAM.
DEFAULT_MAX_ENSEMBLE = 512
MEASURE = "measure"  # max_ensemble chosen per shape by timing (grokscope.sweep._measure)


@dataclass(frozen=True)
class Point:
    """One setting of the swept keys: ``values`` maps dotted config keys to values."""

    index: int
    values: dict[str, Any]

    def label(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.values.items())


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated spec. ``canonical()`` is what the store compares on resume."""

    name: str
    base: str | dict | None
    base_config: dict[str, Any]            # the resolved base config (with [set] applied), validated
    axes: dict[str, list[Any]]             # grid and logspace axes, in file order
    random: dict[str, Any]                 # the [random] table as written (samples, seed, distributions)
    seed_indices: tuple[int, ...]
    seed: int
    steps: int | None
    max_ensemble: int | str                # a count, or MEASURE
    refill: int                            # 0, or the size of the ensembles stacked up to max_ensemble rows
    fixed: dict[str, Any]                  # the [set] table
    points: tuple[Point, ...]

    @property
    def keys(self) -> list[str]:
        """The swept keys, in point order."""
        return list(self.points[0].values) if self.points else []

    @property
    def n_members(self) -> int:
        return len(self.points) * len(self.seed_indices)

    def canonical(self) -> dict[str, Any]:
        """Everything that determines the members and their configs, as plain JSON data."""
        return json.loads(json.dumps({
            "base_config": self.base_config, "axes": self.axes, "random": self.random,
            "seeds": list(self.seed_indices), "seed": self.seed, "steps": self.steps,
            "max_ensemble": self.max_ensemble, "set": self.fixed,
            **({"refill": self.refill} if self.refill else {}),  # absent when off: older sweeps stay equal
        }, sort_keys=True))

    def describe(self) -> str:
        axes = "; ".join(f"{k}: {len(v)} values" for k, v in self.axes.items())
        rnd = f"; {self.random.get('samples', 0)} random samples" if self.random else ""
        return (f"sweep {self.name!r}: {len(self.points)} points ({axes}{rnd}) x {len(self.seed_indices)} seeds "
                f"= {self.n_members} members, {self.steps} steps each")


def load_spec(path: str | Path, *, name: str | None = None) -> SweepSpec:
    """Read and validate a spec file; ``name`` overrides the spec's own (default: the file stem).

    >>> spec = load_spec("sweep.toml")              # doctest: +SKIP
    >>> spec.n_members                              # doctest: +SKIP
    1125
    """
    p = Path(path)
    if not p.exists():
        from grokscope.sweep._presets import preset_path  # a bundled spec by name: sweep-pair-parity

        p = preset_path(str(path))
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"sweep spec {p}: not valid TOML ({e})") from None
    raw.setdefault("name", p.stem)
    if name is not None:
        raw["name"] = name
    return parse_spec(raw, spec_dir=p.parent)


def _logspace(key: str, d: Any) -> list[Any]:
    where = f"sweep [logspace] {key}"
    if not isinstance(d, dict) or not {"start", "stop", "num"} <= set(d) or set(d) - {"start", "stop", "num", "int"}:
        raise ConfigError(f"{where}={d!r}: must be a table {{ start = a, stop = b, num = n [, int = true] }}")
    start, stop = d["start"], d["stop"]
    num = check_int(d["num"], f"{where}.num", 1)
    for v, w in ((start, "start"), (stop, "stop")):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
            raise ConfigError(f"{where}.{w}={v!r}: must be a number > 0 (log spacing)")
    vals = np.geomspace(start, stop, num)
    if d.get("int", False):
        out = sorted({int(round(v)) for v in vals}, reverse=stop < start)
        return out
    # 12 significant digits: stable across platforms' last-bit differences in geomspace
    return [float(f"{v:.12g}") for v in vals]


def _random_points(table: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    where = "sweep [random]"
    table = dict(table)
    samples = check_int(table.pop("samples", None), f"{where} samples", 1)
    seed = check_int(table.pop("seed", 0), f"{where} seed", 0)
    if not table:
        raise ConfigError(f"{where}: samples={samples} but no key to draw; add e.g. \"optim.lr\" = {{ low = 1e-4, high = 1e-2, log = true }}")
    rng = np.random.default_rng(seed)
    cols: dict[str, list[Any]] = {}
    for key, d in table.items():
        w = f"{where} {key}"
        if isinstance(d, dict) and "choices" in d:
            ch = d["choices"]
            if not isinstance(ch, list) or not ch:
                raise ConfigError(f"{w}.choices={ch!r}: must be a non-empty list")
            cols[key] = [ch[i] for i in rng.integers(0, len(ch), samples)]
            continue
        if not isinstance(d, dict) or not {"low", "high"} <= set(d) or set(d) - {"low", "high", "log", "int"}:
            raise ConfigError(f"{w}={d!r}: must be {{ low = a, high = b [, log = true] [, int = true] }} or {{ choices = [...] }}")
        lo, hi, log = d["low"], d["high"], bool(d.get("log", False))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or not lo < hi:
            raise ConfigError(f"{w}: low={lo!r}, high={hi!r}: must be numbers with low < high")
        if log and lo <= 0:
            raise ConfigError(f"{w}.low={lo!r}: must be > 0 with log = true")
        u = rng.random(samples)
        v = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))) if log else lo + u * (hi - lo)
        cols[key] = [int(round(x)) for x in v] if d.get("int", False) else [float(f"{x:.12g}") for x in v]
    spec_table = {"samples": samples, "seed": seed, **table}
    return spec_table, [{k: cols[k][i] for k in cols} for i in range(samples)]


def parse_spec(raw: dict[str, Any], *, spec_dir: Path | None = None) -> SweepSpec:
    """Validate a spec given as a dict (the parsed TOML) and expand it into points.

    >>> spec = parse_spec({"name": "s", "grid": {"optim.lr": [1e-3, 1e-2]}, "seeds": 3})   # doctest: +SKIP
    >>> spec.n_members                                                                     # doctest: +SKIP
    6
    """
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"sweep spec: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\n"):
        raise ConfigError(f"sweep name={name!r}: must be a non-empty string without slashes")
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, list):
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f"sweep seeds={seeds!r}: must be a count >= 1 or a non-empty list of distinct integers")
        seed_indices = tuple(check_int(s, "sweep seeds[]", 0) for s in seeds)
    else:
        seed_indices = tuple(range(check_int(seeds, "sweep seeds", 1, 10_000)))
    seed = check_int(raw.get("seed", 0), "sweep seed", 0)
    steps = raw.get("steps")
    if steps is not None:
        steps = check_int(steps, "sweep steps", 1)
    max_ensemble = raw.get("max_ensemble", DEFAULT_MAX_ENSEMBLE)
    if max_ensemble != MEASURE:
        if isinstance(max_ensemble, str):
            raise ConfigError(f"sweep max_ensemble={max_ensemble!r}: must be an integer >= 1 or {MEASURE!r}")
        max_ensemble = check_int(max_ensemble, "sweep max_ensemble", 1)
    refill = check_int(raw.get("refill", 0), "sweep refill", 0)
    if refill and isinstance(max_ensemble, int) and refill > max_ensemble:
        raise ConfigError(f"sweep refill={refill}: must be <= max_ensemble={max_ensemble} (the rows of the stack)")

    base = raw.get("base")
    base_cfg = C.load_base(base, spec_dir)
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"sweep [set]={fixed!r}: must be a table of config keys")
    fixed = C.flatten(fixed)
    for key, value in fixed.items():
        C.set_key(base_cfg, key, value, "sweep [set]")
    if steps is not None:
        C.set_key(base_cfg, C.STEPS_KEY, steps, "sweep steps")
    base_cfg = C.validate(base_cfg, "sweep base config")

    axes: dict[str, list[Any]] = {}
    for table in ("grid", "logspace"):
        t = raw.get(table, {})
        if not isinstance(t, dict):
            raise ConfigError(f"sweep [{table}]={t!r}: must be a table of config keys")
        for key, vals in C.flatten(t).items() if table == "grid" else t.items():
            where = f"sweep [{table}] {key}"
            if key in axes:
                raise ConfigError(f"{where}: swept twice (in [grid] and [logspace]); keep one")
            C.check_key(base_cfg, key, f"sweep [{table}]")
            if key in (C.SEEDS_KEY, C.N_MEMBERS_KEY):
                raise ConfigError(f"{where}: set by the sweep itself; use `seeds = N` instead")
            vals = _logspace(key, vals) if table == "logspace" else vals
            if not isinstance(vals, list) or not vals:
                raise ConfigError(f"{where}={vals!r}: must be a non-empty list of values")
            if len({json.dumps(v, sort_keys=True) for v in vals}) != len(vals):
                raise ConfigError(f"{where}={vals!r}: has repeated values; list each value once")
            axes[key] = vals
    random_table, random_points = {}, [{}]
    if raw.get("random"):
        random_table, random_points = _random_points(raw["random"])
        for key in random_points[0]:
            if key in axes:
                raise ConfigError(f"sweep [random] {key}: also in [grid]/[logspace]; keep one")
            C.check_key(base_cfg, key, "sweep [random]")
    for table in ("grid", "logspace"):
        if table in raw and not raw[table]:
            raise ConfigError(f"sweep [{table}] is empty: give at least one key, e.g. \"optim.lr\" = [1e-3, 3e-3]")
    for key in list(axes) + list(random_points[0]):
        if key in fixed:
            raise ConfigError(f"sweep key {key}: both fixed in [set] and swept; keep one")

    # Validate every value once, on its own, against the config schema (ranges, types), so that
    # a bad value is named here and not as a failure deep inside an ensemble.
    for key, vals in axes.items():
        for v in vals:
            _check_value(base_cfg, key, v)
    for rp in random_points:
        for key, v in rp.items():
            _check_value(base_cfg, key, v)

    points = []
    for combo in itertools.product(*axes.values()):
        for rp in random_points:
            points.append(Point(len(points), {**dict(zip(axes, combo)), **rp}))
    return SweepSpec(
        name=name, base=base, base_config=base_cfg, axes=axes, random=random_table,
        seed_indices=seed_indices, seed=seed, steps=steps, max_ensemble=max_ensemble, refill=refill,
        fixed=fixed, points=tuple(points),
    )


def _check_value(base_cfg: dict[str, Any], key: str, value: Any) -> None:
    import copy

    d = copy.deepcopy(base_cfg)
    C.set_key(d, key, value, "sweep")
    C.validate(d, f"sweep value {key}={value!r}")
