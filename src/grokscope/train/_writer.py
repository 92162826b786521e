"""Everything the training loop writes to the store, in one place.

``RunWriter`` creates the run (or claims an interrupted one and reads its resume state back),
collects metrics and checkpoints between flushes, and writes them with the resume state in ONE
store transaction (``Store.flush``) whenever ``log.flush_seconds`` have passed, at a clean stop
and at the end. Without a store it only keeps the in-memory log a ``TrainResult`` returns.

Memory: what the writer keeps between evaluations (the log, pending checkpoints) lives outside
malloc's heap (``grokscope._malloc.OffHeap``), so it cannot pin the holes the training step's
activations leave there: kept inside the heap, it made one ``nanda-p113`` member hold 1-2 GB after
a few hundred steps (docs/performance.md, "Memory"). Without a store, checkpoints are not kept at
all. Each flush and the end of the run give the heap's free pages back to the OS.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from grokscope._malloc import OffHeap, release_free_memory

__all__ = ["RunWriter"]


class RunWriter:
    def __init__(self, store, flush_seconds: float):
        self.store = store
        self.run_id: int | None = None
        self.flush_seconds = flush_seconds
        # Kept as (step, names, OffHeap slots): plain Python objects over mmap pages (module docstring).
        self.pending_metrics: list[tuple[int, tuple[str, ...], tuple]] = []
        self.pending_ckpts: list[tuple[int, tuple[str, ...], tuple]] = []
        self.logged: list[tuple[int, tuple[str, ...], tuple]] = []  # this process's evaluations, for TrainResult
        self.last_flush = time.monotonic()
        self._log_pages = OffHeap()  # the log's copies; each pending checkpoint has pages of its own
        self._last_ckpt: int | None = None

    # -- opening --------------------------------------------------------------------------
    def create(self, cfg, seeds: list[int], sp) -> None:
        """A new run: its config, one row per member, and the split it trains on (for analyses)."""
        if self.store is None:
            return
        rows = [{"seed": s, "n_train": int(n)} for s, n in zip(seeds, sp.n_train.tolist())]
        if sp.has_unseen:
            rows = [{**r, "n_unseen": int(u)} for r, u in zip(rows, sp.n_unseen.tolist())]
        self.run_id = self.store.create_run(kind="train", config=cfg.to_dict(), name=cfg.name, members=rows)
        self.store.save_arrays(self.run_id, "split", sp.to_arrays())

    def reopen(self, run_id: int) -> dict[str, Any] | None:
        """Claim an interrupted run; its resume state (None if it was killed before its first flush).

        What the run stored after that state is dropped: the resumed run recomputes it.
        """
        self.run_id = run_id
        saved = self.store.load_resume(run_id)
        if saved is not None and int(saved["step"]) > 0:
            self.store.truncate_after(run_id, int(saved["step"]) - 1)
        return saved

    def running(self) -> None:
        if self.store is not None:
            self.store.set_status(self.run_id, "running")

    # -- between flushes ------------------------------------------------------------------
    def metrics(self, step: int, values: dict[str, np.ndarray]) -> None:
        """Log one evaluation (copied: the caller may reuse or drop ``values``)."""
        kept = (step, tuple(values), tuple(self._log_pages.put(v) for v in values.values()))
        self.pending_metrics.append(kept)
        self.logged.append(kept)

    def checkpoint(self, step: int, weights: dict[str, Any]) -> None:
        """Keep ``weights`` (copied to the CPU) until the next flush; nothing to keep without a store."""
        self._last_ckpt = step
        if self.store is not None:
            pages = OffHeap(sum(w.numel() * w.element_size() + 64 for w in weights.values()))
            self.pending_ckpts.append((step, tuple(weights), tuple(pages.put(w) for w in weights.values())))

    def last_checkpoint_step(self) -> int | None:
        """The step of the last checkpoint taken by this process (flushed or not), or None."""
        return self._last_ckpt

    def due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.flush_seconds

    def flush(self, state) -> None:
        """Pending metrics and checkpoints with ``state.to_resume()``, in one transaction."""
        if self.store is None:
            self.pending_metrics = []
            self.last_flush = time.monotonic()
            return
        metrics = [(step, dict(zip(names, map(OffHeap.get, slots)))) for step, names, slots in self.pending_metrics]
        ckpts = [(step, dict(zip(names, map(OffHeap.get_tensor, slots)))) for step, names, slots in self.pending_ckpts]
        self.store.flush(self.run_id, metrics=metrics, checkpoints=ckpts, resume=state.to_resume())
        del metrics, ckpts
        self.pending_metrics, self.pending_ckpts = [], []
        release_free_memory()  # the flush's own buffers and whatever the last seconds left free
        self.last_flush = time.monotonic()

    # -- the end --------------------------------------------------------------------------
    def finish(self, members: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.update_members(self.run_id, members)
            self.store.set_summary(self.run_id, summary)
            self.store.set_status(self.run_id, "finished")
        release_free_memory()  # a process that trains again starts from a heap with nothing resident to spare

    def failed(self) -> None:
        if self.store is not None:
            self.store.set_status(self.run_id, "failed")

    def result_metrics(self, n_members: int, names=()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(steps [n_eval], {name: [n_eval, model]})`` of this process's evaluations (NaN where absent).

        ``names`` are always present (``[0, model]`` when nothing was evaluated), then any others logged.
        """
        logged = [(s, dict(zip(keys, map(OffHeap.get, slots)))) for s, keys, slots in self.logged]
        steps = np.asarray([s for s, _ in logged])
        names = list(dict.fromkeys([*names, *(k for _, v in logged for k in v)]))
        nan = np.full(n_members, np.nan)
        return steps, {k: np.stack([np.broadcast_to(v.get(k, nan), (n_members,)) for _, v in logged])
                       if logged else np.zeros((0, n_members)) for k in names}
