"""Theorem 4 in trained networks: the training fraction where Li2 networks stop generalizing, against M.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking",
Theorem 4: ``n ≳ d_k² M log(M/δ)`` samples keep the maxima that generalize, so the critical
training fraction should scale like ``p* = c·ln M/M``; the reference code (facebookresearch/
luckmatters, ``ssl/real-dataset/cogo/config/dyn_madd.yaml``) trains at ``2.7482·ln M/M``
(``critical_ratio_multiplier``). ``_boundary.py`` measures the boundary of the *energy* Ê; this
module measures it in *trained* networks:

- per group (cyclic and dihedral families of orders 22–127), fractions ``p = c·ln M/M`` on a grid
  of coefficients c, and seeds; one member per (p, seed) trained by ``train_ridge_adam_ensemble``
  (Adam on W, V at its ridge solution; σ = x², mean-centred MSE, η = 2e-4: Tian's Figure 3;
  Adam weight decay 1e-4: the reference's default), nested training sets per seed;
- **packing**: the seeds of one fraction have the same n = round(p·M²), so each (group, fraction)
  is one ensemble with no padding ("group by size"); a member leaves once it has held test
  accuracy ≥ 0.99 for ``leave_window`` steps;
- each member's outcome by :data:`RULE`, ``p*(M)`` where half the seeds generalize, with a
  bootstrap over seeds (optionally sharpened by a second pass of ``refine`` fractions inside the
  grid step where the share crosses 1/2), then ``p* = c·ln M/M`` and ``p* = a·M^-γ`` fitted per
  family through ``grokscope.fit`` and compared by its AIC/BIC/LOO.
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import resource
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from grokscope._json import jsonable
from grokscope.analysis._phases import THRESHOLD
from grokscope.fit import (
    Comparison,
    compare,
    fit,
    get_law,
    percentile_interval,
)
from grokscope.groups import parse_group
from grokscope.validate import (
    check_choice,
    check_int,
    check_number,
    check_seed,
    require,
)

from ._boundary import LN_OVER_M
from ._ensemble import Member, train_ridge_adam_ensemble

__all__ = ["ENERGY_BOUNDARY", "REFERENCE_MULTIPLIER", "RULE", "TrainedBoundary", "crossing", "default_hidden",
           "trained_boundary"]

REFERENCE_MULTIPLIER = 2.7482  # luckmatters cogo/config/dyn_madd.yaml: critical_ratio_multiplier (p = c ln M / M)
# The energy boundary p* = a·M^-γ of docs/li2.md (Theorem 4 section; `grokscope li2 boundary`, 3 seeds, M = 22–97)
ENERGY_BOUNDARY = {"cyclic": (1.10, 0.208), "dihedral": (1.06, 0.202)}
MEMORIZED_TEST_MAX = 0.1  # a memorizing member's held-out accuracy stays below this (measured: < 0.02)

RULE = ("generalized: test accuracy >= {thr} held for {window} steps (the member then leaves) or at the last "
        "evaluation (step {steps}); memorized: train accuracy >= {thr} and test accuracy < {mem} at step {steps}; "
        "undecided: neither. p*(M): where the share of seeds that generalized (undecided counted as not), "
        "made non-decreasing in p (pool-adjacent-violators), crosses 1/2, linear in log p between grid fractions; "
        "interval: 2.5-97.5% percentiles over {n_boot} resamples of the seeds")


def default_hidden(order: int) -> int:
    """K = 2M + 1 rounded up to a multiple of 32: more than twice the number of irreps of Z_M (M), the
    Theorem 3 count 2M − 2 for an abelian group, and a width the matrix kernels like."""
    return 32 * math.ceil((2 * order + 1) / 32)


def _pava(y: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence closest to ``y`` in least squares (pool-adjacent-violators, equal weights)."""
    blocks = [[float(v), 1] for v in y]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            (v1, w1), (v2, w2) = blocks[i], blocks[i + 1]
            blocks[i:i + 2] = [[(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2]]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([[v] * w for v, w in blocks])


def crossing(fractions, share) -> tuple[float, str]:
    """``(p*, status)``: where the non-decreasing fit of ``share`` (at increasing ``fractions``) reaches 1/2,
    linear in log p; NaN with status ``"below grid"`` / ``"above grid"`` when it is outside.

    >>> crossing([0.1, 0.2, 0.4], [0.0, 0.5, 1.0])[0]
    0.2
    >>> round(crossing([0.1, 0.2, 0.4], [0.0, 0.2, 0.8])[0], 4)   # 0.2·2^(0.3/0.6)
    0.2828
    """
    p, s = np.asarray(fractions, dtype=float), _pava(np.asarray(share, dtype=float))
    j = int(np.argmax(s >= 0.5)) if bool((s >= 0.5).any()) else -1
    if j < 0:
        return math.nan, "above grid"
    if j == 0:
        return (float(p[0]), "ok") if s[0] == 0.5 else (math.nan, "below grid")
    t = (0.5 - s[j - 1]) / (s[j] - s[j - 1])
    return float(math.exp(math.log(p[j - 1]) + t * (math.log(p[j]) - math.log(p[j - 1])))), "ok"


def _train_coef(g, c: float, seeds: list[int], kw: dict, members: list, progress) -> tuple:
    """One ensemble, the seeds of fraction ``c ln M / M`` (one size, no padding): ``(p, n, outcomes,
    member_steps, member_steps_full)``; each member's row appended to ``members``."""
    m = g.order
    p = c * math.log(m) / m
    run = train_ridge_adam_ensemble(g, [Member(p, s) for s in seeds], **kw)
    outs = [_outcome(r, kw["steps"]) for r in run.members]
    for r, o in zip(run.members, outs):
        members.append({"group": g.name, "M": m, "c": c, "fraction": p, "seed": r["seed"], "n_train": r["n_train"],
                        "outcome": o, "gen_step": r["gen_step"], "left_step": r["left_step"],
                        "steps_trained": r["steps_trained"], "train_acc": r["train_acc"], "test_acc": r["test_acc"],
                        "test_acc_max": r["test_acc_max"]})
    if progress is not None:
        progress(f"{g.name} c={c:g} p={p:.4f}: {outs.count('generalized')}/{len(seeds)} generalized, "
                 f"{run.seconds:.1f} s")
    return p, run.members[0]["n_train"], outs, run.member_steps, run.member_steps_full


def _generalized(by_c: dict) -> tuple[list[float], np.ndarray]:
    """Coefficients in increasing order and ``[coefs, seeds]`` bool: which seeds generalized at each."""
    cs = sorted(by_c)
    return cs, np.array([[o == "generalized" for o in by_c[c][2]] for c in cs])


def _first_half(share: np.ndarray) -> int:
    """Index of the first fraction where the monotone share reaches 1/2 (-1: never)."""
    s = _pava(np.asarray(share, dtype=float)) >= 0.5
    return int(np.argmax(s)) if bool(s.any()) else -1


def _outcome(m: dict, steps: int) -> str:
    if m["left_step"] is not None or m["test_acc"] >= THRESHOLD:
        return "generalized"
    if m["train_acc"] >= THRESHOLD and m["test_acc"] < MEMORIZED_TEST_MAX:
        return "memorized"
    return "undecided"


def _train_group(spec: str, coefs: list[float], seeds: list[int], kw: dict, refine: int, progress) -> tuple:
    """One group's ensembles, the grid then ``refine`` coefficients inside the step where the share
    crosses 1/2: ``(by_c, members, wall seconds, CPU seconds)``, ``by_c[c]`` as :func:`_train_coef` returns."""
    g = parse_group(spec)
    t0, cpu0, by_c, members = time.perf_counter(), time.process_time(), {}, []
    for c in coefs:
        by_c[c] = _train_coef(g, c, seeds, kw, members, progress)
    cs, gen = _generalized(by_c)
    j = _first_half(gen.mean(1))
    if refine and 0 < j:  # a second pass inside the bracket (c_{j-1}, c_j) where the share crosses 1/2
        for c in np.geomspace(cs[j - 1], cs[j], refine + 2)[1:-1]:
            by_c[float(c)] = _train_coef(g, float(c), seeds, kw, members, progress)
    return by_c, members, time.perf_counter() - t0, time.process_time() - cpu0


def _group_in_worker(job: tuple, threads: int | None) -> tuple:
    """:func:`_train_group` in a worker process; its progress lines come back with the result."""
    if threads is not None:
        torch.set_num_threads(threads)
    lines: list[str] = []
    return (*_train_group(*job, lines.append), lines)


def _run_groups(jobs: list[tuple], sizes: list[tuple[int, int]], workers: int, threads: int | None,
                progress) -> list[tuple]:
    """Every job's :func:`_train_group` result, in the order of ``jobs``: here one after the other, or
    in ``workers`` spawned processes, largest group first (``sizes``: each job's (M, K)) so that the
    longest runs overlap."""
    if workers == 1 or len(jobs) == 1:
        saved = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            return [_train_group(*job, progress) for job in jobs]
        finally:
            torch.set_num_threads(saved)
    order = sorted(range(len(jobs)), key=lambda i: (-sizes[i][0], -sizes[i][1], i))
    results: list = [None] * len(jobs)
    ctx = multiprocessing.get_context("spawn")  # fork after torch has started its thread pools can hang
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
        futures = {pool.submit(_group_in_worker, jobs[i], threads): i for i in order}
        for fut in concurrent.futures.as_completed(futures):
            *result, lines = fut.result()
            results[futures[fut]] = tuple(result)
            for line in lines if progress is not None else ():
                progress(line)
    return results


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the workers, once joined)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass(frozen=True)
class TrainedBoundary:
    """The sweep: per group the outcome counts per fraction and p* with its seed interval; per member its
    outcome; per family the two fits, their comparison and the seed-bootstrap intervals of c and γ."""

    settings: dict
    rule: str
    groups: tuple[dict, ...]
    members: tuple[dict, ...]
    fits: dict = field(repr=False)  # family -> {"ln": FitResult, "power": FitResult, "comparison": Comparison, ...}
    undecided: int
    member_steps: int
    member_steps_full: int
    seconds: float  # wall time
    cpu_seconds: float  # CPU time of this process and its workers: the wall time on one otherwise idle core (1 thread)
    threads: int
    workers: int  # groups trained at once, one process each
    load_average: tuple[float, float, float]

    def to_dict(self) -> dict:
        fits = {fam: {"fit_c_lnM_over_M": f["ln"].to_dict(), "fit_power_law": f["power"].to_dict(),
                      "comparison": f["comparison"].to_dict(), "c_seed_interval": f["c_seed_interval"],
                      "gamma_seed_interval": f["gamma_seed_interval"], "a_seed_interval": f["a_seed_interval"]}
                for fam, f in self.fits.items()}
        return jsonable({"settings": self.settings, "rule": self.rule, "groups": self.groups, "members": self.members,
                         "fits": fits, "undecided": self.undecided, "member_steps": self.member_steps,
                         "member_steps_full": self.member_steps_full,
                         "member_steps_saved": 1 - self.member_steps / max(self.member_steps_full, 1),
                         "seconds": round(self.seconds, 1), "cpu_seconds": round(self.cpu_seconds, 1),
                         "threads": self.threads, "workers": self.workers,
                         "load_average": self.load_average, "energy_boundary": ENERGY_BOUNDARY,
                         "reference_multiplier": REFERENCE_MULTIPLIER})


