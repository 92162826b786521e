"""The sweep's own tables in the run store, and the reads the CLI and analyses need.

Three tables, written only inside ``store.transaction()`` so that each change is atomic:

- ``sweeps``: one row per sweep name, holding the canonical spec it was started with (a
  re-run compares against it and refuses a changed spec);
- ``sweep_ensembles``: one row per planned ensemble, ``pending`` until its run has
  finished *and* been mapped, then ``done`` with the run id. Runs of earlier interrupted
  attempts are listed in ``abandoned`` (they stay in the store, marked failed);
- ``sweep_members``: one row per (point, seed) with the point's values, and, once done,
  the (run, member) that trained it and a copy of its result fields (phase, steps);
- ``sweep_stacks``: for a sweep with ``max_ensemble = "measure"``, the ensemble size chosen for
  each shape and the timings it was chosen from, written with the plan (a re-run packs the same).

A ``done`` ensemble and its member rows are written in the same transaction, so a
reader never sees an ensemble half mapped; that is what makes kill -9 safe.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from grokscope.errors import StoreError

_DDL = (
    """CREATE TABLE IF NOT EXISTS sweeps (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        name      TEXT NOT NULL UNIQUE,
        spec      TEXT NOT NULL,
        keys      TEXT NOT NULL,
        n_points  INTEGER NOT NULL,
        n_members INTEGER NOT NULL,
        created   REAL NOT NULL,
        updated   REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sweep_ensembles (
        sweep_id    INTEGER NOT NULL REFERENCES sweeps(id),
        ensemble    INTEGER NOT NULL,
        n_members   INTEGER NOT NULL,
        status      TEXT NOT NULL,
        run_id      INTEGER,
        abandoned   TEXT NOT NULL DEFAULT '[]',
        seconds     REAL,
        PRIMARY KEY (sweep_id, ensemble)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS sweep_members (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
        point    INTEGER NOT NULL,
        seed     INTEGER NOT NULL,
        vals     TEXT NOT NULL,
        ensemble INTEGER NOT NULL,
        slot     INTEGER NOT NULL,
        run_id   INTEGER,
        member   INTEGER,
        result   TEXT,
        PRIMARY KEY (sweep_id, point, seed)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS sweep_stacks (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
        shape    TEXT NOT NULL,
        size     INTEGER NOT NULL,
        measured TEXT NOT NULL,
        PRIMARY KEY (sweep_id, shape)
    ) WITHOUT ROWID""",
)


def stored_stacks(store, name: str) -> dict[str, int] | None:
    """The measured ensemble size per shape of sweep ``name``; None if it has none stored."""
    if not has_tables(store):
        return None
    with store._snapshot() as conn:
        if not conn.execute("SELECT name FROM sqlite_master WHERE name='sweep_stacks'").fetchone():
            return None
        rows = conn.execute("SELECT s.shape, s.size FROM sweep_stacks s JOIN sweeps w ON w.id = s.sweep_id "
                            "WHERE w.name=?", (name,)).fetchall()
    return {shape: int(size) for shape, size in rows} or None


def registered_spec(store, name: str) -> dict[str, Any] | None:
    """The canonical spec sweep ``name`` was registered with; None if there is no such sweep."""
    if not has_tables(store):
        return None
    with store._snapshot() as conn:
        row = conn.execute("SELECT spec FROM sweeps WHERE name=?", (name,)).fetchone()
    return None if row is None else json.loads(row[0])


def ensure_tables(conn) -> None:
    for ddl in _DDL:
        conn.execute(ddl)


def has_tables(store) -> bool:
    with store._snapshot() as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {"sweeps", "sweep_ensembles", "sweep_members"} <= names


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as ``grokscope sweeps`` lists it."""

    id: int
    name: str
    spec: dict[str, Any]
    keys: list[str]
    n_points: int
    n_members: int
    n_ensembles: int
    ensembles_done: int
    members_done: int
    created: float
    updated: float

    @property
    def status(self) -> str:
        return "finished" if self.ensembles_done == self.n_ensembles else "incomplete"


def list_sweeps(store) -> list[SweepRecord]:
    """Every sweep in the store with its progress, oldest first."""
    if not has_tables(store):
        return []
    with store._snapshot() as conn:
        rows = conn.execute(
            "SELECT s.id, s.name, s.spec, s.keys, s.n_points, s.n_members, s.created, s.updated, "
            "(SELECT COUNT(*) FROM sweep_ensembles e WHERE e.sweep_id=s.id), "
            "(SELECT COUNT(*) FROM sweep_ensembles e WHERE e.sweep_id=s.id AND e.status='done'), "
            "(SELECT COUNT(*) FROM sweep_members m WHERE m.sweep_id=s.id AND m.run_id IS NOT NULL) "
            "FROM sweeps s ORDER BY s.id"
        ).fetchall()
    return [SweepRecord(id=r[0], name=r[1], spec=json.loads(r[2]), keys=json.loads(r[3]), n_points=r[4],
                        n_members=r[5], created=r[6], updated=r[7], n_ensembles=r[8], ensembles_done=r[9],
                        members_done=r[10]) for r in rows]


def get_sweep(store, name_or_id: str | int) -> SweepRecord:
    """One sweep by name or id; ``StoreError`` naming the known sweeps if absent."""
    sweeps = list_sweeps(store)
    for s in sweeps:
        if s.name == name_or_id or str(s.id) == str(name_or_id):
            return s
    known = ", ".join(s.name for s in sweeps) or "none yet"
    raise StoreError(f"sweep {name_or_id!r} not found in {store.path} (sweeps: {known}); see `grokscope sweeps`")


def sweep_members(store, name_or_id: str | int) -> list[dict[str, Any]]:
    """One dict per sweep member: ``point``, ``seed`` (the sweep's seed index), ``values`` (the swept
    values), ``ensemble``, ``run_id`` and ``member`` (None until trained), and once trained the
    trainer's result fields (``phase``, ``mem_step``, ``gen_step``, ``diverged``, ``member_seed``)."""
    sw = get_sweep(store, name_or_id)
    with store._snapshot() as conn:
        rows = conn.execute(
            "SELECT point, seed, vals, ensemble, run_id, member, result FROM sweep_members "
            "WHERE sweep_id=? ORDER BY point, seed", (sw.id,)).fetchall()
    out = []
    for point, seed, vals, ens, run_id, member, result in rows:
        d = {"point": point, "seed": seed, "ensemble": ens, "run_id": run_id, "member": member,
             "values": json.loads(vals)}
        if result is not None:
            res = json.loads(result)
            if "seed" in res:            # the member's own seed; "seed" here is the sweep's seed index
                res["member_seed"] = res.pop("seed")
            d.update(res)
        out.append(d)
    return out


def now() -> float:
    return time.time()
