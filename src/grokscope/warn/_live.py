"""Early warning while a run trains: a hook that predicts each member once training passes W.

``LiveWarning(fit, window)`` is an evaluation hook (``grokscope.train._hooks``) for
``train(cfg, store, hooks=[...])``. ``fit`` is a predictor fitted once, before training, on a
reference run or sweep (``fit_reference``). The hook keeps the history of the metrics the features
read (``READ``: the losses, ``weight_norm``, ``test_acc`` and the signals of ``train.signals``, which
run before it), follows each member's generalization step (first evaluation with test accuracy >=
99%, ``grokscope.analysis._phases``), and at the first evaluation at or after step W predicts every
member from its evaluations at steps <= W, exactly as ``grokscope warn RUN --train REF`` would from
the stored run (``predict_fitted``; a member already generalized by W is ``known``). It stores no
metric and keeps no resume state: after a resume, ``prefill`` gives it the stored history.

The prediction is made once (the features read nothing after W); what changes at later evaluations
is which members have generalized since (``gen_step``), which a display shows beside it.

>>> import numpy as np
>>> from grokscope.train._hooks import EvalContext
>>> class Half:  # a stand-in predictor: P = 0.5, step 1000, for every member
...     def predict(self, X):
...         n = len(X); return {"p": np.full(n, .5), "p_lo": np.full(n, .4), "p_hi": np.full(n, .6),
...                             "step": np.full(n, 1e3), "step_lo": np.full(n, 5e2), "step_hi": np.full(n, 2e3)}
>>> hook = LiveWarning(Half(), window=20); hook.setup(2)
>>> ctx = EvalContext(step=0, total=100, active=np.ones(2, bool), diverged_step=np.full(2, -1))
>>> for s, acc in [(10, [0.2, 1.0]), (20, [0.3, 1.0])]:
...     _ = hook(s, {"train_loss": np.ones(2), "test_acc": np.array(acc)}, ctx)
>>> [(p.known, p.p) for p in hook.predictions], hook.gen_step.tolist()
([(False, 0.5), (True, 1.0)], [-1, 10])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grokscope.analysis._phases import update_first_crossing
from grokscope.train._hooks import EvalContext, HookBase
from grokscope.warn._members import READ, Member
from grokscope.warn._score import Prediction, predict_fitted

__all__ = ["LiveWarning"]


class LiveWarning(HookBase):
    """Predict every member of a training run at window ``W`` with a predictor fitted beforehand.

    ``predictions`` is None before the first evaluation at or after W, then one :class:`Prediction`
    per member; ``gen_step [model]`` (-1 = not yet) is refreshed at every evaluation. ``budget`` is
    the budget the predictor's "generalizes" refers to (the reference's ``train.steps``).
    """

    name = "warn_live"

    def __init__(self, fit, window: int, *, features: str = "signals", budget: int = 0, source: str = "live"):
        self.fit, self.window, self.features, self.budget, self.source = fit, int(window), features, int(budget), source
        self.predictions: list[Prediction] | None = None
        self.predicted_at = -1  # the evaluated step at which the prediction was made
        self.gen_step = np.zeros(0, dtype=np.int64)
        self._steps: list[int] = []
        self._hist: dict[str, list[np.ndarray]] = {}
        self._prefilled = False

    def setup(self, n_members: int) -> None:
        if self._prefilled and len(self.gen_step) == n_members:
            return  # a resumed run: keep the stored history given to prefill
        self.gen_step = np.full(n_members, -1, dtype=np.int64)
        self._steps, self._hist = [], {k: [] for k in READ}
        self.predictions, self.predicted_at = None, -1

    def prefill(self, steps: np.ndarray, metrics: Mapping[str, np.ndarray], n_members: int) -> None:
        """The history stored before a resume: ``steps [n]``, ``metrics {name: [n, model]}``."""
        self._prefilled = False
        self.setup(n_members)
        for k, step in enumerate(np.asarray(steps).tolist()):
            self._record(int(step), {name: v[k] for name, v in metrics.items()})
        self._prefilled = True

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        self._record(step, metrics)
        if self.predictions is None and step >= self.window:
            self.predictions, self.predicted_at = predict_fitted(self.fit, self.members(), self.window,
                                                                 features=self.features), step
        return {}

    def _record(self, step: int, metrics: Mapping[str, Any]) -> None:
        while self._steps and self._steps[-1] >= step:  # a resumed run re-evaluates its last steps
            self._steps.pop()
            for v in self._hist.values():
                v.pop()
        n = len(self.gen_step)
        self._steps.append(int(step))
        for k, v in self._hist.items():
            v.append(np.asarray(metrics[k], dtype=np.float64).copy() if k in metrics else np.full(n, np.nan))
        if "test_acc" in metrics:
            update_first_crossing(self.gen_step, int(step), np.asarray(metrics["test_acc"], dtype=np.float64))

    def members(self) -> list[Member]:
        """The members as seen so far (``Member``, what the features read); gen_step -1 while not yet."""
        steps = np.asarray(self._steps, dtype=np.int64)
        hist = {k: np.stack(v) for k, v in self._hist.items() if v}  # [n_evals, model]
        return [Member(self.source, -1, i, steps, {k: v[:, i] for k, v in hist.items()}, int(g), self.budget)
                for i, g in enumerate(self.gen_step.tolist())]
