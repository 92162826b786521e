"""The run store: runs, per-member metrics, checkpoints, resume states and array artefacts.

What is stored where (``_schema.py``), how values are encoded (``_codec.py``) and how the SQLite
file is opened and written safely (``_connection.py``, which says why WAL, NORMAL sync and a
busy timeout) live beside this file; ``Store`` is the API the trainer, sweeps and reports use.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable, Mapping

import numpy as np

from grokscope.errors import StoreError
from grokscope.store import _codec, _process
from grokscope.store._connection import Connection
from grokscope.store._record import SETTABLE_STATUSES, RunRecord


class Store(Connection):
    """A SQLite run store that one process writes while others read.

    >>> import pathlib, tempfile, numpy as np
    >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "runs.db")
    >>> run = store.create_run(kind="train", config={"p": 67}, members=[{"seed": 1}, {"seed": 2}])
    >>> store.flush(run, metrics=[(10, {"train_acc": np.array([0.5, 0.75])})])
    >>> steps, values = store.metrics(run)
    >>> steps.tolist(), values["train_acc"].tolist()
    ([10], [[0.5, 0.75]])
    """

    # ----------------------------------------------------------------------- runs
    def create_run(
        self, kind: str, config: Mapping[str, Any], members: list[Mapping[str, Any]], name: str | None = None
    ) -> int:
        """Add a run with one row per ensemble member; returns the new run id."""
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"run kind {kind!r}: must be a non-empty string such as 'train'")
        if hasattr(config, "to_dict"):
            config = config.to_dict()
        if not isinstance(config, Mapping):
            raise StoreError(f"run config is a {type(config).__name__}; it must be a dict")
        if not isinstance(members, (list, tuple)) or not members:
            raise StoreError("members must be a non-empty list of dicts, one per ensemble member")
        rows = []
        for i, m in enumerate(members):
            if not isinstance(m, Mapping) or m.get("member", i) != i:
                raise StoreError(f"members[{i}] must be a dict (with 'member' absent or equal to {i})")
            fields = {k: v for k, v in m.items() if k != "member"}
            rows.append((i, _codec.to_json(fields, f"members[{i}]")))
        config_json = _codec.to_json(dict(config), "run config")
        now = time.time()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs (kind, name, status, config, n_members, created, updated) "
                "VALUES (?, ?, 'created', ?, ?, ?, ?)",
                (kind, name, config_json, len(rows), now, now),
            )
            run_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO members (run_id, member, fields) VALUES (?, ?, ?)", [(run_id, i, f) for i, f in rows]
            )
        return int(run_id)

    _RUN_COLUMNS = "id, kind, name, status, config, n_members, created, updated, summary, pid, host, pid_started"

    @staticmethod
    def _record(row: tuple) -> RunRecord:
        run_id, kind, name, status, config, n, created, updated, summary, pid, host, started = row
        if status == "running" and _process.is_alive(pid, host, started) is False:
            status = "interrupted"
        return RunRecord(
            id=run_id, kind=kind, name=name, status=status, config=_codec.from_json(config), n_members=n,
            created=created, updated=updated, summary=_codec.from_json(summary), pid=pid, host=host,
        )  # fmt: skip

    def get_run(self, run_id: int) -> RunRecord:
        """The run's metadata; a ``running`` run whose process is gone reads ``interrupted``."""
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            row = conn.execute(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id=?", (int(run_id),)).fetchone()
        return self._record(row)

    def list_runs(self, kind: str | None = None) -> list[RunRecord]:
        """All runs (of one ``kind`` if given), oldest first."""
        sql = f"SELECT {self._RUN_COLUMNS} FROM runs"
        with self._snapshot() as conn:
            if kind is None:
                rows = conn.execute(sql + " ORDER BY id").fetchall()
            else:
                rows = conn.execute(sql + " WHERE kind=? ORDER BY id", (kind,)).fetchall()
        return [self._record(r) for r in rows]

    def set_status(self, run_id: int, status: str, *, force: bool = False) -> None:
        """Set ``running`` (claims the run for this process), ``finished`` or ``failed``.

        Claiming a run that another live process on this host holds raises
        ``StoreError`` (two writers would interleave their steps); so does one held
        by a process on another host, whose liveness cannot be checked, unless
        ``force=True``.
        """
        if status not in SETTABLE_STATUSES:
            raise StoreError(f"status {status!r}: must be one of {', '.join(SETTABLE_STATUSES)}")
        me, host = os.getpid(), _process.hostname()
        with self.transaction() as conn:
            self._require_run(conn, run_id)
            if status != "running":
                conn.execute("UPDATE runs SET status=?, updated=? WHERE id=?", (status, time.time(), int(run_id)))
                return
            old, pid, old_host, started = conn.execute(
                "SELECT status, pid, host, pid_started FROM runs WHERE id=?", (int(run_id),)
            ).fetchone()
            alive = _process.is_alive(pid, old_host, started)
            if old == "running" and not force and (pid, old_host) != (me, host) and alive is not False:
                where = f"pid {pid} on {old_host}"
                hint = "" if alive else " (cannot check another host; pass force=True if it is dead)"
                raise StoreError(f"run {run_id} is already running in {where}{hint}")
            conn.execute(
                "UPDATE runs SET status='running', pid=?, host=?, pid_started=?, updated=? WHERE id=?",
                (me, host, _process.start_time(me), time.time(), int(run_id)),
            )

    def set_summary(self, run_id: int, summary: Mapping[str, Any]) -> None:
        """Replace the run's JSON summary (e.g. steps-to-grok statistics)."""
        text = _codec.to_json(dict(summary), "run summary")
        with self.transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute("UPDATE runs SET summary=?, updated=? WHERE id=?", (text, time.time(), int(run_id)))

    # -------------------------------------------------------------------- members
    def members(self, run_id: int) -> list[dict[str, Any]]:
        """One dict per member: ``{"member": i, "seed": ..., **fields set so far}``."""
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT member, fields FROM members WHERE run_id=? ORDER BY member", (int(run_id),)
            ).fetchall()
        return [{"member": i, **_codec.from_json(f)} for i, f in rows]

    def update_members(self, run_id: int, updates: Iterable[Mapping[str, Any]]) -> None:
        """Merge fields into members: ``[{"member": 3, "diverged": True, "mem_step": 120}, ...]``."""
        with self.transaction() as conn:
            n = self._require_run(conn, run_id)
            for u in updates:
                i = u.get("member") if isinstance(u, Mapping) else None
                if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
                    raise StoreError(f"member update {u!r}: needs 'member' as an integer in [0, {n})")
                (text,) = conn.execute(
                    "SELECT fields FROM members WHERE run_id=? AND member=?", (int(run_id), int(i))
                ).fetchone()
                fields = _codec.from_json(text)
                fields.update({k: v for k, v in u.items() if k != "member"})
                conn.execute(
                    "UPDATE members SET fields=? WHERE run_id=? AND member=?",
                    (_codec.to_json(fields, f"member {i}"), int(run_id), int(i)),
                )

    # ---------------------------------------------------------------------- flush
    def flush(
        self,
        run_id: int,
        metrics: Iterable[tuple[int, Mapping[str, Any]]] = (),
        checkpoints: Iterable[tuple[int, Mapping[str, Any]]] = (),
        resume: Any = None,
    ) -> None:
        """Write metrics, weight checkpoints and the resume state in ONE transaction.

        ``metrics``: ``[(step, {"train_acc": ndarray[model], ...}), ...]`` (a scalar
        is stored as a length-1 array); ``checkpoints``: ``[(step, {"W_E": Tensor[model,
        ...], ...})]``; ``resume``: any nested state (``None`` keeps the previous one).
        A process killed between flushes loses only what it had not flushed, and the
        stored resume state always belongs with the stored metrics. Rewriting an
        existing (step, name) replaces it.
        """
        with self._snapshot() as conn:
            n = self._require_run(conn, run_id)
        # Encode before taking the write lock, which other writers (sweep workers, the CLI) wait on.
        metric_rows = []
        for step, values in metrics:
            step = _codec.as_step(step, "metric step")
            for name, value in values.items():
                blob = _codec.metric_to_blob(name, value)
                if len(blob) not in (8, 8 * n):
                    raise StoreError(
                        f"metric {name!r} at step {step} has {len(blob) // 8} values; the run has {n} members"
                    )
                metric_rows.append((int(run_id), str(name), step, blob))
        ckpt_rows = []
        ckpt_steps = set()
        for step, tensors in checkpoints:
            step = _codec.as_step(step, "checkpoint step")
            ckpt_steps.add(step)
            for name, tensor in tensors.items():
                ckpt_rows.append((int(run_id), step, str(name), *_codec.tensor_to_record(name, tensor)))
        resume_blob = None if resume is None else _codec.resume_to_blob(resume)
        now = time.time()
        with self.transaction() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)", metric_rows
            )
            conn.executemany(
                "DELETE FROM checkpoints WHERE run_id=? AND step=?", [(int(run_id), s) for s in ckpt_steps]
            )
            conn.executemany(
                "INSERT INTO checkpoints (run_id, step, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?, ?)",
                ckpt_rows,
            )
            if resume_blob is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO resume (run_id, updated, state) VALUES (?, ?, ?)",
                    (int(run_id), now, resume_blob),
                )
            conn.execute("UPDATE runs SET updated=? WHERE id=?", (now, int(run_id)))

    # --------------------------------------------------------------------- reads
    def metrics(self, run_id: int, names: Iterable[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(steps [n_steps], {name: values [n_steps, model]})``, float64, NaN where a metric was not logged.

        ``steps`` is the sorted union of the steps at which any requested metric was logged.
        """
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT name, step, value FROM metrics WHERE run_id=? ORDER BY name, step", (int(run_id),)
            ).fetchall()
        by_name: dict[str, tuple[list[int], list[bytes]]] = {}
        for name, step, blob in rows:
            steps_list, blobs = by_name.setdefault(name, ([], []))
            steps_list.append(step)
            blobs.append(blob)
        if names is not None:
            names = list(names)
            missing = [nm for nm in names if nm not in by_name]
            if missing:
                have = ", ".join(sorted(by_name)) or "none"
                raise StoreError(f"run {run_id} has no metric {missing[0]!r}; logged metrics: {have}")
            by_name = {nm: by_name[nm] for nm in names}
        if not by_name:
            return np.zeros(0, dtype=np.int64), {}
        all_steps = np.unique(np.concatenate([np.asarray(s, dtype=np.int64) for s, _ in by_name.values()]))
        out = {}
        for name, (steps_list, blobs) in by_name.items():
            widths = {len(b) for b in blobs}
            if len(widths) != 1:
                raise StoreError(f"run {run_id}: metric {name!r} was logged with different member counts")
            block = np.frombuffer(b"".join(blobs), dtype="<f8").reshape(len(blobs), -1)
            if len(steps_list) == len(all_steps):  # the common case: every metric at every step
                out[name] = block.astype(np.float64, copy=True)
            else:
                full = np.full((len(all_steps), block.shape[1]), np.nan)
                full[np.searchsorted(all_steps, steps_list)] = block
                out[name] = full
        return all_steps, out

    def checkpoint_steps(self, run_id: int) -> list[int]:
        """Steps at which weight checkpoints were stored, ascending."""
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT DISTINCT step FROM checkpoints WHERE run_id=? ORDER BY step", (int(run_id),)
            ).fetchall()
        return [r[0] for r in rows]

    def checkpoint_names(self, run_id: int, step: int) -> list[str]:
        """Names of the tensors in the checkpoint at ``step`` (empty if there is none)."""
        step = _codec.as_step(step, "checkpoint step")
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT name FROM checkpoints WHERE run_id=? AND step=? ORDER BY name", (int(run_id), step)
            ).fetchall()
        return [r[0] for r in rows]

    def load_checkpoint(self, run_id: int, step: int, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The checkpoint at ``step`` as ``{name: Tensor[model, ...]}`` (only ``names`` if given)."""
        step = _codec.as_step(step, "checkpoint step")
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT name, dtype, shape, data FROM checkpoints WHERE run_id=? AND step=?",
                (int(run_id), step),
            ).fetchall()
            if not rows:
                have = [r[0] for r in conn.execute(
                    "SELECT DISTINCT step FROM checkpoints WHERE run_id=? ORDER BY step", (int(run_id),))]  # fmt: skip
                listed = ", ".join(map(str, have[:20])) + (" ..." if len(have) > 20 else "") or "none"
                raise StoreError(f"run {run_id} has no checkpoint at step {step}; stored steps: {listed}")
        tensors = {name: (dtype, shape, data) for name, dtype, shape, data in rows}
        if names is not None:
            names = list(names)
            for nm in names:
                if nm not in tensors:
                    have = ", ".join(sorted(tensors))
                    raise StoreError(f"checkpoint {step} of run {run_id} has no tensor {nm!r}; it has {have}")
            tensors = {nm: tensors[nm] for nm in names}
        return {name: _codec.record_to_tensor(*rec) for name, rec in tensors.items()}

    def load_resume(self, run_id: int) -> Any:
        """The resume state of the last flush that carried one, or ``None``."""
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            row = conn.execute("SELECT state FROM resume WHERE run_id=?", (int(run_id),)).fetchone()
        return None if row is None else _codec.blob_to_resume(row[0])

    def truncate_after(self, run_id: int, step: int) -> None:
        """Drop metrics and checkpoints at steps ``> step`` (before resuming from ``step``)."""
        step = _codec.as_step(step)
        with self.transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute("DELETE FROM metrics WHERE run_id=? AND step>?", (int(run_id), step))
            conn.execute("DELETE FROM checkpoints WHERE run_id=? AND step>?", (int(run_id), step))
            conn.execute("UPDATE runs SET updated=? WHERE id=?", (time.time(), int(run_id)))

    # -------------------------------------------------------------------- arrays
    def save_arrays(self, run_id: int, name: str, arrays: Mapping[str, Any]) -> None:
        """Store named numeric arrays as artefact ``name`` of the run (replaces)."""
        blob = _codec.arrays_to_blob(dict(arrays))
        with self.transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO arrays (run_id, name, data) VALUES (?, ?, ?)", (int(run_id), str(name), blob)
            )

    def load_arrays(self, run_id: int, name: str) -> dict[str, np.ndarray]:
        """The arrays saved as ``name``; StoreError if absent."""
        with self._snapshot() as conn:
            self._require_run(conn, run_id)
            row = conn.execute("SELECT data FROM arrays WHERE run_id=? AND name=?", (int(run_id), str(name))).fetchone()
            if row is None:
                have = ", ".join(self.array_names(run_id)) or "none"
                raise StoreError(f"run {run_id} has no arrays named {name!r}; saved: {have}")
        return _codec.blob_to_arrays(row[0])

    def array_names(self, run_id: int) -> list[str]:
        """Names of the run's saved array artefacts."""
        conn = self._conn()
        self._require_run(conn, run_id)
        return [r[0] for r in conn.execute("SELECT name FROM arrays WHERE run_id=? ORDER BY name", (int(run_id),))]

    # -------------------------------------------------------------------- frames
    def frame(self, target: int | str, table: str = "metrics", names: Iterable[str] | None = None):
        """A pandas DataFrame of run ``target`` (an id) or sweep ``target`` (a name).

        ``table="metrics"``: one row per (run, member, step, metric, value), NaNs (not measured)
        left out; ``names`` keeps those metrics. ``table="members"``: one row per member with its
        outcome fields and its whole config (``config.<key>``). See ``grokscope.export`` and
        docs/exports.md. An unknown run or sweep is a ``ConfigError``.
        """
        from grokscope.export._frame import frame

        return frame(self, target, table=table, names=names)
