"""Per-token loss against model size, and which tokens' scaling curves are monogenic or polygenic.

Michaud et al. 2023 (§6, Pythia) look at the loss of single tokens across a family of model
sizes: some curves fall in one sharp step at one size (**monogenic**: one quantum decides the
token), others fall gradually (**polygenic**: many quanta each contribute a little). The paper
shows examples; here the label comes from a stated rule applied to every held-out token.

The rule (:func:`classify_curves`), on a token's loss ``L_1 .. L_K`` in bits over the K sizes in
increasing order (each the mean over that size's seeds):

- the drops between consecutive sizes ``d_j = L_j - L_(j+1)``; the net drop ``L_1 - L_K``;
- **flat** (not scaling) when the net drop is below ``min_drop`` (default 1 bit): already
  predicted by the smallest model, or by none;
- otherwise **monogenic** when the largest single drop is at least ``share`` (default 0.7) of
  the sum of the positive drops ``sum_j max(d_j, 0)`` (zig-zags count against a sharp label),
  else **polygenic**.

With the default family (widths 16..96, N growing by 2.2x to 4x per step) a curve that falls
linearly in log N puts at most 1/3 of its descent into one step, and a power law N^-0.5 that
falls by 5 bits puts 0.61 of it into the first step: both are polygenic. A steeper power law
(N^-1: 0.78 in the first step) is labelled monogenic: with five sizes it cannot be told from a
drop between the two smallest. With K = 2 sizes every scaling token is monogenic (there is one
step): the rule needs K >= 3 to say anything.

>>> import numpy as np
>>> classify_curves(np.array([[4.0, 4.0, 0.5, 0.4], [4.0, 3.0, 2.0, 1.0], [0.2, 0.2, 0.1, 0.1]])).tolist()
['monogenic', 'polygenic', 'flat']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.quanta._lm_corpus import Corpus, decode
from grokscope.validate import check_int, check_number, check_seed

__all__ = ["LABELS", "TokenCurves", "classify_curves", "context_of", "drop_shares", "held_out_corpus", "token_curves"]

LABELS = ("monogenic", "polygenic", "flat")
MIN_DROP_BITS = 1.0  # a token "scales" if the largest model beats the smallest by at least one bit
MONOGENIC_SHARE = 0.7  # above the first step's share of a falling power law N^-0.5 (0.61 for the default N)


def drop_shares(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(net drop [n], largest drop [n], its share of the positive drops [n])`` of curves ``[n, K]``."""
    curves = np.asarray(curves, dtype=np.float64)
    drops = curves[:, :-1] - curves[:, 1:]  # [n, K-1]
    pos = np.clip(drops, 0.0, None).sum(1)
    big = drops.max(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(pos > 0, big / pos, 0.0)
    return curves[:, 0] - curves[:, -1], big, share


def classify_curves(curves_bits, *, min_drop: float = MIN_DROP_BITS, share: float = MONOGENIC_SHARE) -> np.ndarray:
    """Each curve's label (``'monogenic'``, ``'polygenic'`` or ``'flat'``) by the module's rule; ``[n, K]`` bits, K >= 2."""
    min_drop = check_number(min_drop, "min_drop", 0.0, lo_open=True)
    share = check_number(share, "share", 0.0, 1.0, lo_open=True)
    c = np.asarray(curves_bits, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        from grokscope.errors import ConfigError

        raise ConfigError(f"curves of shape {c.shape}: must be [tokens, sizes] with at least 2 sizes")
    net, _, sh = drop_shares(c)
    out = np.full(c.shape[0], "flat", dtype=object)
    scaling = net >= min_drop
    out[scaling & (sh >= share)] = "monogenic"
    out[scaling & (sh < share)] = "polygenic"
    return out.astype(str)


def held_out_corpus(family) -> Corpus:
    """The corpus a stored family was trained on, rebuilt here; one ConfigError line if this stdlib differs."""
    from grokscope.errors import ConfigError

    info = family.info["corpus"]
    corpus = Corpus.stdlib(held_out_frac=info["held_out_frac"])
    if corpus.info["content_sha256"] != info["content_sha256"]:
        raise ConfigError(f"family={str(family.path)!r}: trained on Python {info['python_version']}'s stdlib "
                          f"(content sha256 {info['content_sha256'][:12]}), but this Python "
                          f"{corpus.info['python_version']} has {corpus.info['content_sha256'][:12]}; "
                          "analyse it with the Python that trained it")
    return corpus


def context_of(stream, p: int, n_context: int = 40) -> dict:
    """The token at ``stream[p]`` and the ``n_context`` bytes before it, as printable text."""
    lo = max(0, p - n_context)
    ctx = decode(stream[lo:p]).replace("\n", "⏎").replace("\t", "⇥")
    tok = decode(stream[p : p + 1]).replace("\n", "⏎").replace("\t", "⇥")
    return {"position": int(p), "context": ctx, "token": tok, "text": f"{ctx}⟦{tok}⟧"}


@dataclass
class TokenCurves:
    """Every scored held-out token's loss against size, the rule's labels, and examples."""

    definition: str
    widths: list[int]
    n_non_embedding: list[int]
    n_tokens: int
    mean_curve_bits: list[float]  # [K] mean loss of each size over the scored tokens
    fractions: dict[str, float]  # of all tokens: monogenic, polygenic, flat
    fractions_of_scaling: dict[str, float]  # of the scaling tokens (not flat): monogenic, polygenic
    drop_step_counts: list[int]  # [K-1] monogenic tokens by the step (size j -> j+1) holding their big drop
    member_agreement: float | None  # fraction of tokens that member 0's and member 1's curves label alike
    examples: dict[str, list[dict]]  # label (random draws), and the clearest cases -> [{text, curve_bits, share, position}]
    labels: np.ndarray = field(repr=False)  # [n_tokens] str
    curves_bits: np.ndarray = field(repr=False)  # [n_tokens, K]

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("labels", "curves_bits")}
        return jsonable(d)


def token_curves(family, *, min_drop: float = MIN_DROP_BITS, share: float = MONOGENIC_SHARE, n_examples: int = 8,
                 n_context: int = 40, seed: int = 0, corpus: Corpus | None = None) -> TokenCurves:
    """Per-token scaling curves of a stored family (``load_family``) with their labels and examples.

    ``corpus``: the held-out text for the examples' contexts (default: rebuilt and checked against
    the family's hash). Examples: ``n_examples`` tokens of each label drawn from ``seed``, and the
    clearest cases among the tokens the largest model predicts with less than 1 bit: the monogenic
    ones with the largest single drops, and the polygenic ones with the largest net drops among
    those whose curve never rises and puts at most 0.4 of its descent in one step.
    """
    check_int(n_examples, "n_examples", 0)
    check_int(n_context, "n_context", 1)
    check_seed(seed)
    cfg = family.cfg
    L = family.losses / math.log(2)  # [K, member, window, T/2] bits
    K, M, W, H = L.shape
    curves = L.mean(1).transpose(1, 2, 0).reshape(W * H, K)  # [token, K]; token = window * H + position
    labels = classify_curves(curves, min_drop=min_drop, share=share)
    sh = drop_shares(curves)[2]
    agree = None
    if M >= 2:
        l0 = classify_curves(L[:, 0].transpose(1, 2, 0).reshape(W * H, K), min_drop=min_drop, share=share)
        l1 = classify_curves(L[:, 1].transpose(1, 2, 0).reshape(W * H, K), min_drop=min_drop, share=share)
        agree = float((l0 == l1).mean())
    n = labels.size
    frac = {lab: float((labels == lab).mean()) for lab in LABELS}
    n_scaling = int((labels != "flat").sum())
    frac_s = {lab: float((labels == lab).sum() / n_scaling) if n_scaling else math.nan for lab in LABELS[:2]}
    mono = labels == "monogenic"
    where = np.argmax(curves[:, :-1] - curves[:, 1:], axis=1)
    step_counts = np.bincount(where[mono], minlength=K - 1).tolist()
    corpus = corpus or held_out_corpus(family)
    stream = corpus.held_out
    positions = family.starts[:, None] + cfg.n_ctx // 2 + 1 + np.arange(H)[None, :]  # [W, H] stream index of each target
    positions = positions.reshape(-1)
    rng = np.random.default_rng(seed)
    net, big, _ = drop_shares(curves)

    def show(ids) -> list[dict]:
        return [context_of(stream, int(positions[i]), n_context) | {
            "curve_bits": [round(float(v), 3) for v in curves[i]], "share": round(float(sh[i]), 3)} for i in ids]

    examples = {}
    for lab in LABELS[:2]:
        idx = np.flatnonzero(labels == lab)
        examples[lab] = show(np.sort(rng.choice(idx, size=min(n_examples, idx.size), replace=False)) if idx.size else idx)
    # the clearest cases, among curves that end below 1 bit (learned by the largest model): the largest
    # single drops; the largest descents that never rise and put at most 0.4 of themselves in one step
    learned = curves[:, -1] < 1.0
    mono, poly = np.flatnonzero((labels == "monogenic") & learned), np.flatnonzero((labels == "polygenic") & learned)
    examples["monogenic, largest drops"] = show(mono[np.argsort(-big[mono], kind="stable")[:n_examples]])
    steady = poly[(sh[poly] <= 0.4) & np.all(curves[poly, :-1] >= curves[poly, 1:], axis=1)]
    examples["polygenic, largest monotone descents"] = show(steady[np.argsort(-net[steady], kind="stable")[:n_examples]])
    definition = (f"per-token loss (bits) of each held-out scored token, mean over {M} seeds per size; flat if "
                  f"L_smallest - L_largest < {min_drop:g} bit; else monogenic if the largest drop between consecutive "
                  f"sizes is >= {share:g} of the sum of positive consecutive drops, else polygenic")
    return TokenCurves(
        definition=definition, widths=list(family.info["config"]["widths"]),
        n_non_embedding=[w["n_non_embedding"] for w in family.info["widths"]], n_tokens=n,
        mean_curve_bits=curves.mean(0).tolist(), fractions=frac, fractions_of_scaling=frac_s,
        drop_step_counts=step_counts, member_agreement=agree, examples=examples, labels=labels, curves_bits=curves)
