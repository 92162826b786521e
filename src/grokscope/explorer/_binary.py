"""The binary format the explorer sends arrays in: a small JSON header, then raw float32.

Layout of one message (all integers little-endian)::

    bytes 0..3    uint32  n = length of the JSON header in bytes
    bytes 4..4+n  UTF-8 JSON: {"meta": {...}, "arrays": [{"name", "shape", "offset"}, ...]}
    padding       spaces inside the header, so that the data starts at a multiple of 4
    data          each array as little-endian float32, C order, at its ``offset`` from the data start

The page reads each array as a ``Float32Array`` view on the response's ``ArrayBuffer`` (no
parsing, no copy); NaN stays NaN. Float32 holds every step count below 2**24 exactly and the
weights and losses to ~7 significant digits, which is all a figure shows; JSON numbers would be
~3x larger and slower to parse.

>>> blob = encode_arrays({"w": np.arange(6.0).reshape(2, 3)}, meta={"step": 10})
>>> meta, arrays = decode_arrays(blob)
>>> meta["step"], arrays["w"].shape, arrays["w"][1].tolist()
(10, (2, 3), [3.0, 4.0, 5.0])
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["CONTENT_TYPE", "decode_arrays", "encode_arrays"]

CONTENT_TYPE = "application/x-grokscope-arrays"


def encode_arrays(arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> bytes:
    """``{name: array}`` (any real dtype) and JSON-able ``meta`` -> one message (see the module docstring)."""
    parts, index, offset = [], [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
        index.append({"name": str(name), "shape": list(a.shape), "offset": offset})
        parts.append(a.tobytes())
        offset += a.nbytes
    header = json.dumps({"meta": dict(meta or {}), "arrays": index}, allow_nan=False).encode()
    header += b" " * (-(4 + len(header)) % 4)  # data starts 4-byte aligned: Float32Array needs it
    return struct.pack("<I", len(header)) + header + b"".join(parts)


def decode_arrays(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Inverse of :func:`encode_arrays` (the page does the same in ``app.js``)."""
    (n,) = struct.unpack_from("<I", blob, 0)
    head = json.loads(blob[4 : 4 + n])
    start = 4 + n
    out = {}
    for a in head["arrays"]:
        count = int(np.prod(a["shape"], dtype=np.int64))
        out[a["name"]] = np.frombuffer(blob, dtype="<f4", count=count, offset=start + a["offset"]).reshape(a["shape"])
    return head["meta"], out
