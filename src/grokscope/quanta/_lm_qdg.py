"""Quanta discovery from gradients on the low-loss held-out tokens of a trained LM family's largest model.

Michaud et al. 2023 (§5) cluster 10,000 tokens that Pythia-70m predicts with low loss by their
loss gradients; here the same pipeline (``grokscope.quanta.qdg``, unchanged) runs on one member
of the largest width of a family stored by ``train_family``:

1. **Candidates**: the family's scored held-out tokens whose stored loss (context of n_ctx/2 to
   n_ctx - 1 bytes) is below ``max_loss``; at most ``pool`` of them, drawn from ``seed``.
2. **Samples**: each candidate becomes one sample: the ``n_ctx`` bytes before it as input and
   the byte itself as label, predicted by ``grokscope.models.Transformer`` holding the member's
   weights (the LM's logits at the last position of the window). QDG recomputes these losses
   (the context is now the full ``n_ctx``), keeps those below ``max_loss`` and draws ``samples``.
3. QDG's gradients, cosine similarities, spectral clustering and rank-frequency law, as for any
   model; then, for one ``k`` of the sweep, examples of the largest clusters with their context.

Memory: the gradient matrix is ``samples x P`` float32 (1,500 samples of the default family's
largest model, 278k parameters: 1.7 GB); ``params`` restricts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.models import Transformer
from grokscope.quanta._lm import lm_config
from grokscope.quanta._lm_tokens import context_of, held_out_corpus
from grokscope.quanta._qdg import QDGConfig, QDGResult, qdg
from grokscope.validate import check_int, require

__all__ = ["LMQDG", "lm_qdg"]


@dataclass
class LMQDG:
    """QDG of one LM: the QDG result, the clustered tokens' positions, the largest clusters' examples."""

    width: int
    member: int
    k_examples: int  # the k whose clusters are shown
    positions: list[int]  # [n_samples] held-out stream index of each clustered token
    examples: list[dict]  # largest clusters first: {cluster, size, examples: [{text, ...}]}
    result: QDGResult = field(repr=False)

    def to_dict(self) -> dict:
        return jsonable({"width": self.width, "member": self.member, "k_examples": self.k_examples,
                         "summary": self.result.summary(), "definition": self.result.definition,
                         "examples": self.examples, "positions": self.positions, "qdg": self.result.to_dict()})


def lm_qdg(family, cfg: QDGConfig | None = None, *, width: int | None = None,
           member: int = 0, pool: int | None = None, k_examples: int | None = None, n_clusters_shown: int = 8,
           n_examples: int = 5, n_context: int = 40, corpus=None) -> LMQDG:
    """QDG on the low-loss tokens of ``width`` (default: the largest) member ``member`` of a stored family.

    ``pool``: candidates handed to QDG (default ``2 x samples``; each costs one window's forward pass).
    ``k_examples``: the ``k`` whose largest ``n_clusters_shown`` clusters get ``n_examples`` examples
    each (default: the sweep's median ``k``). ``cfg`` defaults to 1,500 samples and k = 10, 20, 50.
    """
    cfg = cfg or QDGConfig(samples=1500, clusters=(10, 20, 50))
    fcfg = family.cfg
    width = fcfg.widths[-1] if width is None else check_int(width, "width", 1)
    require(width in fcfg.widths, "width", width, f"one of the family's widths {list(fcfg.widths)}")
    check_int(member, "member", 0, fcfg.members - 1)
    pool = 2 * cfg.samples if pool is None else check_int(pool, "pool", 1)
    k_examples = cfg.clusters[len(cfg.clusters) // 2] if k_examples is None else k_examples
    require(k_examples in cfg.clusters, "k_examples", k_examples, f"one of the sweep's clusters {list(cfg.clusters)}")
    check_int(n_clusters_shown, "n_clusters_shown", 0)
    check_int(n_examples, "n_examples", 0)
    wi = fcfg.widths.index(width)
    T, H = fcfg.n_ctx, fcfg.n_ctx // 2
    losses = family.losses[wi, member].reshape(-1)  # [window * H] nats
    positions = (family.starts[:, None] + H + 1 + np.arange(H)[None, :]).reshape(-1)
    limit = math.inf if cfg.max_loss is None else cfg.max_loss
    cand = np.flatnonzero(losses < limit)
    if cand.size < cfg.clusters[-1]:
        raise AnalysisError(f"{cand.size} of {losses.size} held-out tokens have a stored loss below {limit:.4g} nats "
                            f"for width {width}: too few for {cfg.clusters[-1]} clusters; raise max_loss or ask for fewer")
    rng = np.random.default_rng(cfg.seed)
    cand = np.sort(rng.choice(cand, size=min(pool, cand.size), replace=False))
    p = torch.as_tensor(positions[cand], dtype=torch.long)
    corpus = corpus or held_out_corpus(family)
    stream = corpus.held_out
    inputs = stream[p[:, None] - T + torch.arange(T)].long()  # [n, T]: the n_ctx bytes before each token
    labels = stream[p].long()
    ens = family.ensemble(width)
    model = Transformer(lm_config(width, fcfg.n_layers, T))
    model.load_state_dict(ens.member(member).state_dict())
    res = qdg(model, inputs, labels, cfg, loss="ce",
              source=f"LM d_model={width} (N={family.info['widths'][wi]['n_non_embedding']:,}), member {member}")
    pos = p[torch.as_tensor(res.rows)].tolist()
    lab = np.asarray(next(c.labels for c in res.clusters if c.k == k_examples))
    sizes = np.bincount(lab, minlength=k_examples)
    ex_rng = np.random.default_rng(cfg.seed)
    examples = []
    for c in np.argsort(-sizes, kind="stable")[:n_clusters_shown]:
        members = np.flatnonzero(lab == c)
        pick = np.sort(ex_rng.choice(members, size=min(n_examples, members.size), replace=False))
        examples.append({"cluster": int(c), "size": int(sizes[c]),
                         "examples": [context_of(stream, pos[i], n_context) | {"loss_bits": res.losses[i] / math.log(2)}
                                      for i in pick]})
    return LMQDG(width, member, k_examples, pos, examples, res)
