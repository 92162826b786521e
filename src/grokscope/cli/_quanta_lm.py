"""``grokscope quanta lm-train|lm-tokens|lm-qdg``: a family of byte-level LMs on the stdlib's source.

    grokscope quanta lm-train OUT [--widths 16,32,48,64,96] [--members 2] [--steps 1000] [--json] [--fig FIG.png]
    grokscope quanta lm-tokens OUT [--min-drop-bits 1] [--share 0.7] [--examples 8] [--json] [--fig FIG.png]
    grokscope quanta lm-qdg OUT [--width W] [--samples 1500] [--clusters 10,20,50] [--json] [--fig FIG.png]

``lm-train`` trains the family and writes ``OUT/family.json``, ``OUT/tokens.npz``, ``OUT/lm_d*.pt``
and ``OUT/fits.json`` (L(N), L(D), L(S)); ``lm-tokens`` labels every scored held-out token's
scaling curve monogenic, polygenic or flat (``OUT/tokens.json``); ``lm-qdg`` clusters the largest
model's low-loss tokens by their gradients (``OUT/qdg.json``). Plain functions, registered in
``cli/quanta.py``; the science lives in ``grokscope.quanta``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from grokscope.cli._common import param_names, repeated_ints
from grokscope.validate import check_choice, check_int, check_number, require

TOKENIZERS = ("bytes",)


def _ints(values: list[str], key: str) -> tuple[int, ...]:
    """Positive integers of a repeatable option (``cli._common.repeated_ints``)."""
    out = repeated_ints(values, key)
    for n in out:
        require(n > 0, key, n, "positive integers")
    return tuple(out)


def _est(e: dict) -> str:
    v, lo, hi = e.get("value"), e.get("lo"), e.get("hi")
    if v is None:
        return "-"
    return f"{v:.4g}" + (f" [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else "")


def _fit_line(name: str, f: dict) -> str:
    if "error" in f:
        return f"{name}: no fit ({f['error']})"
    p = f["params"]
    lo, hi = f["x_range"]
    return (f"{name} = a·x^-g + c: g = {_est(p['g'])}, c = {_est(p['c'])} bits, a = {_est(p['a'])} "
            f"({f['n_points']} points, x from {lo:.4g} to {hi:.4g})")


def lm_train(
    out: Path = typer.Argument(..., help="Directory for the family (family.json, tokens.npz, lm_d*.pt, fits.json)."),
    widths: list[str] = typer.Option(["16,32,48,64,96"], "--widths", help="d_model of each size (multiples of 16)."),
    members: int = typer.Option(2, "--members", help="Seeds per width (one ensemble each)."),
    steps: int = typer.Option(1000, "--steps", help="Training steps of every width."),
    batch: int = typer.Option(32, "--batch", help="Windows per step."),
    n_ctx: int = typer.Option(64, "--n-ctx", help="Context length (bytes)."),
    n_layers: int = typer.Option(2, "--n-layers", help="Transformer blocks."),
    lr: float = typer.Option(3e-3, "--lr", help="AdamW learning rate after warmup (constant)."),
    eval_windows: int = typer.Option(1024, "--eval-windows", help="Held-out windows scored at the end."),
    curve_windows: int = typer.Option(128, "--curve-windows", help="Of those, scored at every evaluation point."),
    held_out_frac: float = typer.Option(0.1, "--held-out-frac", help="Fraction of files held out (by path hash)."),
    tokenizer: str = typer.Option("bytes", "--tokenizer", help="Tokenizer (bytes: vocabulary 256)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the inits, the batches and the evaluation windows."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the scaling-law fits."),
    as_json: bool = typer.Option(False, "--json", help="Print family.json and the fits as one JSON object."),
    fig: Path | None = typer.Option(None, "--fig", help="Write the L(N), L(D) figure here (PNG)."),
) -> None:
    """Train a family of byte-level transformer LMs on the Python stdlib's source; fit L(N), L(D), L(S)."""
    from grokscope.quanta._lm_scaling import family_fits
    from grokscope.quanta._lm_train import FamilyConfig, train_family

    check_choice(tokenizer, "--tokenizer", TOKENIZERS)
    check_int(n_boot, "--n-boot", 0)
    cfg = FamilyConfig(widths=_ints(widths, "--widths"), members=members, steps=steps, batch=batch, n_ctx=n_ctx,
                       n_layers=n_layers, lr=lr, eval_windows=eval_windows, curve_windows=min(curve_windows, eval_windows),
                       held_out_frac=held_out_frac, seed=seed)
    family = train_family(cfg, out, log=lambda s: typer.echo(s, err=True))
    fits = family_fits(family, n_boot=n_boot, seed=seed)
    (Path(out) / "fits.json").write_text(json.dumps(fits, indent=1))
    if fig is not None:
        from grokscope.quanta._lm_figures import family_figure

        fig.parent.mkdir(parents=True, exist_ok=True)
        family_figure(family, fits).savefig(fig, dpi=150)
    if as_json:
        typer.echo(json.dumps({"family": family, "fits": fits}))
        return
    c = family["corpus"]
    typer.echo(f"corpus: Python {c['python_version']} stdlib, {c['n_files']} files, {c['n_bytes']:,} bytes "
               f"(list sha256 {c['list_sha256'][:16]}, content sha256 {c['content_sha256'][:16]}); "
               f"train {c['n_train_files']} files / {c['n_train_tokens']:,} tokens, held out {c['n_held_out_files']} "
               f"files / {c['n_held_out_tokens']:,} tokens")
    typer.echo(f"{'d_model':>7} {'N (non-emb)':>11} {'params':>8} {'held-out bits/byte per member':>32} {'seconds':>8}")
    for w in family["widths"]:
        ls = ", ".join(f"{v / math.log(2):.4f}" for v in w["final_loss"])
        typer.echo(f"{w['d_model']:>7} {w['n_non_embedding']:>11,} {w['n_params']:>8,} {ls:>32} {w['seconds']:>8.1f}")
    s = family["seconds"]
    typer.echo(f"trained {len(family['widths'])} widths x {cfg.members} members, {cfg.steps} steps of "
               f"{cfg.batch * cfg.n_ctx:,} tokens, in {s['train_s']:.1f} s (total {s['total_s']:.1f} s)")
    typer.echo(_fit_line("L(N)", fits["L(N)"]))
    typer.echo(_fit_line(f"L(D) d_model={fits['width']}", fits["L(D)"]))
    typer.echo(_fit_line(f"L(S) d_model={fits['width']}", fits["L(S)"]))
    typer.echo(f"wrote {out}/family.json, tokens.npz, fits.json, lm_d*.pt")


