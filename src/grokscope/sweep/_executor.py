"""Running a sweep: plan the ensembles, train the missing ones, map members to runs.

**Nothing is lost.** A sweep is identified by its name. The first run registers the spec
and the whole plan (every ensemble ``pending``, every member unmapped) in one transaction.
Each ensemble is then trained as an ordinary run (``grokscope.train.train``) named
``sweep:<name>/<ensemble>``; when it has finished, one transaction marks the ensemble
``done`` and maps each sweep member to its (run, member) with a copy of its results.
Killed at any instant (kill -9) and re-run with the same spec, the sweep:

- skips ``done`` ensembles (no retraining, no duplicate);
- adopts a *finished* run of a pending ensemble (killed between the end of training and the
  mapping transaction): a run whose name or config is exactly that ensemble's and that no
  sweep maps yet;
- **resumes** an ensemble whose run was cut mid-training, with the trainer's own resume
  (``train(cfg, store, resume=run_id)``: from its last flush, or from step 0 if it was killed
  before its first flush, reproducing the uninterrupted numbers at the same thread count), so a
  kill costs at most ``log.flush_seconds`` of work and never duplicates a run;
- with ``refill`` (in-process), trains each shape's ensembles stacked (``train_stacked``): queued
  ensembles join as members retire, and cut runs resume inside the stack, each from its own flush;
- with the Ray backend, or for a run that *failed* (an exception, not a kill), retrains from
  scratch instead: the old run is marked ``failed`` and listed as ``abandoned``; it stays in
  the store as a record and is never mapped.

A spec that differs from the registered one is refused before anything is written, with
the first differing field named. The base config's ``[log]`` settings are the exception: they
decide what is recorded, never what a member learns, so a re-run keeps the ones the sweep was
registered with (a newer grokscope's defaults, e.g. more checkpoints, apply to new sweeps only).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

from grokscope.errors import ConfigError, StoreError
import grokscope.sweep._configs as C
from grokscope.sweep import _tables as T
from grokscope.sweep._pack import EnsemblePlan, measure_caps, pack, run_name
from grokscope.sweep._progress import SweepProgress
from grokscope.sweep._spec import SweepSpec
from grokscope.sweep._train_plan import train_plan

__all__ = ["run_sweep", "SweepReport", "run_name", "spec_difference", "train_plan"]

BACKENDS = ("inprocess", "ray")


@dataclass
class SweepReport:
    """What one invocation did: ensembles trained now, adopted, skipped; members/s of the training."""

    name: str
    sweep_id: int
    n_ensembles: int
    trained: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)        # ensembles continued from a cut run (subset of trained)
    abandoned_runs: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)        # Ray: ensembles resubmitted after a lost worker
    stacks: dict[str, int] = field(default_factory=dict)    # max_ensemble="measure": size per shape (stored)
    members_trained: int = 0
    seconds: float = 0.0

    @property
    def models_per_s(self) -> float:
        return self.members_trained / self.seconds if self.seconds > 0 else float("nan")

    @property
    def complete(self) -> bool:
        return len(self.trained) + len(self.adopted) + len(self.skipped) == self.n_ensembles


def spec_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The first path where two canonical specs differ, as ``"grid.optim.lr: [..] -> [..]"``; None if equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            sub = f"{path}.{k}" if path else str(k)
            if k not in old:
                return f"{sub} added ({_short(new[k])})"
            if k not in new:
                return f"{sub} removed (was {_short(old[k])})"
            d = spec_difference(old[k], new[k], sub)
            if d:
                return d
        return None
    return None if old == new else f"{path}: {_short(old)} -> {_short(new)}"


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 60 else s[:57] + "..."


def _register(store, spec: SweepSpec, plans: list[EnsemblePlan], measured: dict | None = None) -> int:
    """Register the sweep and its plan (and the measured stack sizes), or check a registered one's spec."""
    canon = spec.canonical()
    with store.transaction() as conn:
        T.ensure_tables(conn)
        row = conn.execute("SELECT id, spec FROM sweeps WHERE name=?", (spec.name,)).fetchone()
        if row is not None:
            diff = spec_difference(_without_log(_with_current_defaults(json.loads(row[1]))), _without_log(canon))
            if diff:
                raise ConfigError(f"sweep {spec.name!r} was started with a different spec ({diff}); "
                                  f"restore the spec or give the sweep a new name")
            return int(row[0])
        now = T.now()
        sid = conn.execute(
            "INSERT INTO sweeps (name, spec, keys, n_points, n_members, created, updated) VALUES (?,?,?,?,?,?,?)",
            (spec.name, json.dumps(canon, sort_keys=True), json.dumps(spec.keys), len(spec.points),
             spec.n_members, now, now)).lastrowid
        conn.executemany(
            "INSERT INTO sweep_ensembles (sweep_id, ensemble, n_members, status) VALUES (?,?,?,'pending')",
            [(sid, p.index, p.n_members) for p in plans])
        conn.executemany(
            "INSERT INTO sweep_members (sweep_id, point, seed, vals, ensemble, slot) VALUES (?,?,?,?,?,?)",
            [(sid, pt, s, json.dumps(spec.points[pt].values, sort_keys=True), p.index, j)
             for p in plans for j, (pt, s) in enumerate(p.members)])
        if measured:
            conn.executemany("INSERT INTO sweep_stacks (sweep_id, shape, size, measured) VALUES (?,?,?,?)",
                             [(sid, shape, choice.size, choice.to_json()) for shape, choice in measured.items()])
    return int(sid)


