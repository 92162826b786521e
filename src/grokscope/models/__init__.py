"""Models: a plain reference ``nn.Module`` for one model, and a batched ensemble per architecture.

Every ensemble parameter has a leading ``model`` axis and the reference's name (TransformerLens
style: ``embed.W_E``, ``blocks.0.attn.W_Q``, ``blocks.0.mlp.W_in``, ``unembed.W_U``...).
``ens.init_(member_seeds, scale)`` makes member *i* identical to ``Ref(cfg).init_(member_seeds[i],
scale[i])``; ``ens.member(i)`` / ``Ens.from_members([...])`` convert both ways;
``run_with_cache(tokens)`` returns ``(logits, {activation name: tensor})`` on both.
``ens.anatomy(state)`` says what analyses need (embedding, each hidden neuron's input and output map,
the weights to draw, the activations to cache) and ``Ens.cost(cfg)`` how big a member is, so no code
outside ``models/`` reads parameter names. Architectures are registered by name
(``register_architecture``); a run config picks one with ``model.arch``.

>>> import torch
>>> from grokscope.models import PairMLPConfig, PairMLPEnsemble
>>> ens = PairMLPEnsemble(PairMLPConfig(p=7), n_models=4).init_([0, 1, 2, 3], scale=1.0)
>>> logits = ens(torch.tensor([[1, 2], [3, 4]]))    # inputs shared by all members
>>> tuple(logits.shape)                             # [model, batch, n_classes]
(4, 2, 7)
"""

from ._anatomy import Anatomy, ModelCost, WeightView, param_count
from ._build import ARCHS, build_model, model_config
from ._common import ACTIVATIONS, EnsembleBase, ParamSpec, ReferenceBase, draw_init, record
from ._registry import Architecture, architectures, get_architecture, register_architecture, unregister_architecture
from ._mlp import MLP, MLPConfig, MLPEnsemble
from ._feature_mlp import FeatureMLP, FeatureMLPConfig, FeatureMLPEnsemble
from ._li2 import Li2, Li2Config, Li2Ensemble
from ._pair_mlp import PairMLP, PairMLPConfig, PairMLPEnsemble
from ._transformer import Transformer, TransformerConfig, TransformerEnsemble

__all__ = [
    # one model, plain code
    "PairMLP",
    "Transformer",
    "MLP",
    "FeatureMLP",
    "Li2",
    # n models with a leading `model` axis, batched
    "PairMLPEnsemble",
    "TransformerEnsemble",
    "MLPEnsemble",
    "FeatureMLPEnsemble",
    "Li2Ensemble",
    # hyperparameters
    "PairMLPConfig",
    "TransformerConfig",
    "MLPConfig",
    "FeatureMLPConfig",
    "Li2Config",
    # from a run config
    "build_model",
    "model_config",
    "ARCHS",
    # the registry: model.arch -> architecture (add one with register_architecture)
    "Architecture",
    "register_architecture",
    "unregister_architecture",
    "architectures",
    "get_architecture",
    # what a model tells analyses (ens.anatomy(state)) and sweeps (Ens.cost(cfg))
    "Anatomy",
    "WeightView",
    "ModelCost",
    "param_count",
    # shared machinery
    "ACTIVATIONS",
    "ParamSpec",
    "draw_init",
    "record",
    "EnsembleBase",
    "ReferenceBase",
]
