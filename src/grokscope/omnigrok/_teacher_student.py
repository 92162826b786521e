"""Teacher–student regression: Omnigrok's time to generalize against weight decay γ.

Liu, Michaud & Tegmark (2022, "Omnigrok", ``teacher-student/grokking/regression_grokking.ipynb``):
a teacher MLP 5-100-100-5 with tanh, torch's default ``nn.Linear`` initialization (seed 0), labels
100 training and 100 test inputs drawn from N(0, 1)^5. A student of the same shape, initialized by
the same rule and then multiplied by α = 2, is trained full batch with AdamW (lr 3e-4, weight
decay γ) on the mean squared error. A sample counts as "correct" when its squared error, averaged
over the 5 outputs, is below 1e-3; accuracy is the fraction correct. The student memorizes (train
accuracy 1) early; test accuracy rises only as decay shrinks the norm, and the paper reports the
time to generalize proportional to 1/γ.

This is a small full-batch loop of its own, not a grokscope task: the training loop's tasks carry
class labels (``labels [n_all]`` long, accuracy by argmax), and a real-valued target does not fit
that contract. The members are (γ, student seed) pairs, batched on a leading ``model`` axis and
stepped by grokscope's batched AdamW (per-member weight decay), so each member equals a one-member
run. The teacher and the data come from explicit generators: the same ``teacher_seed`` gives the
same teacher, inputs and labels on every machine (draws in float32 from ``torch.Generator``).

>>> cfg = TeacherStudentConfig(weight_decays=(0.5,), n_seeds=1, steps=20, eval_every=10, width=8)
>>> r = run_teacher_student(cfg)
>>> r.steps.tolist(), r.train_acc.shape
([0, 10, 20], (3, 1))
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from grokscope.models._common import ParamSpec
from grokscope.models._feature_mlp import draw_omnigrok_init
from grokscope.seeding import generator, member_seed
from grokscope.validate import check_int, check_number, require

__all__ = [
    "Teacher",
    "TeacherStudentConfig",
    "TeacherStudentResult",
    "first_reach",
    "forward",
    "make_teacher",
    "mlp_specs",
    "run_teacher_student",
    "time_law",
]


@dataclass(frozen=True)
class TeacherStudentConfig:
    """Defaults: Omnigrok's ``regression_grokking.ipynb`` unless a comment says otherwise."""

    d_in: int = 5  # Omnigrok: d_in = 5
    width: int = 100  # w = 100, two hidden tanh layers
    d_out: int = 5  # d_out = 5
    n_train: int = 100  # train_size = 100
    n_test: int = 100  # test_size = 100
    teacher_seed: int = 0  # Omnigrok seeds torch with 0 before building the teacher
    student_alpha: float = 2.0  # alpha = 2.0 (student parameters times α after the default init)
    lr: float = 3e-4  # AdamW lr 3e-4, torch's betas and eps
    weight_decays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)  # ours; Omnigrok's notebook shows wd = 0.05
    n_seeds: int = 2  # student seeds per γ (Omnigrok: one, seed 1)
    steps: int = 20_000  # full-batch updates (Omnigrok: 100k epochs at wd = 0.05)
    threshold: float = 1e-3  # a sample is correct when mean_j (y_j - ŷ_j)^2 < 1e-3 (Omnigrok's threshold)
    level: float = 0.9  # ours: the step at which (test) accuracy first reaches this fraction
    eval_every: int = 20  # Omnigrok evaluates at every step; every 20 keeps the loop cheap
    dtype: str = "float32"  # Omnigrok: torch's default float32

    def __post_init__(self):
        for name in ("d_in", "width", "d_out", "n_train", "n_test", "n_seeds", "eval_every"):
            check_int(getattr(self, name), name, 1)
        check_int(self.teacher_seed, "teacher_seed", 0)
        check_int(self.steps, "steps", 0)
        check_number(self.student_alpha, "student_alpha", lo=0.0, lo_open=True)
        check_number(self.lr, "lr", lo=0.0, lo_open=True)
        check_number(self.threshold, "threshold", lo=0.0, lo_open=True)
        check_number(self.level, "level", lo=0.0, hi=1.0, lo_open=True)
        require(len(self.weight_decays) >= 1, "weight_decays", self.weight_decays, "at least one weight decay")
        for g in self.weight_decays:
            check_number(g, "weight_decay", lo=0.0)
        require(self.dtype in ("float32", "float64"), "dtype", self.dtype, "'float32' or 'float64'")

    def grid(self) -> list[tuple[float, int]]:
        """Members in order: ``(γ, student seed)``, seed fastest."""
        return list(itertools.product(self.weight_decays, range(self.n_seeds)))