def lm_tokens(
    family: Path = typer.Argument(..., help="A directory written by `grokscope quanta lm-train`."),
    min_drop_bits: float = typer.Option(1.0, "--min-drop-bits", help="A token scales if L_smallest - L_largest >= this."),
    share: float = typer.Option(0.7, "--share", help="Monogenic if the largest step holds >= this share of the descent."),
    examples: int = typer.Option(8, "--examples", help="Examples of each label."),
    context: int = typer.Option(40, "--context", help="Bytes of context printed before each token."),
    seed: int = typer.Option(0, "--seed", help="Seed of the example draw."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and examples as JSON."),
    fig: Path | None = typer.Option(None, "--fig", help="Write example curves of both labels here (PNG)."),
) -> None:
    """Per-token loss against model size: monogenic (one sharp drop) or polygenic (gradual) curves."""
    from grokscope.quanta._lm_tokens import token_curves
    from grokscope.quanta._lm_train import load_family

    check_number(min_drop_bits, "--min-drop-bits", 0.0, lo_open=True)
    check_number(share, "--share", 0.0, 1.0, lo_open=True)
    check_int(examples, "--examples", 0)
    check_int(context, "--context", 1)
    fam = load_family(family)
    tc = token_curves(fam, min_drop=min_drop_bits, share=share, n_examples=examples, n_context=context, seed=seed)
    d = tc.to_dict()
    (Path(family) / "tokens.json").write_text(json.dumps(d, indent=1, ensure_ascii=False))
    if fig is not None:
        from grokscope.quanta._lm_figures import token_curves_figure

        fig.parent.mkdir(parents=True, exist_ok=True)
        token_curves_figure(tc).savefig(fig, dpi=150)
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False))
        return
    typer.echo(tc.definition)
    typer.echo("mean loss by width: " + ", ".join(f"d={w} (N={n:,}): {v:.3f}" for w, n, v in
                                               zip(tc.widths, tc.n_non_embedding, tc.mean_curve_bits)) + " bits/byte")
    f, fs = tc.fractions, tc.fractions_of_scaling
    typer.echo(f"{tc.n_tokens:,} tokens: monogenic {f['monogenic']:.3f}, polygenic {f['polygenic']:.3f}, flat "
               f"{f['flat']:.3f}; of the scaling tokens: monogenic {fs['monogenic']:.3f}, polygenic {fs['polygenic']:.3f}")
    steps = ", ".join(f"{a}->{b}: {n}" for a, b, n in zip(tc.widths, tc.widths[1:], tc.drop_step_counts))
    typer.echo(f"monogenic tokens by the step holding their drop: {steps}")
    if tc.member_agreement is not None:
        typer.echo(f"labels from member 0's and member 1's curves agree on {tc.member_agreement:.3f} of tokens")
    for lab, exs in tc.examples.items():
        kind = "random draws" if lab in ("monogenic", "polygenic") else "the clearest"
        typer.echo(f"{lab} ({kind}; context⟦token⟧: loss in bits by width):")
        for e in exs:
            typer.echo(f"  {e['text']!r}: {' '.join(f'{v:.2f}' for v in e['curve_bits'])}")
    typer.echo(f"wrote {family}/tokens.json")