def _family(spec: str) -> str:
    return spec.split(":", 1)[0].strip()


def _fit_family(orders, p_star, boots, n_boot, boot_seed) -> dict:
    """The two laws through ``grokscope.fit`` on the family's p*(M), and c, a, γ refitted on every
    seed-bootstrap replicate of p*(M) (``boots [n_boot, groups]``)."""
    x, y = np.asarray(orders, dtype=float), np.asarray(p_star, dtype=float)
    ln = fit(LN_OVER_M, x, y, n_boot=n_boot, seed=boot_seed, loo=True, name="p* = c ln M / M")
    pw = fit("power_law", x, y, n_boot=n_boot, seed=boot_seed, loo=True, name="p* = a M^-g")
    cmp: Comparison = compare(x, y, {"c_lnM_over_M": (LN_OVER_M, {}), "power_law": ("power_law", {})},
                              name="trained boundary")
    power = get_law("power_law")
    cs, gs, as_ = [], [], []
    for row in boots:
        ok = np.isfinite(row) & (row > 0)
        if np.unique(x[ok]).size < 3:
            continue
        cs.append(LN_OVER_M.solve(x[ok], row[ok], {}, 0.0)[0][0])
        a, g = power.solve(x[ok], row[ok], {}, 0.0)[0]
        as_.append(a)
        gs.append(g)
    return {"ln": ln, "power": pw, "comparison": cmp, "c_seed_interval": percentile_interval(cs, 0.95),
            "gamma_seed_interval": percentile_interval(gs, 0.95), "a_seed_interval": percentile_interval(as_, 0.95),
            "n_seed_replicates": len(cs)}


