"""A real text corpus on every machine, nothing downloaded: the Python standard library's own source.

The files are the ``.py`` files under ``sysconfig.get_paths()["stdlib"]``, minus ``site-packages``
(third-party code, different on every machine) and minus test suites (any directory named
``test``, ``tests`` or ``idle_test``: CPython's ``Lib/test`` alone is most of the bytes, and a
model that learns its fixtures says little). On CPython 3.11.7 that is 734 files, 12.1 MB.
The standard library differs between Python versions (and patch releases), so every result
records ``python_version``, the number of files and bytes, and two hashes: of the list of
relative paths and of the contents.

- **Order**: files sorted by their POSIX relative path (``email/parser.py``), so the token
  stream is the same on every machine with the same stdlib.
- **Split by file**: a file is held out when the first 8 bytes of ``sha256(relative path)``,
  read as an integer, fall below ``held_out_frac · 2^64``. The split depends on the path alone:
  adding or removing a file moves no other file across it.
- **Tokens**: bytes (vocabulary 256, ids = byte values); each file's bytes are followed by one
  NUL byte (0, which Python source does not contain) marking the end of the file.

>>> c = Corpus.from_files({"a.py": b"x = 1\\n", "b.py": b"y\\n"}, held_out_frac=0.0)
>>> c.train.tolist(), c.held_out.numel()
([120, 32, 61, 32, 49, 10, 0, 121, 10, 0], 0)
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grokscope.validate import check_number

__all__ = ["EOF_TOKEN", "VOCAB", "Corpus", "decode", "held_out", "stdlib_files"]

VOCAB = 256  # byte-level: every byte value is a token
EOF_TOKEN = 0  # NUL ends each file
SKIP_DIRS = frozenset({"site-packages", "test", "tests", "idle_test"})


def stdlib_files(root: str | Path | None = None) -> dict[str, Path]:
    """``{relative POSIX path: path}`` of the corpus's files under ``root`` (default: this Python's stdlib)."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    out = {}
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]  # pruned: never walked
        for f in files:
            p = Path(here, f)
            if f.endswith(".py") and p.is_file():
                out[p.relative_to(root).as_posix()] = p
    return dict(sorted(out.items()))


def held_out(rel_path: str, frac: float) -> bool:
    """Whether the file at ``rel_path`` is held out: ``sha256(path)[:8] / 2^64 < frac``."""
    h = int.from_bytes(hashlib.sha256(rel_path.encode()).digest()[:8], "big")
    return h < frac * 2**64


def decode(tokens) -> str:
    """Byte tokens as text (undecodable bytes replaced, NUL shown as ``␀``)."""
    b = bytes(int(t) for t in tokens)
    return b.decode("utf-8", errors="replace").replace("\0", "␀")


@dataclass
class Corpus:
    """The token streams of the two splits and what identifies the corpus."""

    train: torch.Tensor  # [n_train] uint8 byte tokens (1 byte each; .long() for a model), files in path order
    held_out: torch.Tensor  # [n_held_out]
    train_files: list[str]
    held_out_files: list[str]
    held_out_frac: float
    info: dict  # python_version, root, n_files, n_bytes, list_sha256, content_sha256, split counts

    @classmethod
    def from_files(cls, files: dict[str, bytes], *, held_out_frac: float = 0.1, root: str = "") -> Corpus:
        """The corpus of ``{relative path: contents}`` (any order; sorted here)."""
        frac = check_number(held_out_frac, "held_out_frac", 0.0, 1.0, hi_open=True)
        names = sorted(files)
        parts: dict[bool, list[bytes]] = {False: [], True: []}
        split: dict[bool, list[str]] = {False: [], True: []}
        content = hashlib.sha256()
        for name in names:
            data = files[name]
            content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
            h = held_out(name, frac)
            parts[h].append(data + bytes([EOF_TOKEN]))
            split[h].append(name)

        def stream(chunks: list[bytes]) -> torch.Tensor:
            buf = b"".join(chunks)
            return torch.from_numpy(np.frombuffer(buf, dtype=np.uint8).copy()) if buf else torch.zeros(0, dtype=torch.uint8)

        info = {
            "source": "Python standard library .py files (no site-packages, no test directories)",
            "python_version": sys.version.split()[0], "root": root, "n_files": len(names),
            "n_bytes": sum(len(files[n]) for n in names),
            "list_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest(),
            "content_sha256": content.hexdigest(), "held_out_frac": frac,
            "split_rule": "held out iff int(sha256(relative path)[:8]) < held_out_frac * 2^64",
            "tokenizer": "bytes (vocab 256); NUL (0) ends each file",
            "n_train_files": len(split[False]), "n_held_out_files": len(split[True]),
        }
        train, test = stream(parts[False]), stream(parts[True])
        info |= {"n_train_tokens": int(train.numel()), "n_held_out_tokens": int(test.numel())}
        return cls(train, test, split[False], split[True], frac, info)

    @classmethod
    def stdlib(cls, *, held_out_frac: float = 0.1, root: str | Path | None = None) -> Corpus:
        """The standard library's corpus (see the module docstring); the last two built are kept (read-only)."""
        frac = check_number(held_out_frac, "held_out_frac", 0.0, 1.0, hi_open=True)
        return _stdlib(frac, str(root or sysconfig.get_paths()["stdlib"]))


@functools.lru_cache(maxsize=2)
def _stdlib(frac: float, root: str) -> Corpus:
    """One process reads the 12 MB once (train, then analyses in the same process, reuse it)."""
    paths = stdlib_files(root)
    return Corpus.from_files({k: p.read_bytes() for k, p in paths.items()}, held_out_frac=frac, root=root)
