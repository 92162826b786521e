"""Training: composable batched optimizers, the metric schedule and the training loop.

>>> from grokscope.train import adamw
>>> opt = adamw(lr=1e-3, weight_decay=1.0, b2=0.98, warmup_steps=10)   # Nanda et al. 2023
"""

from grokscope.train._collapse import COLLAPSE_METRICS, CollapseHook
from grokscope.train._signals import SIGNAL_METRICS, SignalsHook
from grokscope.train._data import TrainData
from grokscope.train._decided import STOP_AFTER_GROK, DecidedRule
from grokscope.train._fused import FusedAdamW
from grokscope.train._hooks import EvalContext, EvalHook, GrokkingHook, HookBase
from grokscope.train._hyper_schedule import Schedule, constant_schedule, cosine_schedule, warmup_schedule
from grokscope.train._checkpoint_plan import checkpoint_steps
from grokscope.train._loop import METRICS, TrainResult, train
from grokscope.train._losses import LOSSES, per_example_loss
from grokscope.train._filters import grokfast_ma, normalize_grad, orthogonal_grad, with_filters
from grokscope.train._make_optimizer import gradient_filters, make_optimizer
from grokscope.train._optim import Optimizer, adam, adamw, sgd
from grokscope.train._projection import Projection, fixed_norm
from grokscope.train._retire import RetireHook
from grokscope.train._schedule import eval_steps
from grokscope.train._stack import StackJob, train_stacked
from grokscope.train._state import RunState
from grokscope.train._transforms import (
    Transform,
    add_decayed_weights,
    chain,
    clip_by_global_norm,
    grokfast_ema,
    named_chain,
    scale_by_adam,
    scale_by_lr,
    trace,
)

__all__ = [
    "train", "train_stacked", "StackJob", "TrainResult", "TrainData", "METRICS", "checkpoint_steps", "make_optimizer", "eval_steps",
    "RunState", "EvalHook", "EvalContext", "HookBase", "GrokkingHook", "RetireHook", "DecidedRule", "STOP_AFTER_GROK",
    "per_example_loss", "LOSSES",
    "Optimizer", "FusedAdamW", "adamw", "adam", "sgd",
    "Transform", "chain", "scale_by_adam", "trace", "add_decayed_weights", "scale_by_lr", "grokfast_ema",
    "clip_by_global_norm",
    "grokfast_ma", "orthogonal_grad", "normalize_grad", "with_filters", "gradient_filters",
    "CollapseHook", "COLLAPSE_METRICS", "SignalsHook", "SIGNAL_METRICS",
    "named_chain", "Schedule", "constant_schedule", "warmup_schedule", "cosine_schedule", "Projection", "fixed_norm",
]
