"""Packing sweep members into ensembles.

An ensemble trains many models as one batched model, so its members must share every
shape-determining setting (width, depth, task, step budget...). Only the per-member list
keys (``task.train_frac``, ``task.train_count``, ``optim.lr``, ``optim.weight_decay``,
``model.init_scale``, and the seeds; docs/architecture.md) may differ inside one. So:

1. members (point x seed) are grouped by the values of their swept keys that are *not*
   per-member keys: one group per "model shape";
2. a group larger than its cap is cut into ``ceil(n / cap)`` ensembles of near-equal size
   (equal sizes keep the batched matmuls the same shape and the work even). The cap is
   ``max_ensemble``, lowered for wide members so that one ensemble's widest activation
   (members x training rows x width, the width each architecture states in ``cost(cfg)``) stays
   under ``ACTIVATION_BUDGET``: measured with
   ``benchmarks/bench_sweep.py`` on the 2-core CPU, 225 parity MLPs of width 258 on 1,750 rows
   trained 0.8x as fast per member as one at a time, 6 of them 2.4x faster (cache, not FLOPs).
   With ``max_ensemble = "measure"`` the cap of each shape is the size measured fastest
   (``grokscope.sweep._measure``; ``caps``, keyed by :func:`shape_key`), within the same budget;
3. with ``refill = K`` the group is cut into ensembles of at most K members instead, trained
   stacked up to the cap (``grokscope.train.train_stacked``: a queued ensemble starts as soon as
   retired members free its rows), each padded to the group's largest training split
   (``train.pad_to``), so a member's numbers do not depend on which ensembles share its stack;
4. each ensemble's config is the base config with the group's shared values and, for the
   per-member keys, one value per member; ``member_seeds[j]`` is
   ``member_seed(spec.seed, seed_index)`` of member j, and its ``name`` (the run's name in
   the store) is ``sweep:<sweep name>/<ensemble index>``.

The packing is a pure function of the spec, so a resumed sweep finds the same ensembles.

>>> from grokscope.sweep._pack import chunk_sizes
>>> chunk_sizes(1125, 512)
[375, 375, 375]
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

from grokscope.models import ModelCost, get_architecture, model_config
from grokscope.seeding import member_seed
from grokscope.sweep import _configs as C
from grokscope.sweep._spec import SweepSpec

__all__ = ["EnsemblePlan", "pack", "chunk_sizes", "run_name", "shape_key", "measure_caps"]


def run_name(sweep: str, ensemble: int) -> str:
    """The store name of an ensemble's run (its config's ``name``), e.g. ``sweep:pair-parity/3``."""
    return f"sweep:{sweep}/{ensemble}"


@dataclass(frozen=True)
class EnsemblePlan:
    """One ensemble to train: its full config and which sweep member each of its members is."""

    index: int
    config: dict[str, Any]                 # validated config dict, per-member keys as lists
    members: tuple[tuple[int, int], ...]   # [(point index, seed index)] in ensemble member order
    shared: dict[str, Any]                 # swept values shared by every member (the "shape")
    stack: int = 0                         # refill: rows of its shape's stack (0: trained on its own)

    @property
    def n_members(self) -> int:
        return len(self.members)

    def fingerprint(self) -> str:
        """A stable text identity of the ensemble's config, stored to detect a changed plan."""
        return json.dumps(self.config, sort_keys=True)


def chunk_sizes(n: int, max_size: int) -> list[int]:
    """Split n into ceil(n / max_size) sizes differing by at most one."""
    k = max(1, math.ceil(n / max_size))
    q, r = divmod(n, k)
    return [q + 1] * r + [q] * (k - r)


# Elements of the widest activation of one ensemble (see step 2 above): 6 members x 1,750 rows x
# width 258 ran well, 225 x 1,750 x 16 (6.3e6) still packed 4.4x; beyond that caches thrash.
ACTIVATION_BUDGET = 6_000_000


