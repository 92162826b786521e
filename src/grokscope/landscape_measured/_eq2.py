"""Eq. 2 with a real unseen split: F_train, F_test and F_unseen over training.

Gokhale 2023 ("The semantic landscape paradigm for neural networks", §2.3, Eq. 2) splits the
fallibility over all inputs as ``F = F_train + F_test + F_unseen``, the last over inputs the
network never saw in training *nor* in testing. A memorizing network has low F_train and high
F_test; one that generalizes has all three low. With ``task.unseen_frac`` a run keeps a third
split that no training step, stopping rule or selection ever touches (``grokscope.tasks``), so
F_unseen is measured, not implied.

Reported per member over its checkpoints: the three sums (nats) and the same per input
(``F_split / n_split``, comparable between splits of different sizes). Test and unseen rows are
drawn alike, so if the test split is an honest stand-in for the never-seen inputs their
per-input F agree; the summary gives the gap at the last checkpoint and at the test loss's peak,
with a bootstrap interval over members, and checks the identity of Eq. 2 on the stored curves.

>>> from types import SimpleNamespace as NS
>>> m = NS(name="m", steps=np.array([0., 1.]), n_split={"train": 2, "test": 1, "unseen": 1}, values={},
...        curves={"F_train": np.array([2., 0.]), "F_test": np.array([1., 3.]), "F_unseen": np.array([1., 2.]),
...                "F_all": np.array([4., 5.]), "test_loss": np.array([1., 3.])})
>>> r = eq2_curves([m, m], n_boot=10)
>>> r.identity_max_error, r.summary_dict["gap_last"]["value"]
(0.0, -1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.fit import as_generator, percentile_interval, resample

__all__ = ["SPLITS", "Eq2Result", "eq2_curves"]

SPLITS = ("train", "test", "unseen")


@dataclass
class Eq2Result:
    """Per member ``{split: [n_steps]}`` sums and per-input values, and the summary numbers."""

    members: list[dict]  # name, values, steps, F_{split}, f_{split} (per input), n_{split}
    identity_max_error: float  # max |F_all - (F_train + F_test + F_unseen)| / F_all over members and steps
    summary_dict: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable({"members": self.members, "identity_max_rel_error": self.identity_max_error,
                         **self.summary_dict})

    def summary(self) -> str:
        s = self.summary_dict
        g, p = s["gap_last"], s["gap_peak"]
        return (f"Eq. 2 on {len(self.members)} members with an unseen split: F_all = F_train + F_test + F_unseen to "
                f"{self.identity_max_error:.1e} (relative); per-input F_unseen - F_test at the last checkpoint "
                f"{g['value']:.4g} [{g['lo']:.4g}, {g['hi']:.4g}] nats, at the test-loss peak "
                f"{p['value']:.4g} [{p['lo']:.4g}, {p['hi']:.4g}] nats (mean over members, 95% bootstrap)")


def _boot_mean(v: np.ndarray, n_boot: int, seed) -> dict:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"value": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    rng = as_generator(seed)
    lo, hi = percentile_interval([v[resample(rng, v.size)].mean() for _ in range(n_boot)], 0.95)
    return {"value": float(v.mean()), "lo": lo, "hi": hi, "n": int(v.size)}


def eq2_curves(members, *, n_boot: int = 500, seed=0) -> Eq2Result:
    """Eq. 2 over training for members that keep an unseen split (``AnalysisError`` naming those that do not)."""
    missing = [m.name for m in members if "F_unseen" not in m.curves or m.n_split.get("unseen", 0) == 0]
    if missing:
        raise AnalysisError(f"{missing[0]} keeps no unseen split ({len(missing)} of {len(members)} members); "
                            "train with task.unseen_frac > 0 (or task.unseen_count) to measure F_unseen")
    rows, err, last, peak = [], 0.0, [], []
    for m in members:
        c, n = m.curves, m.n_split
        row = {"member": m.name, "values": m.values, "steps": m.steps}
        for s in SPLITS:
            row[f"F_{s}"], row[f"n_{s}"] = c[f"F_{s}"], n[s]
            row[f"f_{s}"] = c[f"F_{s}"] / n[s]
        total = c["F_train"] + c["F_test"] + c["F_unseen"]
        err = max(err, float(np.nanmax(np.abs(c["F_all"] - total) / np.maximum(np.abs(c["F_all"]), 1e-300))))
        gap = row["f_unseen"] - row["f_test"]
        last.append(gap[-1])
        finite = np.isfinite(c["test_loss"])
        peak.append(gap[int(np.nanargmax(np.where(finite, c["test_loss"], -np.inf)))] if finite.any() else np.nan)
        rows.append(row)
    summary = {"definition": "f_split = F_split / n_split: nats per input; gap = f_unseen - f_test",
               "gap_last": _boot_mean(np.array(last), n_boot, seed),
               "gap_peak": _boot_mean(np.array(peak), n_boot, seed),
               "f_last_mean": {s: float(np.nanmean([r[f"f_{s}"][-1] for r in rows])) for s in SPLITS}}
    return Eq2Result(rows, err, summary)
