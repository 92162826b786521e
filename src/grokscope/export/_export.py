"""``export``: a run or sweep to files, every input checked before the first byte is written.

========================= ==================================================================
format                    writes, under ``out``
========================= ==================================================================
``parquet`` / ``csv``     ``metrics.<ext>`` (tidy: run, member, step, metric, value) and
                          ``members.<ext>`` (one row per member: config and outcome)
``tensorboard``           ``run-<run>/member-<member>/events.out.tfevents.*`` per member
``transformerlens``       ``config.json`` (``HookedTransformerConfig`` arguments), ``state_dict.pt``
                          (``torch.save`` of the TransformerLens state dict), ``source.json``
========================= ==================================================================

``out`` defaults to ``<store dir>/exports/<run-N | sweep-NAME>-<format>`` and must not exist or be
empty: an export never mixes with an earlier one (two event files in one TensorBoard directory
would show every point twice).
"""

from __future__ import annotations

import json
from pathlib import Path

from grokscope.errors import ConfigError
from grokscope.export._frame import members_frame, metrics_frame
from grokscope.export._target import resolve_target
from grokscope.validate import check_choice

__all__ = ["FORMATS", "default_out", "export"]

FORMATS = ("parquet", "csv", "tensorboard", "transformerlens")


def default_out(store, label: str, fmt: str) -> Path:
    """``<store dir>/exports/<label>-<fmt>``, beside ``grokscope analyze``'s ``<store dir>/analysis``."""
    return Path(store.path).parent / "exports" / f"{label}-{fmt}"


def _check_out(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty directory; choose a new one")
    return out


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError("--format parquet needs pyarrow: pip install pyarrow (or use --format csv)") from None


def export(store, target, fmt: str, out: str | Path | None = None, *, member: int | None = None,
           step: int | None = None) -> list[Path]:
    """Export run id or sweep name ``target`` as ``fmt`` (module docstring) to ``out``; returns the
    files (tables, TransformerLens) or member log directories (TensorBoard) written.

    ``member`` and ``step`` choose the TransformerLens member (default 0) and checkpoint (default:
    the last); other formats export every member and step, and refuse them.
    """
    check_choice(fmt, "--format", FORMATS)
    t = resolve_target(store, target)
    if fmt != "transformerlens" and (member is not None or step is not None):
        raise ConfigError(f"--member/--step choose the checkpoint of a transformerlens export; --format {fmt} exports every member and step")
    if fmt == "transformerlens":
        from grokscope.export._transformerlens import check_transformerlens

        if t.kind != "run":
            raise ConfigError(f"--format transformerlens exports one member of one run; {t.name!r} is a sweep "
                              f"(its members table lists each member's run and member)")
        member, step = check_transformerlens(store, t.runs[0], member, step)
    if fmt == "parquet":
        _require_pyarrow()
    if fmt == "tensorboard":
        from grokscope.export._tensorboard import require_writer

        require_writer()
    out = _check_out(Path(out) if out is not None else default_out(store, t.label, fmt))

    if fmt in ("parquet", "csv"):
        tables = {"metrics": metrics_frame(store, t), "members": members_frame(store, t)}  # read, then write
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, df in tables.items():
            path = out / f"{name}.{fmt}"
            if fmt == "parquet":
                df.to_parquet(path, engine="pyarrow", index=False)
            else:
                df.to_csv(path, index=False)
            paths.append(path)
        return paths
    if fmt == "tensorboard":
        from grokscope.export._tensorboard import write_tensorboard

        return write_tensorboard(store, t, out)

    import torch

    from grokscope.export._transformerlens import transformerlens_export

    exp = transformerlens_export(store, t.runs[0], member, step)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "config.json", out / "state_dict.pt", out / "source.json"]
    paths[0].write_text(json.dumps(exp.config, indent=1) + "\n")
    torch.save(exp.state_dict, paths[1])
    paths[2].write_text(json.dumps(exp.source, indent=1, default=str) + "\n")
    return paths