def _activation_cap(cfg: dict[str, Any], max_ensemble: int) -> int:
    """``max_ensemble`` lowered so members x rows x width stays under ``ACTIVATION_BUDGET``."""
    from grokscope.config import RunConfig

    rc = RunConfig.from_dict(copy.deepcopy(cfg))
    task = rc.build_task()
    frac, count = rc.task.get("train_frac"), rc.task.get("train_count")
    top = (lambda v: max(v) if isinstance(v, list) else v)
    pool = task.train_pool.numel() if getattr(task, "train_pool", None) is not None else task.n_all
    rows = top(count) if count is not None else math.ceil(pool * (top(frac) if frac is not None else 1.0))
    width = _member_cost(rc.model, task).width
    return max(1, min(max_ensemble, ACTIVATION_BUDGET // max(1, rows * width)))


def _member_cost(model: dict[str, Any], task) -> ModelCost:
    """One member's size as its architecture states it (``cost(cfg)``); a ConfigError if it states none."""
    arch = get_architecture(model.get("arch", "pair_mlp"))
    cfg = model_config(arch.name, task, **{k: v for k, v in model.items() if k not in ("arch", "init_scale")})
    return arch.ensemble_cls.cost(cfg)


def shape_key(shared: dict[str, Any]) -> str:
    """The text identity of a shape: its shared swept values as sorted JSON."""
    return json.dumps(shared, sort_keys=True)


def _groups(spec: SweepSpec):
    """``(groups {shape: [(point, seed index)]}, shared values per shape, list keys)`` in point order."""
    list_keys = [k for k in spec.keys if k in C.LIST_KEYS]
    shape_keys = [k for k in spec.keys if k not in C.LIST_KEYS]
    groups: dict[str, list[tuple[int, int]]] = {}
    shared_of: dict[str, dict[str, Any]] = {}
    for point in spec.points:
        shared = {k: point.values[k] for k in shape_keys}
        gkey = shape_key(shared)
        shared_of.setdefault(gkey, shared)
        groups.setdefault(gkey, []).extend((point.index, s) for s in spec.seed_indices)
    return groups, shared_of, list_keys


def _cap_limit(spec: SweepSpec) -> int:
    from grokscope.sweep._spec import DEFAULT_MAX_ENSEMBLE

    return spec.max_ensemble if isinstance(spec.max_ensemble, int) else DEFAULT_MAX_ENSEMBLE


def measure_caps(spec: SweepSpec, *, rate=None) -> dict:
    """For ``max_ensemble = "measure"``: each shape's measured stack (``grokscope.sweep._measure``),
    timed on its first member up to min(the memory cap, the shape's member count)."""
    from grokscope.sweep._measure import measure_stack, timed_rate

    groups, shared_of, list_keys = _groups(spec)
    out = {}
    for gkey, members in groups.items():
        cfg = _config_for(spec, shared_of[gkey], list_keys, members, list(range(len(members))))
        limit = min(len(members), _activation_cap(cfg, _cap_limit(spec)))
        out[gkey] = measure_stack(C.validate(cfg, f"measuring shape {_label(shared_of[gkey])}"), limit,
                                  rate=rate or timed_rate)
    return out


def _config_for(spec: SweepSpec, shared: dict[str, Any], list_keys, chunk, seeds: list[int]) -> dict[str, Any]:
    """The base config with a shape's shared values and one value per member of ``chunk``."""
    cfg = copy.deepcopy(spec.base_config)
    for k, v in shared.items():
        C.set_key(cfg, k, v, "sweep")
    for k in list_keys:
        C.set_key(cfg, k, [spec.points[p].values[k] for p, _ in chunk], "sweep")
    C.set_key(cfg, C.N_MEMBERS_KEY, len(chunk), "sweep")
    C.set_key(cfg, C.SEEDS_KEY, seeds, "sweep")
    return cfg


def pack(spec: SweepSpec, *, validate: bool = True, caps: dict[str, int] | None = None) -> list[EnsemblePlan]:
    """The ensembles that train every member of ``spec``, in a deterministic order.

    ``validate=False`` skips the config round-trip per ensemble (for tests of the grouping).
    ``caps`` (``{shape_key: size}``) are the measured sizes of a ``max_ensemble = "measure"`` spec.
    """
    groups, shared_of, list_keys = _groups(spec)
    if not isinstance(spec.max_ensemble, int) and (caps is None or set(caps) != set(groups)):
        raise ValueError("pack: a max_ensemble='measure' spec needs a measured size for every shape (measure_caps)")

    def config_for(gkey: str, chunk, seeds: list[int]) -> dict[str, Any]:
        return _config_for(spec, shared_of[gkey], list_keys, chunk, seeds)

    plans: list[EnsemblePlan] = []
    for gkey, members in groups.items():           # dicts keep first-seen order: by first point
        start = 0
        cap = caps[gkey] if caps is not None and gkey in caps else _cap_limit(spec)
        if validate:  # the cap needs the task's size, i.e. a buildable config of the whole group
            cap = _activation_cap(config_for(gkey, members, list(range(len(members)))), cap)
        unit, pad_to = cap, 0
        if spec.refill:  # small ensembles, stacked up to `cap` rows, all padded to one training width
            unit = min(cap, spec.refill)
            if validate:
                pad_to = _train_width(config_for(gkey, members, [member_seed(spec.seed, s) for _, s in members]))
        for size in chunk_sizes(len(members), unit):
            chunk = tuple(members[start:start + size])
            start += size
            cfg = config_for(gkey, chunk, [member_seed(spec.seed, s) for _, s in chunk])
            cfg["name"] = run_name(spec.name, len(plans))
            if pad_to:
                C.set_key(cfg, "train.pad_to", pad_to, "sweep refill")
            if validate:
                cfg = C.validate(cfg, f"sweep ensemble {len(plans)} ({_label(shared_of[gkey])})")
            plans.append(EnsemblePlan(index=len(plans), config=cfg, members=chunk, shared=shared_of[gkey],
                                      stack=cap if spec.refill else 0))
    return plans


def _train_width(cfg: dict[str, Any]) -> int:
    """The largest training split of a whole shape group (its full-batch width), 0 for minibatches
    and online tasks (their batches have one width already)."""
    from grokscope.config import RunConfig
    from grokscope.tasks import split_for_run

    rc = RunConfig.from_dict(copy.deepcopy(cfg))
    if rc.train.batch_size != 0:
        return 0
    task = rc.build_task()
    if getattr(task, "online", False):
        return 0
    return int(split_for_run(task, rc.task, rc.seeds()).train_idx.shape[1])


def _label(shared: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in shared.items()) or "all points"
