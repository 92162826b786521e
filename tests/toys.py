"""A task and an architecture defined in test code alone (no edit under ``src/``): what a user
adding their own would write. Used by the unit tests of the registries and by
``tests/integration/test_extension_contract.py``, which trains, stores, reports and analyzes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from grokscope.errors import ConfigError
from grokscope.models import Anatomy, EnsembleBase, ModelCost, ParamSpec, ReferenceBase, WeightView, param_count, record
from grokscope.seeding import generator
from grokscope.tasks import TaskBase
from grokscope.tasks._base import set_frozen


# -- a task with real-valued features and groups ---------------------------------------------------
@dataclass(frozen=True)
class Blobs(TaskBase):
    """Three Gaussian blobs in ``d`` dimensions; each class is a group."""

    n_per_class: int = 20
    d: int = 4
    seed: int = 0

    def __post_init__(self):
        g = generator(self.seed)
        centers = 3.0 * torch.randn(3, self.d, generator=g)  # [3, d]
        labels = torch.arange(3).repeat_interleave(self.n_per_class)  # [n_all]
        x = centers[labels] + torch.randn(len(labels), self.d, generator=g)  # [n_all, d] float32
        set_frozen(self, inputs=x, labels=labels, vocab_size=0, n_classes=3, n_ctx=0, name="blobs",
                   fourier_p=None, train_pool=None, test_pool=None, input_kind="features", d_in=self.d,
                   groups={f"class{c}": torch.nonzero(labels == c).reshape(-1) for c in range(3)})

    def describe(self) -> str:
        return f"three Gaussian blobs in {self.d} dimensions, {self.n_all} points"


# -- an architecture on features -------------------------------------------------------------------
@dataclass(frozen=True)
class ToyConfig:
    d_in: int = 4
    n_classes: int = 3
    d_hidden: int = 5


def toy_specs(cfg: ToyConfig) -> list[ParamSpec]:
    return [ParamSpec("mlp.W_in", (cfg.d_in, cfg.d_hidden), std=1 / math.sqrt(cfg.d_in)), ParamSpec("mlp.b_in", (cfg.d_hidden,)),
            ParamSpec("unembed.W_U", (cfg.d_hidden, cfg.n_classes), std=1 / math.sqrt(cfg.d_hidden))]


class Toy(ReferenceBase):
    """logits = relu(x @ W_in + b_in) @ W_U on real-valued rows x [batch, d_in]."""

    input_kind = "features"
    param_specs = staticmethod(toy_specs)

    def _forward(self, x, cache):
        pre = record(cache, "mlp.hook_pre", x @ self.mlp.W_in + self.mlp.b_in)
        post = record(cache, "mlp.hook_post", torch.relu(pre))
        return record(cache, "hook_logits", post @ self.unembed.W_U)


class ToyEnsemble(EnsembleBase):
    reference_cls = Toy
    input_kind = "features"

    def _forward(self, x, cache):
        pre = record(cache, "mlp.hook_pre", torch.matmul(x, self.mlp.W_in) + self.mlp.b_in[:, None])  # [model, batch, d_hidden]
        post = record(cache, "mlp.hook_post", torch.relu(pre))
        return record(cache, "hook_logits", torch.matmul(post, self.unembed.W_U))  # [model, batch, n_classes]

    def anatomy(self, state=None):
        state = self.state_dict() if state is None else state
        w_in, w_u = state["mlp.W_in"].detach(), state["unembed.W_U"].detach()
        return Anatomy(arch="toy_relu", input_kind="features", d_hidden=self.cfg.d_hidden, embedding=None,
                       neuron_in=w_in, neuron_out=w_u, views=(WeightView("W_in", w_in, "feature", "hidden unit"),),
                       hook_names=("mlp.hook_post", "mlp.hook_pre"))

    @classmethod
    def cost(cls, cfg):
        return ModelCost(param_count(toy_specs(cfg)), max(cfg.d_hidden, cfg.n_classes), 2 * cfg.d_hidden + cfg.n_classes)


def toy_sizes(task) -> dict[str, int]:
    if getattr(task, "input_kind", "tokens") != "features":  # pragma: no cover - model_config checks the kind first
        raise ConfigError(f"model.arch='toy_relu' with task {task.name}: needs features")
    return {"d_in": task.d_in, "n_classes": task.n_classes}