def trained_boundary(groups: list[str], coefs: list[float], seeds: list[int], *, steps: int = 2000,
                     lr: float = 0.1, hidden: int | None = None, eta: float = 2e-4, weight_decay: float = 1e-4,
                     eval_every: int = 50, leave_window: int = 100, dtype: str = "float32", n_boot: int = 1000,
                     boot_seed: int = 0, refine: int = 0, threads: int | None = 1, workers: int = 1,
                     progress=None) -> TrainedBoundary:
    """Train every (group, c, seed) member, classify it, find p* per group and fit it against M.

    Defaults (docs/li2.md, "The boundary in trained networks", says why): σ = x², η = 2e-4 (Tian's
    Figure 3), Adam weight decay 1e-4 (reference default), lr 0.1 and 2,000 steps (a pilot: at
    lr 2e-2 members near the boundary stall at 0.95 test accuracy within 2,000 steps; at lr 0.1 the
    slowest generalized at step 1,750), K =
    :func:`default_hidden` (M) unless ``hidden`` is given, float32 (agrees with float64 on the
    pilot). ``refine``: after the grid, that many coefficients (geometric) inside each group's bracket
    (the grid step where the generalized share crosses 1/2), trained the same way (0: none).
    ``threads``: torch's intra-op threads during the sweep (None: leave as is), in each worker.
    ``workers``: groups trained at once, each in its own process (1: all in this process, one after
    the other); the largest groups start first. Every number but the times is the same for any
    ``workers``: members do not depend on each other, and the seed bootstrap runs here, in the order
    of ``groups``. ``progress(text)`` is called after each ensemble (with workers > 1: when its group
    is done).
    """
    require(len(groups) >= 1, "groups", list(groups), "at least one group spec, e.g. cyclic:23")
    require(len(coefs) >= 2, "coefs", list(coefs), "at least two coefficients c (fractions p = c ln M / M)")
    require(len(seeds) >= 1, "seeds", list(seeds), "at least one seed")
    coefs = sorted(check_number(c, "coefs", lo=0.0, lo_open=True) for c in coefs)
    seeds = [check_seed(s) for s in seeds]
    require(len(set(seeds)) == len(seeds), "seeds", seeds, "distinct seeds")
    steps = check_int(steps, "steps", 1)
    lr = check_number(lr, "lr", lo=0.0, lo_open=True)
    eval_every = check_int(eval_every, "eval_every", 1)
    leave_window = check_int(leave_window, "leave_window", 0)
    n_boot = check_int(n_boot, "n_boot", 0)
    refine = check_int(refine, "refine", 0)
    workers = check_int(workers, "workers", 1)
    if threads is not None:
        threads = check_int(threads, "threads", 1)
    dt = {"float32": torch.float32, "float64": torch.float64}[check_choice(dtype, "dtype", ("float32", "float64"))]
    if hidden is not None:
        hidden = check_int(hidden, "hidden", 1)
    parsed = [parse_group(s) for s in groups]  # every spec and fraction checked before any work
    for spec, g in zip(groups, parsed):
        for c in coefs:
            p = c * math.log(g.order) / g.order
            require(0 < p < 1, "fraction", f"c = {c:g} at M = {g.order} ({spec}) gives p = {p:.3f}",
                    "coefficients whose fractions c ln M / M lie in (0, 1)")
    kw = {"eta": eta, "lr": lr, "weight_decay": weight_decay, "steps": steps, "eval_every": eval_every,
          "leave_window": leave_window, "dtype": dt}
    sizes = [(g.order, hidden or default_hidden(g.order)) for g in parsed]  # (M, K) per group
    jobs = [(spec, coefs, seeds, dict(kw, hidden=k), refine) for spec, (_, k) in zip(groups, sizes)]
    t0, cpu0, child0 = time.perf_counter(), time.process_time(), _children_cpu()
    done = _run_groups(jobs, sizes, workers, threads, progress)
    rng = np.random.default_rng(check_seed(boot_seed))
    rows, members, boots = [], [], {}
    for spec, g, (_, k), result in zip(groups, parsed, sizes, done):  # in the order given
        by_c, group_members, seconds, cpu = result
        members.extend(group_members)
        cs, gen = _generalized(by_c)
        fractions = [by_c[c][0] for c in cs]
        share = gen.mean(1)
        p_star, status = crossing(fractions, share)
        reps = []
        for _ in range(n_boot):
            cols = rng.integers(0, len(seeds), len(seeds))
            reps.append(crossing(fractions, gen[:, cols].mean(1))[0])
        lo, hi = percentile_interval(reps, 0.95)
        boots[spec] = np.asarray(reps)
        j = _first_half(share)
        m = g.order
        counts = {key: [by_c[c][2].count(key) for c in cs] for key in ("generalized", "memorized", "undecided")}
        rows.append({"group": g.name, "spec": spec, "family": _family(spec), "M": m,
                     "hidden": k, "coefs": cs,
                     "fractions": fractions, "n_train": [by_c[c][1] for c in cs], **counts,
                     "share": share.tolist(), "p_star": p_star, "p_lo": lo, "p_hi": hi, "status": status,
                     "bracket": [fractions[j - 1], fractions[j]] if j > 0 else None,
                     "c_star": p_star * m / math.log(m), "boot_outside_grid": int(np.isnan(reps).sum()),
                     "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                     "member_steps": sum(v[3] for v in by_c.values()),
                     "member_steps_full": sum(v[4] for v in by_c.values())})
    wall, cpu_total = time.perf_counter() - t0, time.process_time() - cpu0 + _children_cpu() - child0
    fits = {}
    for fam in dict.fromkeys(r["family"] for r in rows):
        fr = [r for r in rows if r["family"] == fam and r["status"] == "ok"]
        if len({r["M"] for r in fr}) >= 3:
            b = np.stack([boots[r["spec"]] for r in fr], 1) if n_boot else np.zeros((0, len(fr)))
            fits[fam] = _fit_family([r["M"] for r in fr], [r["p_star"] for r in fr], b, n_boot, boot_seed)
    settings = {"groups": list(groups), "coefs": coefs, "seeds": seeds, "steps": steps, "lr": lr, "eta": eta,
                "weight_decay": weight_decay, "eval_every": eval_every, "leave_window": leave_window, "dtype": dtype,
                "refine": refine, "hidden": hidden or "default_hidden(M) = 32*ceil((2M+1)/32)", "act": "x2",
                "n_boot": n_boot}
    return TrainedBoundary(settings=settings, rule=RULE.format(thr=THRESHOLD, window=leave_window, steps=steps,
                                                               mem=MEMORIZED_TEST_MAX, n_boot=n_boot),
                           groups=tuple(rows), members=tuple(members), fits=fits,
                           undecided=sum(1 for m in members if m["outcome"] == "undecided"),
                           member_steps=sum(r["member_steps"] for r in rows),
                           member_steps_full=sum(r["member_steps_full"] for r in rows),
                           seconds=wall, cpu_seconds=cpu_total,
                           threads=torch.get_num_threads() if threads is None else threads, workers=workers,
                           load_average=tuple(round(v, 2) for v in os.getloadavg()))