def mlp_specs(d_in: int, width: int, d_out: int) -> list[ParamSpec]:
    """The 3 ``nn.Linear`` layers' weights ``[fan_in, fan_out]`` and biases, uniform ±1/√fan_in."""
    dims = [(d_in, width), (width, width), (width, d_out)]
    out = []
    for i, (a, b) in enumerate(dims):
        std = 1 / math.sqrt(3 * a)  # U(-1/√a, 1/√a) has std 1/√(3a)
        out += [ParamSpec(f"W{i}", (a, b), std=std, dist="uniform"), ParamSpec(f"b_{i}", (b,), std=std, dist="uniform")]
    return out


def forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """``x [batch, d_in]`` -> ``[model, batch, d_out]`` with ``params`` of shape ``[model, ...]``."""
    h = x
    for i in range(3):
        h = torch.matmul(h, params[f"W{i}"]) + params[f"b_{i}"][:, None, :]  # [model, batch, d]
        if i < 2:
            h = torch.tanh(h)
    return h


@dataclass
class Teacher:
    """The teacher's parameters (one member, ``[1, ...]``) and the data it labels."""

    params: dict[str, Tensor]
    x_train: Tensor  # [n_train, d_in]
    y_train: Tensor  # [n_train, d_out]
    x_test: Tensor
    y_test: Tensor


def make_teacher(cfg: TeacherStudentConfig) -> Teacher:
    """The teacher and its data, a function of ``cfg.teacher_seed`` only (plus the sizes).

    Streams of the seed: 0 the teacher's weights (α = 1), 1 the training inputs, 2 the test inputs.
    """
    dtype = getattr(torch, cfg.dtype)
    specs = mlp_specs(cfg.d_in, cfg.width, cfg.d_out)
    w = draw_omnigrok_init(specs, member_seed(cfg.teacher_seed, 0), 1.0, True)
    params = {k: v.to(dtype)[None] for k, v in w.items()}  # [1, ...]
    xs = [torch.randn(n, cfg.d_in, generator=generator(member_seed(cfg.teacher_seed, s))).to(dtype)
          for n, s in ((cfg.n_train, 1), (cfg.n_test, 2))]
    with torch.no_grad():
        ys = [forward(params, x)[0] for x in xs]
    return Teacher(params, xs[0], ys[0], xs[1], ys[1])


@dataclass
class TeacherStudentResult:
    """Per member ``(γ, seed)``: metrics ``[n_eval, model]`` at ``steps``, and the first steps at
    which train / test accuracy reach ``level`` (NaN: not within the run)."""

    weight_decay: np.ndarray  # [model]
    seed: np.ndarray  # [model]
    steps: np.ndarray  # [n_eval]
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    norm: np.ndarray
    t_memorize: np.ndarray  # [model]
    t_generalize: np.ndarray  # [model]
    level: float
    wall_seconds: float
    config: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def first_reach(steps: np.ndarray, values: np.ndarray, level: float) -> np.ndarray:
    """Per column of ``values [n_eval, model]``: the first step with value ≥ ``level``, else NaN.

    >>> first_reach(np.array([0, 10, 20]), np.array([[0.0, 0.0], [0.95, 0.5], [1.0, 0.6]]), 0.9).tolist()
    [10.0, nan]
    """
    hit = values >= level  # [n_eval, model]
    first = np.argmax(hit, axis=0)
    return np.where(hit.any(axis=0), steps[first].astype(float), np.nan)


