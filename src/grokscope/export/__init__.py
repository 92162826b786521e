"""Exports: a run or sweep as tidy tables (pandas, Parquet, CSV), TensorBoard logs, or one
transformer member as a TransformerLens ``HookedTransformer`` (config arguments and state dict).

>>> from grokscope.store import Store                                       # doctest: +SKIP
>>> df = Store("runs.db").frame(3)                  # run 3: run, member, step, metric, value  # doctest: +SKIP
>>> members = Store("runs.db").frame("pair-parity", table="members")     # a sweep's members  # doctest: +SKIP
>>> export(store, 3, "tensorboard", "tb/")        # one log directory per member  # doctest: +SKIP

See ``docs/exports.md``; ``grokscope export RUN|SWEEP --format parquet|csv|tensorboard|transformerlens``.
"""

from grokscope.export._export import FORMATS, default_out, export
from grokscope.export._frame import (
    TABLES,
    frame,
    member_config,
    members_frame,
    metrics_frame,
)
from grokscope.export._target import Target, resolve_target
from grokscope.export._tensorboard import member_logdir, tag_name, write_tensorboard
from grokscope.export._transformerlens import (
    ACT_FNS,
    TransformerLensExport,
    hooked_transformer_config,
    transformerlens_export,
)

__all__ = [
    # what is exported
    "Target",
    "resolve_target",
    # tables
    "frame",
    "metrics_frame",
    "members_frame",
    "member_config",
    "TABLES",
    # files
    "export",
    "FORMATS",
    "default_out",
    "write_tensorboard",
    "member_logdir",
    "tag_name",
    # TransformerLens
    "TransformerLensExport",
    "transformerlens_export",
    "hooked_transformer_config",
    "ACT_FNS",
]
