"""The Li2 Adam trainers share one set of argument checks (``li2._adam._check_settings``): the same bad
setting is the same one-line ConfigError from ``train_ridge_adam`` and ``train_ridge_adam_ensemble``,
raised before any training."""

from __future__ import annotations

import pytest

from grokscope.errors import ConfigError
from grokscope.groups import cyclic
from grokscope.li2 import Member, train_ridge_adam, train_ridge_adam_ensemble


@pytest.mark.parametrize(("kw", "message"), [
    ({"act": "tanh"}, "act='tanh': must be one of x2, relu, silu"),
    ({"eta": -1.0}, "eta=-1.0: must be a finite number >= 0"),
    ({"eta": float("nan")}, "eta=nan: must be a finite number >= 0"),
    ({"lr": 0.0}, "lr=0.0: must be a finite number > 0"),
    ({"weight_decay": -1e-4}, "weight_decay=-0.0001: must be a finite number >= 0"),
    ({"steps": -1}, "steps=-1: must be an integer >= 0"),
    ({"steps": 1.5}, "steps=1.5: must be an integer >= 0"),
    ({"eval_every": 0}, "eval_every=0: must be an integer >= 1"),
    ({"hidden": 0}, "hidden=0: must be an integer >= 1"),
])
def test_both_trainers_reject_a_bad_setting_with_the_same_line(kw, message):
    g = cyclic(5)
    with pytest.raises(ConfigError) as alone:
        train_ridge_adam(g, **kw)
    with pytest.raises(ConfigError) as batched:
        train_ridge_adam_ensemble(g, [Member(0.5, 0)], **kw)
    assert str(alone.value) == str(batched.value) == message
