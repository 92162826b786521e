"""AdamW in one fused kernel per step: the fast path ``adamw`` takes when it can.

The transform chain of ``_optim.py`` packs an ensemble's parameters and gradients into one
``[model, n_params]`` matrix and runs ~10 elementwise passes over it; with minibatches of a
tiny model that is a fifth of the step (the optimizer table of ``benchmarks/bench_train.py``).
When AdamW has no gradient filters (clipping, Grokfast), decays by L2 and has float betas and
eps, the whole update is ``torch._fused_adamw_`` — torch's own fused kernel, the one behind
``torch.optim.AdamW(fused=True)`` — applied to the parameter tensors where they lie: no packing,
one pass over parameters, gradients and moments.

The kernel takes one lr and one weight decay per call, so per-member values are handled by
grouping members: each call covers the members that share ``(lr, weight_decay)``, as contiguous
row ranges ``[a:b]`` of every ``[model, ...]`` tensor (the member axis is outermost, so a row
range is itself a contiguous tensor). Inactive members are simply left out of every call, so
they keep parameters and state bit for bit. Adam's step count (hence bias correction and the
lr and weight-decay schedules) is kept per member, as in the chain; each call is handed the
scheduled lr and decay of its members' step, and the projection, if any, runs after the calls.

State: ``count [model]`` int64 and the moments ``mu``, ``nu`` as flat vectors that hold each
parameter's ``[model, ...]`` block contiguously, in the order of the parameter dict (so each
block is a view the kernel can use directly).

>>> import torch
>>> params = {"W": torch.zeros(3, 2, 2)}
>>> opt = FusedAdamW(lr=torch.tensor([0.1, 0.2, 0.0]), weight_decay=1.0)
>>> state = opt.init(params)
>>> state = opt.step(params, {"W": torch.ones(3, 2, 2)}, state)
>>> params["W"][:, 0, 0]                               # first Adam step is -lr·sign(g)
tensor([-0.1000, -0.2000,  0.0000])
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.train._hyper_schedule import Schedule, check_schedule, is_constant, lr_schedule_of
from grokscope.train._layout import BatchedOptimizer, Layout, State, check_active
from grokscope.train._projection import Projection
from grokscope.train._transforms import _Hyper

# Beyond this many (lr, weight decay) groups the per-group calls cost more than the chain's
# broadcasts; ``adamw`` then uses the chain.
MAX_GROUPS = 8
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


class FusedAdamW(BatchedOptimizer):
    """AdamW as ``torch.optim.AdamW``, member by member, with one fused kernel call per step.

    Same interface as :class:`~grokscope.train.Optimizer`: ``init(params) -> state``,
    ``step(params, grads, state, active=None) -> state``, ``state_dict``, ``load_state``.
    ``lr`` and ``weight_decay`` may be ``[model]`` tensors; ``warmup_steps`` is Nanda et al.'s
    linear warmup (see ``scale_by_lr``), or ``lr_schedule`` / ``wd_schedule`` scale them by a
    factor of the step; ``project`` maps the parameters after each update (see ``adamw``).
    """

    def __init__(self, lr, weight_decay=0.01, b1=0.9, b2=0.999, eps=1e-8, warmup_steps: int = 0, *,
                 lr_schedule: Schedule | None = None, wd_schedule: Schedule | None = None,
                 project: Projection | None = None):
        self._lr = _Hyper("lr", lr, 0.0, float("inf"))
        self._wd = _Hyper("weight_decay", weight_decay, 0.0, float("inf"))
        for name, v, hi_open in (("b1", b1, True), ("b2", b2, True), ("eps", eps, False)):
            h = _Hyper(name, v, 0.0, 1.0 if hi_open else float("inf"), hi_open=hi_open)
            if not h.is_float:
                raise ConfigError(f"{name}: FusedAdamW needs one float for every member; use adamw(..., fused=False)")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
        self._lr_schedule = lr_schedule_of(warmup_steps, lr_schedule)  # None: constant
        self.warmup_steps = warmup_steps
        wd_schedule = check_schedule(wd_schedule, "wd_schedule")
        self._wd_schedule = None if is_constant(wd_schedule) else wd_schedule
        self.project = project
        self._layout: Layout | None = None

    @staticmethod
    def n_groups(lr, weight_decay) -> int:
        """How many distinct ``(lr, weight_decay)`` pairs the members have (1 for floats)."""
        lr_h, wd_h = _Hyper("lr", lr, 0.0, float("inf")), _Hyper("weight_decay", weight_decay, 0.0, float("inf"))
        if lr_h.is_float and wd_h.is_float:
            return 1
        n = max(1 if lr_h.is_float else lr_h.value.shape[0], 1 if wd_h.is_float else wd_h.value.shape[0])
        lrs = [lr_h.value] * n if lr_h.is_float else lr_h.value.tolist()
        wds = [wd_h.value] * n if wd_h.is_float else wd_h.value.tolist()
        return len(set(zip(lrs, wds)))

    def init(self, params: dict[str, Tensor]) -> State:
        layout = Layout.of(params, "FusedAdamW")
        if layout.dtype not in _DTYPES or layout.device.type not in ("cpu", "cuda"):
            raise ConfigError(f"FusedAdamW: parameters are {layout.dtype} on {layout.device}; the fused kernel "
                              "needs float32/float64/float16/bfloat16 on cpu or cuda; use adamw(..., fused=False)")
        for name, p in params.items():
            if not p.is_contiguous():  # the kernel walks each tensor as one flat block
                raise ConfigError(f"FusedAdamW: parameter {name!r} is not contiguous; use adamw(..., fused=False)")
        m = layout.n_members
        like = torch.empty(m, 1, dtype=torch.float64)
        lrs, wds = self._lr.at(like), self._wd.at(like)  # validates per-member lengths against the ensemble
        lrs = [lrs] * m if isinstance(lrs, float) else lrs.flatten().tolist()
        wds = [wds] * m if isinstance(wds, float) else wds.flatten().tolist()
        keys = list(dict.fromkeys(zip(lrs, wds)))
        self._group_of = [keys.index(k) for k in zip(lrs, wds)]  # [model] -> index into keys
        self._keys = keys
        self._layout = layout
        n_flat = m * layout.n_params
        state = {"count": torch.zeros(m, dtype=torch.int64, device=layout.device),
                 "mu": torch.zeros(n_flat, dtype=layout.dtype, device=layout.device),
                 "nu": torch.zeros(n_flat, dtype=layout.dtype, device=layout.device)}
        self._spec = {k: (v.shape, v.dtype) for k, v in state.items()}
        return state

    def _runs(self, count: Tensor, active: Tensor | None) -> list[tuple[int, int, int, int]]:
        """Maximal member ranges ``(a, b, group, count)`` sharing lr, weight decay and step count."""
        counts = count.tolist()
        live = [True] * len(counts) if active is None else active.tolist()
        runs: list[tuple[int, int, int, int]] = []
        for i, (g, c, on) in enumerate(zip(self._group_of, counts, live)):
            if not on:
                continue
            if runs and runs[-1][1] == i and runs[-1][2] == g and runs[-1][3] == c:
                a, _, _, _ = runs[-1]
                runs[-1] = (a, i + 1, g, c)
            else:
                runs.append((i, i + 1, g, c))
        return runs

    @torch.no_grad()
    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor | None] | None, state: State,
             active: Tensor | None = None) -> State:
        """One AdamW update of every active member, in place; returns ``state``."""
        plist, glist = self._params_and_grads(params, grads)
        glist = [torch.zeros_like(p) if g is None else g.contiguous() for p, g in zip(plist, glist)]
        if active is not None:
            check_active(active, self._layout.n_members)
            if bool(active.all()):
                active = None
        count = state["count"]
        runs = self._runs(count, active)  # before the increment: counts as they were
        count.add_(1) if active is None else count.add_(active.to(count.dtype))
        mus, nus = self._layout.block_views(state["mu"]), self._layout.block_views(state["nu"])
        lr_at, wd_at = self._lr_schedule, self._wd_schedule
        for group, (lr, wd) in enumerate(self._keys):
            mine = [r for r in runs if r[2] == group]
            by_hyper: dict[tuple[float, float], list[tuple[int, int, int]]] = {}
            for a, b, _, c in mine:  # schedules make lr and decay depend on the count (updates done)
                lr_eff = lr if lr_at is None else lr * float(lr_at(c))
                wd_eff = wd if wd_at is None else wd * float(wd_at(c))
                by_hyper.setdefault((lr_eff, wd_eff), []).append((a, b, c + 1))
            for (lr_eff, wd_eff), ranges in by_hyper.items():
                p_, g_, m_, v_, s_ = [], [], [], [], []
                for a, b, t in ranges:
                    whole = a == 0 and b == self._layout.n_members
                    step_t = torch.full((), float(t), dtype=torch.float32, device=self._layout.device)
                    for tensors, out in ((plist, p_), (glist, g_), (mus, m_), (nus, v_)):
                        out.extend(tensors if whole else [x[a:b] for x in tensors])
                    s_.extend([step_t] * len(plist))
                torch._fused_adamw_(p_, g_, m_, v_, [], s_, lr=lr_eff, beta1=self.b1, beta2=self.b2,
                                    weight_decay=wd_eff, eps=self.eps, amsgrad=False, maximize=False)
        self._project(plist, active)
        return state

    def per_member(self, state: State) -> State:
        """``state`` as ``count [model]``, ``mu, nu [model, n_params]`` (copies), to compare members."""
        m = self._layout.n_members
        packed = {k: torch.cat([b.reshape(m, -1) for b in self._layout.block_views(state[k])], dim=1)
                  for k in ("mu", "nu")}
        return {"count": state["count"], **packed}

    def retain_members(self, idx: Tensor) -> None:
        """Serve members ``idx`` of the current ensemble only: their ``(lr, weight_decay)`` groups (a
        group left empty is skipped), and the projection's per-member values narrowed to them."""
        keep = idx.tolist()
        self._group_of = [self._group_of[i] for i in keep]
        self._lr.select(idx)
        self._wd.select(idx)
        self._retain_projection(idx)
        self._layout = layout = self._layout.with_members(len(keep))
        m, n = layout.n_members, layout.n_params
        self._spec = {"count": (torch.Size((m,)), torch.int64), "mu": (torch.Size((m * n,)), layout.dtype),
                      "nu": (torch.Size((m * n,)), layout.dtype)}

    def _member_blocks(self, flat: Tensor, m: int) -> list[Tensor]:
        """Each parameter's ``[m, ...]`` block of a flat moment vector of ``m`` members."""
        views, start = [], 0
        for _, shape in self._layout.entries:
            size = m * shape[1:].numel()
            views.append(flat[start:start + size].view(m, *shape[1:]))
            start += size
        return views

    def select_state(self, state: State, idx: Tensor) -> State:
        """``count[idx]``, and rows ``idx`` of each parameter's block of ``mu`` and ``nu``."""
        m, idx = state["count"].shape[0], idx.to(state["count"].device)
        out = {"count": state["count"].index_select(0, idx)}
        for k in ("mu", "nu"):
            out[k] = torch.cat([b.index_select(0, idx).reshape(-1) for b in self._member_blocks(state[k], m)])
        return out

    def concat_states(self, states: list[State]) -> State:
        ms = [s["count"].shape[0] for s in states]
        out = {"count": torch.cat([s["count"] for s in states])}
        for k in ("mu", "nu"):
            blocks = [self._member_blocks(s[k], m) for s, m in zip(states, ms)]  # [state][param]
            out[k] = torch.cat([torch.cat(parts).reshape(-1) for parts in zip(*blocks)])
        return out

    def _convert_state(self, saved: dict[str, Tensor]) -> dict[str, Tensor]:
        """The state of the same AdamW run by the transform chain (``adamw(..., fused=False)``, and
        every AdamW run before grokscope had this path) in this layout, so those runs resume too.

        The chain's state is keyed by name (``"adam.mu"``), or by position in grokscope 0.1.0
        (``"0.mu"``: ``scale_by_adam`` came first, ``scale_by_lr`` third)."""
        if self._layout is None:
            return saved
        for adam, counters in (("adam", {"lr.count", "weight_decay.count"}), ("0", {"2.count"})):
            moments = {f"{adam}.count", f"{adam}.mu", f"{adam}.nu"}
            if moments <= set(saved) and set(saved) - moments <= counters:
                break
        else:
            return saved
        # Adam's state: count, packed [model, n_params] moments. The schedules' counters count
        # the same updates as Adam's, so they are dropped.
        m = self._layout.n_members
        return {"count": saved[f"{adam}.count"],
                **{k: torch.cat([v.reshape(-1) for v in self._layout.column_views(saved[f"{adam}.{k}"].view(m, -1))])
                   for k in ("mu", "nu")}}
