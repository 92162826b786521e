"""grokscope: a laboratory for grokking, emergence and neural scaling laws.

Train thousands of tiny networks at once, watch them memorize and then grok, store every run,
open the networks up, and test the theories of why against measurements.

>>> import grokscope as gs
>>> cfg = gs.load_config(preset="pair-mod67", overrides=["train.steps=10", "n_members=2", "task.p=7"])
>>> result = gs.train(cfg)                       # no store: an in-memory run
>>> result.metrics["train_acc"].shape            # [n_evaluations, model]
(11, 2)
"""

from grokscope._mkl import set_mkl_mode

set_mkl_mode()  # before any matrix product runs: MKL reads it once (grokscope/_mkl.py)

from grokscope.config import RunConfig, list_presets, load_config  # noqa: E402
from grokscope.errors import AnalysisError, ConfigError, GrokscopeError, StoreError  # noqa: E402
from grokscope.models import build_model  # noqa: E402
from grokscope.seeding import member_seed  # noqa: E402
from grokscope.store import Store  # noqa: E402
from grokscope.tasks import make_task, split  # noqa: E402
from grokscope.train import TrainResult, train  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "RunConfig", "load_config", "list_presets",
    "GrokscopeError", "ConfigError", "StoreError", "AnalysisError",
    "make_task", "split", "build_model", "member_seed",
    "train", "TrainResult", "Store",
]