def _with_registered_log(store, spec: SweepSpec) -> SweepSpec:
    """``spec`` with the base config's ``log`` section of the registered sweep of that name, if any.

    Keys the registered section lacks (added to ``[log]`` since) keep this spec's values.
    """
    registered = T.registered_spec(store, spec.name)
    log = ((registered or {}).get("base_config") or {}).get("log")
    if not isinstance(log, dict) or not isinstance(spec.base_config.get("log"), dict):
        return spec
    merged = {**spec.base_config["log"], **log}
    if merged == spec.base_config["log"]:
        return spec
    return dataclasses.replace(spec, base_config={**spec.base_config, "log": merged})


def _without_log(canon: dict[str, Any]) -> dict[str, Any]:
    """A canonical spec without its log settings (the base config's ``log`` and ``[set]``'s ``log.*``):
    they record, never change what a member learns, and a re-run takes them from the registered spec."""
    out = dict(canon)
    if isinstance(out.get("set"), dict):
        out["set"] = {k: v for k, v in out["set"].items() if not str(k).startswith("log.")}
    if isinstance(out.get("base_config"), dict):
        out["base_config"] = {k: v for k, v in out["base_config"].items() if k != "log"}
    return out


def _with_current_defaults(canon: dict[str, Any]) -> dict[str, Any]:
    """A registered spec with config keys added since it was stored set to their defaults.

    A spec stores its base config with every default written out; a later grokscope that adds a
    config key (whose default keeps the old behaviour) must still recognize the sweep as the same.
    """
    base = canon.get("base_config")
    if not isinstance(base, dict):
        return canon
    try:
        return {**canon, "base_config": C.validate(base, "registered sweep spec")}
    except ConfigError:  # not valid any more: compare as stored, and the difference is reported
        return canon


def _finalize(store, sweep_id: int, plan: EnsemblePlan, run_id: int, seconds: float | None) -> None:
    """Map the ensemble's members to ``run_id`` and mark it done, in one transaction."""
    members = store.members(run_id)
    if len(members) != plan.n_members:
        raise StoreError(f"run {run_id} has {len(members)} members; sweep ensemble {plan.index} needs {plan.n_members}")
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE sweep_members SET run_id=?, member=?, result=? WHERE sweep_id=? AND ensemble=? AND slot=?",
            [(run_id, j, json.dumps({k: v for k, v in members[j].items() if k != "member"}, sort_keys=True),
              sweep_id, plan.index, j) for j in range(plan.n_members)])
        conn.execute("UPDATE sweep_ensembles SET status='done', run_id=?, seconds=? WHERE sweep_id=? AND ensemble=?",
                     (run_id, seconds, sweep_id, plan.index))
        conn.execute("UPDATE sweeps SET updated=? WHERE id=?", (T.now(), sweep_id))


