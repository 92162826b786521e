"""Training one ensemble of a sweep: the step both backends share (in-process and a Ray worker).

An ensemble is an ordinary run (``grokscope.train.train``): its config is the packed plan's,
its name ``sweep:<name>/<ensemble>`` (``run_name``). Continuing a cut run reads the run's own
stored config, exactly as ``grokscope train --resume`` does, so the result is bit-exact.
"""

from __future__ import annotations

__all__ = ["train_plan"]


def train_plan(plan_config: dict, store, name: str, *, resume: int | None = None) -> int:
    """Train one ensemble config into ``store`` as a run called ``name`` (or continue run ``resume``)."""
    # Imported here, not at the top: listing and inspecting sweeps must not pay for torch.
    from grokscope.config import RunConfig
    from grokscope.train import train

    if resume is not None:
        cfg = RunConfig.from_dict(store.get_run(resume).config)   # the trainer resumes from the stored config
    else:
        cfg = RunConfig.from_dict({**plan_config, "name": name})
    result = train(cfg, store=store, resume=resume)
    return int(result.run_id)
