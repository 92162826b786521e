"""The store's SQLite connection: opening, one connection per process and thread, transactions.

Durability and concurrency, and why:

- **WAL journal mode**: readers never block the writer and the writer never blocks
  readers, so ``grokscope runs`` or a report can read a run while it trains. A
  committed transaction lives in the ``-wal`` file until checkpointed; a process
  killed mid-transaction leaves an uncommitted tail that SQLite ignores on the next
  open, so ``kill -9`` can neither corrupt the file nor lose a committed flush.
- **synchronous=NORMAL**: in WAL mode NORMAL skips the fsync at each commit and syncs
  only at checkpoints. A *process* crash loses nothing (the commit already reached
  the OS page cache); a *power loss or kernel panic* may roll the store back by the
  last few flushes, never corrupting it. Because a flush puts metrics and the resume
  state in one transaction, such a rollback leaves them consistent and a resume just
  recomputes those steps. FULL would fsync every flush (10-100 ms on laptops and
  network disks) for protection against an event outside our scope.
- **busy timeout** (30 s default): a second writer (a sweep worker, ``set_status`` from
  the CLI) waits for the lock instead of failing; write transactions start with
  ``BEGIN IMMEDIATE`` so the wait happens up front, where the timeout applies.
- One connection per (process, thread): SQLite connections must not cross a ``fork``
  or be shared between threads, and a ``Store`` is picklable (it re-opens by path).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from grokscope.errors import StoreError
from grokscope.store._schema import ensure_schema

DEFAULT_TIMEOUT_S = 30.0  # long enough to outwait a checkpoint flush of a large ensemble

# Connections a forked child inherited from its parent. They are never used nor closed in
# the child: closing would run SQLite's close-time cleanup on the parent's file state
# (https://sqlite.org/howtocorrupt.html, section 2.6), so they are kept alive until exit.
_INHERITED: list[sqlite3.Connection] = []


def default_store_path() -> Path:
    """``$GROKSCOPE_STORE`` if set, else ``./grokscope-runs/grokscope.db``."""
    env = os.environ.get("GROKSCOPE_STORE")
    return Path(env).expanduser() if env else Path.cwd() / "grokscope-runs" / "grokscope.db"


class Connection:
    """The SQLite file of a :class:`Store`: opened (and its schema made) by path, one connection
    per (process, thread), write transactions and read snapshots. ``Store`` adds the run API."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = DEFAULT_TIMEOUT_S):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = float(timeout)
        self._local = threading.local()
        if self.path.is_dir():
            example = self.path / "grokscope.db"
            raise StoreError(f"store path {self.path} is a directory; give a file path such as {example}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create store directory {self.path.parent} ({e.strerror})") from e
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(f"store {self.path} is not readable and writable by this user")
        try:
            ensure_schema(self._conn(), str(self.path))
        except sqlite3.Error as e:
            self.close()
            raise StoreError(f"cannot open store {self.path} ({e})") from e

    # ---------------------------------------------------------------- connections
    def _conn(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        if held is not None:
            _INHERITED.append(held[1])
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                conn.close()
                raise StoreError(f"store {self.path}: the filesystem does not support SQLite WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open store {self.path} ({e})") from e
        self._local.held = (os.getpid(), conn)
        return conn

    def close(self) -> None:
        """Close this thread's connection (a later call re-opens it)."""
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            held[1].close()
        elif held is not None:
            _INHERITED.append(held[1])
        self._local.held = None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": str(self.path), "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], timeout=state["timeout"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): commits on success, rolls back on error.

        For extension modules that keep their own tables in the store (sweeps). Store
        methods called inside join the open transaction, so a sweep can create its runs
        and its own rows atomically:

        >>> with store.transaction() as conn:                       # doctest: +SKIP
        ...     conn.execute("CREATE TABLE IF NOT EXISTS sweeps (id INTEGER PRIMARY KEY, run INTEGER)")
        ...     run = store.create_run("train", cfg, members)
        ...     conn.execute("INSERT INTO sweeps (run) VALUES (?)", (run,))
        """
        conn = self._conn()
        if conn.in_transaction:  # nested: the outermost transaction commits or rolls back
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(f"store {self.path}: {e} (another process holds the write lock)") from e
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):
                raise StoreError(f"store {self.path}: {e}") from e
            raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees the same committed state."""
        conn = self._conn()
        if conn.in_transaction:  # inside a write transaction: read what it sees
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        except sqlite3.OperationalError as e:
            raise StoreError(f"store {self.path}: {e}") from e
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _require_run(self, conn: sqlite3.Connection, run_id: Any) -> int:
        """The run's member count; StoreError if the run does not exist."""
        if isinstance(run_id, bool) or not isinstance(run_id, (int, np.integer)):
            raise StoreError(f"run id {run_id!r}: must be an integer (see `grokscope runs`)")
        row = conn.execute("SELECT n_members FROM runs WHERE id=?", (int(run_id),)).fetchone()
        if row is None:
            raise StoreError(f"run {run_id} not found; see `grokscope runs`")
        return row[0]