def _mapped_runs(conn) -> set[int]:
    used = {r[0] for r in conn.execute("SELECT run_id FROM sweep_ensembles WHERE run_id IS NOT NULL")}
    for (ab,) in conn.execute("SELECT abandoned FROM sweep_ensembles WHERE abandoned != '[]'"):
        used.update(json.loads(ab))
    return used


def _recover(store, sweep_id: int, name: str, plans: dict[int, EnsemblePlan], pending: list[int], *,
             resume: bool):
    """Sort the runs left by earlier attempts at pending ensembles.

    Returns ``(adopted, resumable, abandoned)``: ensembles whose run had finished (now mapped),
    ``{ensemble: run_id}`` of runs cut mid-training that the trainer can resume (only when
    ``resume``), and the run ids given up (marked failed and recorded, never mapped).
    """
    if not pending:
        return [], {}, []
    with store.transaction() as conn:
        used = _mapped_runs(conn)
    by_name = {run_name(name, i): i for i in pending}
    by_cfg = {json.dumps(plans[i].config, sort_keys=True): i for i in pending}
    finished, partial = {}, {}
    for run in store.list_runs():
        if run.id in used:
            continue
        i = by_name.get(run.name)
        if i is None:
            i = by_cfg.get(json.dumps(run.config, sort_keys=True))
        if i is None:
            continue
        if run.status == "finished":
            finished.setdefault(i, run.id)
        elif run.status in ("created", "interrupted", "failed"):
            partial.setdefault(i, []).append((run.id, run.status))
    for i, run_id in finished.items():
        _finalize(store, sweep_id, plans[i], run_id, None)
    resumable, abandoned = {}, {}
    for i, runs in partial.items():
        runs = sorted(runs)
        # The newest cut run continues in place: from its last flush, or from step 0 when it was
        # killed before its first flush (the trainer starts such a run over), so no run is duplicated.
        if resume and i not in finished and runs[-1][1] in ("created", "interrupted"):
            resumable[i] = runs.pop()[0]
        if runs:
            abandoned[i] = [rid for rid, _ in runs]
    for i, ids in abandoned.items():
        for rid in ids:
            if store.get_run(rid).status != "failed":
                store.set_status(rid, "failed")
        with store.transaction() as conn:
            (old,) = conn.execute("SELECT abandoned FROM sweep_ensembles WHERE sweep_id=? AND ensemble=?",
                                  (sweep_id, i)).fetchone()
            conn.execute("UPDATE sweep_ensembles SET abandoned=? WHERE sweep_id=? AND ensemble=?",
                         (json.dumps(sorted(set(json.loads(old)) | set(ids))), sweep_id, i))
    return sorted(finished), resumable, sorted(r for ids in abandoned.values() for r in ids)


