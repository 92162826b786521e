"""The mean held-out loss of an LM family against N, D and S, fitted with ``grokscope.fit``.

All three are power laws with an offset, ``L = a·x^-g + c`` (``power_law_offset``: least squares
on log L), with percentile intervals from a bootstrap over points:

- **L(N)**: each member's final held-out loss (bits per byte) against its width's non-embedding
  parameter count N (Kaplan et al. 2020), every member one point (``members`` points per N);
- **L(D)** and **L(S)**: one width's learning curves (default: the largest), every member's
  evaluation points from the end of warmup on, against the training tokens seen D = S·batch·n_ctx
  or the step S. With a constant learning rate after warmup each point is that run's loss after
  D tokens. Since D is S times a constant, g and c of L(D) and L(S) are the same fit; a differs.
  L(D) is also fitted for every width.

The family sees ~2 million tokens of a 10-million-token stream, so L(N) is measured at a fixed,
small D (data-limited for the larger widths): it is the family's L(N) at that D, not the
converged L(N) of Kaplan et al.

>>> import numpy as np
>>> info = {"config": {"warmup": 0, "widths": [16, 32, 48, 64]}, "widths": [
...     {"d_model": d, "n_non_embedding": n, "final_loss": [np.log(2) * (1 + 30 * n ** -0.5)] * 2,
...      "steps": [1], "tokens": [64], "curve": [[1.0], [1.0]]} for d, n in [(16, 1e3), (32, 4e3), (48, 9e3), (64, 16e3)]]}
>>> f = family_fits(info, n_boot=0)["L(N)"]["params"]
>>> round(f["g"]["value"], 3), round(f["c"]["value"], 3)
(0.5, 1.0)
"""

from __future__ import annotations

import math

import numpy as np

from grokscope.fit import FitError, fit
from grokscope.validate import check_int, check_seed, require

__all__ = ["family_fits"]


def _fit(x, y, name: str, n_boot: int, seed: int) -> dict:
    try:
        f = fit("power_law_offset", x, y, n_boot=n_boot, seed=seed, name=name)
    except FitError as e:
        return {"error": str(e), "x": list(map(float, x)), "y": list(map(float, y))}
    return f.to_dict() | {"x_points": f.x.tolist(), "y_points": f.y.tolist()}


def family_fits(info: dict, *, width: int | None = None, n_boot: int = 1000, seed: int = 0) -> dict:
    """``{"L(N)", "L(D)", "L(S)", "L(D) by width", "units", "definition"}`` from a family's ``family.json``.

    Losses in bits per byte. A fit that cannot be made (too few distinct x) is ``{"error": ...}``.
    """
    check_int(n_boot, "n_boot", 0)
    check_seed(seed)
    ws = {w["d_model"]: w for w in info["widths"]}
    width = max(ws) if width is None else width
    require(width in ws, "width", width, f"one of the family's widths {sorted(ws)}")
    warm = info["config"]["warmup"]
    ln2 = math.log(2)
    xN = [w["n_non_embedding"] for w in info["widths"] for _ in w["final_loss"]]
    yN = [v / ln2 for w in info["widths"] for v in w["final_loss"]]

    def curve_points(w: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
        keep = [i for i, s in enumerate(w["steps"]) if s >= warm]
        x = [w[key][i] for _ in w["curve"] for i in keep]
        y = [c[i] / ln2 for c in w["curve"] for i in keep]
        return np.asarray(x, float), np.asarray(y, float)

    out = {"units": "loss in bits per byte; N non-embedding parameters; D training tokens (bytes); S steps",
           "definition": "L = a * x^-g + c, least squares on log L, 95% percentile bootstrap over points",
           "width": width,
           "L(N)": _fit(xN, yN, "L(N)", n_boot, seed),
           "L(D)": _fit(*curve_points(ws[width], "tokens"), "L(D)", n_boot, seed),
           "L(S)": _fit(*curve_points(ws[width], "steps"), "L(S)", n_boot, seed)}
    out["L(D) by width"] = {str(d): _fit(*curve_points(w, "tokens"), f"L(D) d_model={d}", min(n_boot, 200), seed)
                            for d, w in sorted(ws.items())}
    return out
