"""Dropout, shared by every architecture: rates, explicit generators, inverted masks.

Dropout (``model.dropout``: one rate, or one per member; 0 = off) is inverted dropout (Srivastava
et al. 2014, "Dropout: a simple way to prevent neural networks from overfitting", one of the
regularizers PAIR 2023 names): a unit is zeroed with probability ``rate`` and the kept ones are
scaled by ``1/(1 - rate)``, so its expectation is unchanged. It acts **only inside**
``with model.train_dropout(gens):`` (the trainer's update forward pass), never in evaluation, and
its masks come from explicit generators: one per member (a reference: one), each mask a float32
uniform draw of the site's full shape, so member *i* draws what a reference with member *i*'s
generator draws. A member whose rate is 0 draws nothing.

>>> import torch
>>> from grokscope.models import PairMLPConfig, PairMLPEnsemble
>>> ens = PairMLPEnsemble(PairMLPConfig(p=5, d_embed=4, d_hidden=3, dropout=[0.0, 0.5]), n_models=2).init_([1, 2])
>>> x = torch.tensor([[1, 2], [3, 4]])
>>> with ens.train_dropout([torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]):
...     noisy = ens(x)
>>> bool((noisy[0] == ens(x)[0]).all()), bool((ens(x) == ens(x)).all())   # rate 0: untouched; eval: deterministic
(True, True)
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import shown

__all__ = ["check_dropout", "dropout_mask"]


def check_dropout(value: object, key: str = "model.dropout") -> float | tuple[float, ...]:
    """A dropout rate in ``[0, 1)`` (a float), or a list of them, one per member (a tuple).

    >>> check_dropout(0.1), check_dropout([0.0, 0.5])
    (0.1, (0.0, 0.5))
    """
    allowed = "a number in [0, 1) or a list of them (one per member)"
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= float(v) < 1.0:  # NaN fails too
            raise ConfigError(f"{key}={shown(value)}: must be {allowed}")
    if not values:
        raise ConfigError(f"{key}=[]: must be {allowed}")
    return tuple(float(v) for v in values) if isinstance(value, (list, tuple)) else float(value)


def dropout_mask(shape: Sequence[int], rate: float, gen: torch.Generator, dtype: torch.dtype, device) -> Tensor:
    """Inverted dropout's multiplier for one model: 0 with probability ``rate``, else ``1/(1 - rate)``.

    The draw is ``torch.rand(shape, generator=gen)`` (float32, on the CPU): a unit is kept where
    it is ``>= rate``. The same generator state gives the same mask in float32 and float64.

    >>> m = dropout_mask((1000,), 0.25, torch.Generator().manual_seed(0), torch.float64, "cpu")
    >>> sorted(set(m.tolist())) == [0.0, 1 / 0.75]
    True
    """
    keep = torch.rand(tuple(shape), generator=gen) >= rate
    return keep.to(device=device, dtype=dtype) / (1.0 - rate)


def _rates(cfg, n: int | None) -> list[float]:
    """The dropout rate of each of ``n`` members (a reference: ``n=None``, one rate) from ``cfg.dropout``."""
    rate = check_dropout(getattr(cfg, "dropout", 0.0))
    if n is None:
        if isinstance(rate, tuple):
            raise ConfigError(f"model.dropout={list(rate)}: a single model takes one rate")
        return [rate]
    if isinstance(rate, tuple):
        if len(rate) != n:
            raise ConfigError(f"model.dropout has {len(rate)} entries: must be one number or n_members={n}")
        return list(rate)
    return [rate] * n


class _Dropout:
    """Dropout plumbing shared by references and ensembles: rates, the generators' context, masking."""

    dropout_rates: list[float]
    _dropout_gens: list[torch.Generator] | None = None
    _model_axis = 0  # 1 for an ensemble, whose activations carry the leading model axis

    @property
    def has_dropout(self) -> bool:
        """Whether any member's rate is above 0 (the trainer then makes dropout generators)."""
        return any(r > 0 for r in self.dropout_rates)

    @contextlib.contextmanager
    def train_dropout(self, gens: Sequence[torch.Generator] | torch.Generator | None):
        """Inside this block forward passes apply dropout with masks from ``gens`` (one generator per
        member; a reference takes one); ``None`` (or every rate 0) leaves them deterministic."""
        if isinstance(gens, torch.Generator):
            gens = [gens]
        if gens is not None and len(gens) != len(self.dropout_rates):
            raise ValueError(f"train_dropout: {len(gens)} generators for {len(self.dropout_rates)} members")
        self._dropout_gens = None if gens is None or not self.has_dropout else list(gens)
        try:
            yield self
        finally:
            self._dropout_gens = None

    def _drop(self, x: Tensor, full: tuple[int, ...] | None = None) -> Tensor:
        """``x`` after dropout (unchanged outside ``train_dropout``). ``x`` is one model's activation,
        or ``[model, ...]`` for an ensemble; each mask is drawn in ``full`` (one model's whole site,
        e.g. every position) and its last ``x.shape[-2]`` rows along the position axis are used."""
        gens = self._dropout_gens
        if gens is None:
            return x
        lead = self._model_axis
        shape = tuple(full) if full is not None else tuple(x.shape[lead:])
        masks = [dropout_mask(shape, r, g, x.dtype, x.device) if r > 0 else torch.ones(shape, dtype=x.dtype, device=x.device)
                 for r, g in zip(self.dropout_rates, gens)]
        mask = torch.stack(masks) if lead else masks[0]  # [model, *shape] or [*shape]
        if full is not None:
            mask = mask[..., mask.shape[-2] - x.shape[-2]:, :]  # the positions x holds (the last ones)
        return x * mask