def _metrics(params, teacher: Teacher, threshold: float) -> list[Tensor]:
    out = []
    for x, y in ((teacher.x_train, teacher.y_train), (teacher.x_test, teacher.y_test)):
        per = (forward(params, x) - y).pow(2).mean(-1)  # [model, n]
        out += [per.mean(-1), (per < threshold).to(per.dtype).mean(-1)]
    m = next(iter(params.values())).shape[0]
    out.append(torch.sqrt(sum(p.reshape(m, -1).pow(2).sum(1) for p in params.values())))
    return out  # train_loss, train_acc, test_loss, test_acc, norm: each [model]


def run_teacher_student(cfg: TeacherStudentConfig) -> TeacherStudentResult:
    """Train every (γ, seed) student against the teacher, full batch, as one ensemble."""
    from grokscope.train import adamw

    dtype = getattr(torch, cfg.dtype)
    teacher = make_teacher(cfg)
    grid = cfg.grid()
    specs = mlp_specs(cfg.d_in, cfg.width, cfg.d_out)
    draws = [draw_omnigrok_init(specs, member_seed(s, 1), cfg.student_alpha, True) for _, s in grid]
    params = {sp.name: torch.stack([d[sp.name] for d in draws]).to(dtype).requires_grad_() for sp in specs}
    wd = torch.tensor([g for g, _ in grid], dtype=dtype)  # [model]
    opt = adamw(cfg.lr, weight_decay=wd)
    state = opt.init(params)
    steps, rows = [], []
    t0 = time.perf_counter()
    for step in range(cfg.steps + 1):
        if step % cfg.eval_every == 0 or step == cfg.steps:
            with torch.no_grad():
                rows.append(torch.stack(_metrics(params, teacher, cfg.threshold)).numpy().copy())  # [5, model]
            steps.append(step)
        if step == cfg.steps:
            break
        pred = forward(params, teacher.x_train)  # [model, n_train, d_out]
        # Sum over members of each member's mean loss: members never couple.
        loss = (pred - teacher.y_train).pow(2).mean(dim=(1, 2)).sum()
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            state = opt.step(params, dict(zip(params, grads)), state)
    wall = time.perf_counter() - t0
    m = np.stack(rows)  # [n_eval, 5, model]
    st = np.array(steps)
    return TeacherStudentResult(
        weight_decay=np.array([g for g, _ in grid]), seed=np.array([s for _, s in grid]), steps=st,
        train_loss=m[:, 0], train_acc=m[:, 1], test_loss=m[:, 2], test_acc=m[:, 3], norm=m[:, 4],
        t_memorize=first_reach(st, m[:, 1], cfg.level), t_generalize=first_reach(st, m[:, 3], cfg.level),
        level=cfg.level, wall_seconds=wall, config=dataclasses.asdict(cfg))


def time_law(weight_decay, t, *, n_boot: int = 500, seed: int = 0):
    """Fit ``t = a · γ^-g`` (grokscope.fit's ``power_law``, least squares on log t) to the members
    that reached the level; Omnigrok's claim is g = 1. Points with t NaN or ≤ 0 are left out.

    >>> g = np.array([0.1, 0.2, 0.4, 0.8])
    >>> round(time_law(g, 50.0 / g, n_boot=0).params["g"].value, 6)
    1.0
    """
    from grokscope.fit import fit

    g, t = np.asarray(weight_decay, dtype=float), np.asarray(t, dtype=float)
    ok = np.isfinite(t) & (t > 0) & (g > 0)
    require(len(np.unique(g[ok])) >= 2, "time_law", t.tolist(), "times at two or more weight decays")
    return fit("power_law", g[ok], t[ok], n_boot=n_boot, seed=seed, name="t_generalize vs weight decay")