def lm_qdg(
    family: Path = typer.Argument(..., help="A directory written by `grokscope quanta lm-train`."),
    width: int | None = typer.Option(None, "--width", help="d_model to analyse (default: the largest)."),
    member: int = typer.Option(0, "--member", help="Ensemble member."),
    samples: int = typer.Option(1500, "--samples", help="Tokens to cluster (memory: samples x parameters x 4 bytes)."),
    clusters: list[str] = typer.Option(["10,20,50"], "--clusters", help="Numbers of clusters (repeat or comma-separate)."),
    max_loss_bits: float = typer.Option(0.1, "--max-loss-bits", help="Cluster tokens whose loss is below this (bits)."),
    params: list[str] | None = typer.Option(None, "--params", help="Parameter names or dotted prefixes (default: all)."),
    k_examples: int | None = typer.Option(None, "--k-examples", help="The k whose largest clusters are shown."),
    shown: int = typer.Option(8, "--shown", help="Largest clusters shown."),
    examples: int = typer.Option(5, "--examples", help="Examples per cluster shown."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws, the clustering and the bootstrap."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the rank-frequency exponent."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and examples as JSON."),
    fig: Path | None = typer.Option(None, "--fig", help="Write the rank-frequency figure here (PNG)."),
) -> None:
    """QDG on the largest LM's low-loss held-out tokens: clusters with examples, rank-frequency slope."""
    from grokscope.quanta import QDGConfig
    from grokscope.quanta._lm_qdg import lm_qdg as run_lm_qdg
    from grokscope.quanta._lm_train import load_family

    check_number(max_loss_bits, "--max-loss-bits", 0.0, lo_open=True)
    check_int(samples, "--samples", 1)
    names = param_names(params)
    cfg = QDGConfig(samples=samples, clusters=_ints(clusters, "--clusters"), params=names,
                    max_loss=max_loss_bits * math.log(2), seed=seed, n_boot=n_boot)
    fam = load_family(family)
    r = run_lm_qdg(fam, cfg, width=width, member=member, k_examples=k_examples, n_clusters_shown=shown,
                   n_examples=examples)
    d = r.to_dict()
    (Path(family) / "qdg.json").write_text(json.dumps(d, ensure_ascii=False))
    if fig is not None:
        from grokscope.quanta import rank_frequency_figure

        fig.parent.mkdir(parents=True, exist_ok=True)
        rank_frequency_figure(r.result).savefig(fig, dpi=150)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in d.items() if k not in ("qdg", "positions")}, ensure_ascii=False))
        return
    res, s = r.result, r.result.seconds
    typer.echo(f"QDG of {res.source}: {res.n_samples} tokens (of {res.n_candidates} below {max_loss_bits:g} bits), "
               f"{res.n_params:,} parameters, mean cosine {res.mean_cosine:.3f}; {s['total_s']:.1f} s "
               f"(gradients {s['gradients_s']:.1f} s, similarity {s['similarity_s']:.1f} s, embedding {s['embedding_s']:.1f} s)")
    for c in res.clusters:
        e = c.rank_frequency.exponent
        ci = f"[{-e.hi:.2f}, {-e.lo:.2f}]" if math.isfinite(e.lo) else "-"
        typer.echo(f"k = {c.k}: rank-frequency slope {c.rank_frequency.slope:.2f} {ci} (95% bootstrap over samples); "
                   f"largest {', '.join(map(str, c.rank_frequency.sizes[:8]))}")
    typer.echo(f"largest clusters of k = {r.k_examples} (context⟦token⟧):")
    for c in r.examples:
        typer.echo(f"  cluster {c['cluster']} ({c['size']} tokens):")
        for e in c["examples"]:
            typer.echo(f"    {e['text']!r}")
    typer.echo(f"wrote {family}/qdg.json" + (f", {fig}" if fig is not None else ""))
