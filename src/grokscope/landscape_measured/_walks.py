"""A walk on the graph of heuristic models, observed at discrete times, and its visits.

Gokhale 2023 ("The semantic landscape paradigm for neural networks", §2.3) pictures training as a
walk on a graph whose nodes are heuristic models. A trained network is seen only at its
checkpoints, a simulated walker wherever we choose to look; both become a :class:`Walk`: the
node label and the fallibility F of the state at each observation time. Everything the
empirical graph reports (visits, dwell times, transitions) is read off walks, so the same
definitions apply to a network and to the simulator.

A **visit** is a maximal run of consecutive observations with the same label. It is *entered*
at its first observation and *left* at the first observation in the next node; its dwell time
is ``leave - enter``. Hops between two checkpoints are invisible, so a dwell is resolved only to
the spacing of the observations (log-spaced checkpoints resolve early hops finely and late ones
coarsely). The last visit of a walk is *censored*: its dwell is at least ``last - enter``.

>>> w = Walk("toy", np.array([0, 10, 20, 30]), ("a", "a", "b", "b"), np.array([3.0, 2.0, 1.0, 0.5]))
>>> [(v.node, v.enter, v.dwell, v.censored) for v in visits(w)]
[('a', 0.0, 20.0, False), ('b', 20.0, 10.0, True)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grokscope.errors import AnalysisError

__all__ = ["Visit", "Walk", "visits", "walk_stats"]


@dataclass(frozen=True)
class Walk:
    """One member's (or walker's) observed walk: ``times [n_obs]`` ascending, a label and F at each."""

    name: str
    times: np.ndarray  # [n_obs] training steps (or simulated time), strictly increasing
    nodes: tuple[str, ...]  # [n_obs] heuristic-model label at each observation
    F: np.ndarray  # [n_obs] fallibility of the state at each observation (Gokhale 2023 Eq. 1)
    group: float = float("nan")  # e.g. the member's training-set size
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n_obs], averaged per node

    def __post_init__(self):
        t = np.asarray(self.times, dtype=float)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "F", np.asarray(self.F, dtype=float))
        object.__setattr__(self, "nodes", tuple(str(n) for n in self.nodes))
        if not (t.ndim == 1 and len(self.nodes) == t.size == self.F.size) or t.size == 0:
            raise AnalysisError(f"walk {self.name}: {t.size} times, {len(self.nodes)} labels and {self.F.size} "
                                "fallibilities; they must be equally many and at least one")
        if np.any(np.diff(t) <= 0):
            raise AnalysisError(f"walk {self.name}: observation times must be strictly increasing")


@dataclass(frozen=True)
class Visit:
    """One stay in a node: entered at ``enter``, left at ``leave`` (None: still there at the end)."""

    walk: str
    node: str
    enter: float
    leave: float | None
    last_seen: float  # last observation inside the node
    first: int  # index of the first observation in the node
    last: int  # index of the last observation in the node

    @property
    def censored(self) -> bool:
        return self.leave is None

    @property
    def dwell(self) -> float:
        """``leave - enter``; for the censored last visit, the lower bound ``last_seen - enter``."""
        return (self.last_seen if self.leave is None else self.leave) - self.enter


def visits(walk: Walk) -> list[Visit]:
    """The visits of ``walk`` in order (see the module docstring)."""
    out: list[Visit] = []
    start = 0
    n = len(walk.nodes)
    for i in range(1, n + 1):
        if i == n or walk.nodes[i] != walk.nodes[start]:
            leave = float(walk.times[i]) if i < n else None
            out.append(Visit(walk.name, walk.nodes[start], float(walk.times[start]), leave,
                             float(walk.times[i - 1]), start, i - 1))
            start = i
    return out


def walk_stats(walks: list[Walk]) -> dict:
    """Scale-free statistics of a set of walks, comparable between networks and the simulator.

    * ``hops_per_walk``: mean number of observed hops (label changes);
    * ``nodes_per_walk``: mean number of distinct nodes a walk visits;
    * ``revisit_fraction``: of all visits after the first, the fraction to a node the walk saw before;
    * ``uphill_fraction``: of all observed hops, the fraction across which F rose (F at the first
      observation in the new node above F at the last observation in the old one);
    * ``dwell_cv``: coefficient of variation (sd / mean) of the completed dwell times (1 for the
      exponential waits of a Markov hop; observation on a grid changes it);
    * ``end_at_lowest_F``: fraction of walks whose last node has the lowest mean F (over all walks'
      observations in it) of the nodes that walk visited.

    >>> w = Walk("w", np.arange(5), ("a", "b", "a", "c", "c"), np.array([2.0, 3.0, 2.0, 1.0, 1.0]))
    >>> s = walk_stats([w]); s["hops_per_walk"], s["nodes_per_walk"], s["revisit_fraction"], s["uphill_fraction"]
    (3.0, 3.0, 0.3333333333333333, 0.3333333333333333)
    """
    if not walks:
        raise AnalysisError("walk_stats: no walks")
    hops, distinct, revisit, later, up, dwell = 0, [], 0, 0, 0, []
    node_F: dict[str, list[float]] = {}
    for w in walks:
        vs = visits(w)
        seen: set[str] = set()
        for k, v in enumerate(vs):
            node_F.setdefault(v.node, []).extend(w.F[v.first : v.last + 1].tolist())
            if k:
                later += 1
                revisit += v.node in seen
                up += bool(w.F[v.first] > w.F[vs[k - 1].last])
            seen.add(v.node)
            if not v.censored:
                dwell.append(v.dwell)
        hops += len(vs) - 1
        distinct.append(len(seen))
    mean_F = {k: float(np.mean(v)) for k, v in node_F.items()}
    ends = sum(mean_F[w.nodes[-1]] == min(mean_F[n] for n in set(w.nodes)) for w in walks)
    d = np.asarray(dwell, dtype=float)
    nan = float("nan")
    return {
        "n_walks": len(walks),
        "n_nodes": len(mean_F),
        "hops_per_walk": hops / len(walks),
        "nodes_per_walk": float(np.mean(distinct)),
        "revisit_fraction": revisit / later if later else nan,
        "uphill_fraction": up / hops if hops else nan,
        "dwell_cv": float(d.std() / d.mean()) if d.size > 1 and d.mean() > 0 else nan,
        "end_at_lowest_F": ends / len(walks),
    }