def run_sweep(spec: SweepSpec, store=None, *, backend: str = "inprocess", address: str | None = None,
              progress: bool = True, max_ensembles: int | None = None, console=None,
              tune_memory: bool = True) -> SweepReport:
    """Train every member of ``spec`` that the store does not have yet; safe to re-run after any kill.

    ``backend="ray"`` trains ensembles on Ray workers (``address`` of a cluster, or a local
    instance); only this process writes the store. ``max_ensembles`` stops after training that
    many ensembles (the rest stay pending for the next run). ``tune_memory`` keeps freed memory
    in this process (``grokscope._malloc.tune_malloc``): up to several times faster steps for large
    ensembles; each run gives its free memory back to the OS when it ends (docs/performance.md, "Memory").

    >>> from grokscope.sweep import load_spec, run_sweep         # doctest: +SKIP
    >>> report = run_sweep(load_spec("presets/sweep-dc-pair-mod67.toml"))   # doctest: +SKIP
    """
    from grokscope.store import Store

    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: must be one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise ConfigError(f"address={address!r}: only used with backend='ray'")
    store = store if store is not None else Store()
    if tune_memory:
        from grokscope._malloc import tune_malloc

        tune_malloc()
    measured, caps = None, None
    if not isinstance(spec.max_ensemble, int):  # "measure": the sizes stored with the plan, else time them now
        caps = T.stored_stacks(store, spec.name)
        if caps is None:
            measured = measure_caps(spec)
            caps = {shape: choice.size for shape, choice in measured.items()}
    spec = _with_registered_log(store, spec)
    plans = pack(spec, caps=caps)
    sweep_id = _register(store, spec, plans, measured)
    by_index = {p.index: p for p in plans}
    with store.transaction() as conn:
        status = dict(conn.execute("SELECT ensemble, status FROM sweep_ensembles WHERE sweep_id=?", (sweep_id,)))
    report = SweepReport(name=spec.name, sweep_id=sweep_id, n_ensembles=len(plans), stacks=dict(caps or {}))
    report.skipped = sorted(i for i, s in status.items() if s == "done")
    pending = sorted(i for i, s in status.items() if s != "done")
    report.adopted, resumable, report.abandoned_runs = _recover(
        store, sweep_id, spec.name, by_index, pending, resume=backend == "inprocess")
    report.resumed = sorted(resumable)
    todo = [by_index[i] for i in pending if i not in report.adopted]
    if max_ensembles is not None:
        todo = todo[:max_ensembles]

    done_plans = [by_index[i] for i in report.skipped + report.adopted]
    bar = SweepProgress(spec, done_plans, enabled=progress, console=console)
    t_start = time.perf_counter()

    def on_done(plan: EnsemblePlan, run_id: int, seconds: float) -> None:
        _finalize(store, sweep_id, plan, run_id, seconds)
        report.trained.append(plan.index)
        report.members_trained += plan.n_members
        bar.advance(plan)

    with bar:
        if backend == "inprocess" and any(p.stack for p in todo):
            _train_refilling(todo, store, sweep_id, spec.name, resumable, on_done)
        elif backend == "inprocess":
            for plan in todo:
                with store.transaction() as conn:
                    conn.execute("UPDATE sweep_ensembles SET status='running' WHERE sweep_id=? AND ensemble=?",
                                 (sweep_id, plan.index))
                t0 = time.perf_counter()
                run_id = train_plan(plan.config, store, run_name(spec.name, plan.index),
                                    resume=resumable.get(plan.index))
                on_done(plan, run_id, time.perf_counter() - t0)
        else:
            from grokscope.sweep._ray import run_on_ray

            run_on_ray(todo, store, spec.name, address, on_done, on_retry=lambda plan: report.retried.append(plan.index))
    report.seconds = time.perf_counter() - t_start
    return report


def _train_refilling(todo: list[EnsemblePlan], store, sweep_id: int, name: str, resumable: dict[int, int],
                     on_done) -> None:
    """A ``refill`` sweep: each shape's ensembles trained as one stack (``grokscope.train.train_stacked``),
    a queued ensemble joining as soon as retired members free its rows. Each ensemble is still its own
    run, mapped the moment it finishes; a cut one resumes (from its stored config) inside the stack."""
    from grokscope.config import RunConfig
    from grokscope.train import StackJob, train_stacked

    def started(job) -> None:
        with store.transaction() as conn:
            conn.execute("UPDATE sweep_ensembles SET status='running' WHERE sweep_id=? AND ensemble=?",
                         (sweep_id, job.tag.index))

    def done(job, result) -> None:
        on_done(job.tag, int(result.run_id), float(result.summary["wall_seconds"]))

    shapes: dict[str, list[EnsemblePlan]] = {}
    for plan in todo:
        shapes.setdefault(json.dumps(plan.shared, sort_keys=True), []).append(plan)
    for plans in shapes.values():
        jobs = []
        for plan in plans:
            rid = resumable.get(plan.index)
            cfg = RunConfig.from_dict(store.get_run(rid).config if rid is not None
                                      else {**plan.config, "name": run_name(name, plan.index)})
            jobs.append(StackJob(cfg, resume=rid, on_done=done, on_start=started, tag=plan))
        train_stacked(jobs, store, capacity=plans[0].stack)
