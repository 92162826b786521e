"""The empirical graph of heuristic models: nodes, observed transitions, dwell times and F per node.

From many walks (one per trained member, see ``_walks``) the graph collects

* per **node** (a heuristic-model label): how many visits and walks reached it, its completed
  dwell times (mean and total) and how many visits were still running at the end (censored),
  and the fallibility F of the states observed in it (mean and sd over those observations;
  Gokhale 2023, "The semantic landscape paradigm for neural networks", Eq. 1). F belongs to a
  network state, not to a label, so the sd says how well one label pins F down;
* per **edge** ``src -> dst``: how often the hop was observed between consecutive checkpoints,
  the mean dwell in ``src`` before it, and the mean change of F across it;
* every **transition** with its walk, its times and F on both sides.

>>> from grokscope.landscape_measured._walks import Walk
>>> w = Walk("w", np.array([0, 1, 3, 6]), ("a", "b", "b", "c"), np.array([4.0, 5.0, 4.5, 1.0]))
>>> g = empirical_graph([w])
>>> [(n.label, n.dwell_mean, n.F_mean) for n in g.nodes]
[('a', 1.0, 4.0), ('b', 5.0, 4.75), ('c', nan, 1.0)]
>>> [(e.src, e.dst, e.count, e.dF_mean) for e in g.edges]
[('a', 'b', 1, 1.0), ('b', 'c', 1, -3.5)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.landscape_measured._walks import Walk, visits, walk_stats

__all__ = ["Edge", "EmpiricalGraph", "Node", "empirical_graph"]


@dataclass(frozen=True)
class Node:
    """One heuristic model as observed: visits, dwell times (completed visits) and F of its states."""

    label: str
    visits: int
    walks: int  # distinct walks that reached it
    n_obs: int  # observations (checkpoints) inside it, over all walks
    t_mean: float  # mean observation time (step) inside it
    dwell_mean: float  # mean completed dwell (NaN: every visit censored)
    dwell_total: float  # sum of completed dwells
    n_censored: int  # visits still running at the walk's end
    F_mean: float
    F_sd: float
    extra: dict[str, float] = field(default_factory=dict)  # mean of each of the walks' extra curves


@dataclass(frozen=True)
class Edge:
    """An observed hop ``src -> dst``: how often, after how long a dwell in ``src``, with what change of F."""

    src: str
    dst: str
    count: int
    wait_mean: float  # mean dwell in src before the hop
    dF_mean: float  # mean of F(first observation in dst) - F(last observation in src)


@dataclass
class EmpiricalGraph:
    """Nodes (ordered by first appearance), edges (by first observation) and the transitions behind them."""

    nodes: list[Node]
    edges: list[Edge]
    transitions: list[dict]  # walk, src, dst, enter (of src), step (first seen in dst), wait, F_src, F_dst
    stats: dict  # walk_stats of the walks

    def node(self, label: str) -> Node:
        for n in self.nodes:
            if n.label == label:
                return n
        raise AnalysisError(f"node {label!r}: not in the graph ({len(self.nodes)} nodes)")

    def to_dict(self) -> dict:
        return jsonable({"nodes": [asdict(n) for n in self.nodes], "edges": [asdict(e) for e in self.edges],
                         "transitions": self.transitions, "stats": self.stats})


def empirical_graph(walks: list[Walk]) -> EmpiricalGraph:
    """The graph of heuristic models observed along ``walks`` (see the module docstring)."""
    if not walks:
        raise AnalysisError("empirical_graph: no walks")
    obs_F: dict[str, list[float]] = {}
    obs_t: dict[str, list[float]] = {}
    obs_extra: dict[str, dict[str, list[float]]] = {}
    node_visits: dict[str, list] = {}
    node_walks: dict[str, set[str]] = {}
    edge_rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    transitions: list[dict] = []
    for w in walks:
        vs = visits(w)
        for k, v in enumerate(vs):
            sl = slice(v.first, v.last + 1)
            obs_F.setdefault(v.node, []).extend(w.F[sl].tolist())
            obs_t.setdefault(v.node, []).extend(w.times[sl].tolist())
            ex = obs_extra.setdefault(v.node, {})
            for name, curve in w.extra.items():
                ex.setdefault(name, []).extend(np.asarray(curve, dtype=float)[sl].tolist())
            node_visits.setdefault(v.node, []).append(v)
            node_walks.setdefault(v.node, set()).add(w.name)
            if k + 1 < len(vs):
                nxt = vs[k + 1]
                F_src, F_dst = float(w.F[v.last]), float(w.F[nxt.first])
                edge_rows.setdefault((v.node, nxt.node), []).append((v.dwell, F_dst - F_src))
                transitions.append({"walk": w.name, "group": w.group, "src": v.node, "dst": nxt.node,
                                    "enter": v.enter, "step": nxt.enter, "wait": v.dwell,
                                    "F_src": F_src, "F_dst": F_dst})
    nodes = []
    for label, vs in node_visits.items():
        done = np.array([v.dwell for v in vs if not v.censored], dtype=float)
        F = np.asarray(obs_F[label], dtype=float)
        nodes.append(Node(label, len(vs), len(node_walks[label]), F.size, float(np.mean(obs_t[label])),
                          float(done.mean()) if done.size else float("nan"), float(done.sum()),
                          sum(v.censored for v in vs), float(np.nanmean(F)),
                          float(np.nanstd(F)) if F.size > 1 else 0.0,
                          {k: float(np.nanmean(v)) for k, v in obs_extra[label].items()}))
    edges = [Edge(s, d, len(rows), float(np.mean([r[0] for r in rows])), float(np.mean([r[1] for r in rows])))
             for (s, d), rows in edge_rows.items()]
    return EmpiricalGraph(nodes, edges, transitions, walk_stats(walks))
