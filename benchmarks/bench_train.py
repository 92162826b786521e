"""Training throughput: batched ensembles + grokscope's AdamW vs a loop of nn.Modules + torch.optim.AdamW.

For three published setups and one compute-bound one, at ensemble sizes 1, 8, 64, 512, one full-batch training step is

  ensemble  one ``*Ensemble`` holding every member ([model, ...] parameters), the loss summed over
            members' mean losses, one backward, ``grokscope.train.adamw`` (per-member capable);
  loop      how research code trains many models: a Python loop over members, each a reference
            ``nn.Module`` with its own ``torch.optim.AdamW`` (torch's CPU default implementation).

Setups (full batch = the whole training split, a different random split per member):
  pair    PAIR 2023 MLP, a+b mod 67, 24 neurons (d_embed 32), half of the 67^2 pairs
          (the article does not state its split)
  pair-b64  the same MLP on a minibatch of 64 pairs per step
  nanda   Nanda et al. 2023 one-layer transformer, a+b mod 113, 30% of the 113^2 pairs
  parity  PAIR 2023 sparse parity MLP, 30 bits (parity of the first 3), width 128, 1000 samples
  mlp-wide  the same task on a 2-hidden-layer MLP of width 1024 (Barak et al. 2022 sweep parity
          MLPs to this width): compute-bound by construction, since almost all of its FLOPs are
          one 1000x1024x1024 matmul, so it shows what fraction of the peak a training step can
          keep once the work is matmuls; the three setups above are not compute-bound

It also measures, in the same run, the machine's fp32 matmul peak (2048^3 matmul), and reports
the fraction of that peak each method reaches: FLOPs per step = 3 x its forward matmul FLOPs
(torch.utils.flop_counter; backward ~ 2 x forward). The ensembles' fast paths (the transformer
computes only the last position's MLP, the PAIR MLP multiplies W_E·W_in once per token) do fewer
FLOPs than the reference modules, so each is charged what it actually computes; the speed ratio
compares model-steps/s, which is what a researcher waits for.

Finally the optimizer alone: grokscope ``adamw`` (its fused path, which the training steps use,
and its transform chain) against ``torch.optim.AdamW`` (default, foreach, fused) on the PAIR
MLP's stacked [model, ...] parameters.

    python benchmarks/bench_train.py            # < ~5 min on 2 cores
    python benchmarks/bench_train.py --quick    # smoke run, ~1 min

On a machine shared with other jobs, pass --threads 1: when torch's threads outnumber the free
cores, every op waits for descheduled threads and small steps slow down 10-50x (measured on a
2-core machine running 6 other jobs: 14 ms vs 0.27 ms per optimizer step).

The script re-executes itself with the malloc settings in benchmarks/_common.py (see MALLOC_ENV)
unless --no-malloc-tuning. Sizes that would exceed the time budget or half the free memory are
skipped with a note.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import matmul_peak_gflops, mem_available_bytes, print_table, time_steps, tune_malloc  # noqa: E402

from grokscope.models import (  # noqa: E402
    MLPConfig,
    MLPEnsemble,
    PairMLPConfig,
    PairMLPEnsemble,
    TransformerConfig,
    TransformerEnsemble,
)
from grokscope.train._optim import adamw  # noqa: E402

LR, WD = 1e-3, 1.0  # Nanda et al. 2023's AdamW settings; throughput does not depend on them


@dataclass
class Setup:
    name: str
    make_ensemble: Callable[[int], torch.nn.Module]
    make_data: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]  # [model, batch, ctx], [model, batch]


def _pairs_mod(p: int, eq_token: bool) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)  # [p^2, 2]
    y = (x[:, 0] + x[:, 1]) % p
    if eq_token:
        x = torch.cat([x, torch.full((p * p, 1), p)], dim=1)  # "a b =" with "=" the token p
    return x, y


def _member_splits(x: torch.Tensor, y: torch.Tensor, n_train: int, m: int, gen: torch.Generator):
    idx = torch.stack([torch.randperm(x.shape[0], generator=gen)[:n_train] for _ in range(m)])  # [model, n_train]
    return x[idx], y[idx]


def _parity_data(n_bits: int, k: int, n: int, m: int, gen: torch.Generator):
    x = torch.randint(0, 2, (m, n, n_bits), generator=gen)  # [model, batch, n_bits]
    return x, x[..., :k].sum(-1) % 2


def setups() -> list[Setup]:
    pair_cfg = PairMLPConfig(p=67, d_hidden=24)
    pair_x, pair_y = _pairs_mod(67, eq_token=False)
    nanda_cfg = TransformerConfig.nanda2023(p=113)
    nanda_x, nanda_y = _pairs_mod(113, eq_token=True)
    parity_cfg = MLPConfig(n_bits=30, width=128)
    wide_cfg = MLPConfig(n_bits=30, width=1024, depth=2)
    return [
        Setup("pair", lambda m: PairMLPEnsemble(pair_cfg, m).init_(range(m)),
              lambda m, g: _member_splits(pair_x, pair_y, 67 * 67 // 2, m, g)),
        # The same model on minibatches of 64 (Power et al. 2022 train on minibatches): per-model work
        # is small, so the loop is dominated by per-step overhead that the ensemble pays once.
        Setup("pair-b64", lambda m: PairMLPEnsemble(pair_cfg, m).init_(range(m)),
              lambda m, g: _member_splits(pair_x, pair_y, 64, m, g)),
        Setup("nanda", lambda m: TransformerEnsemble(nanda_cfg, m).init_(range(m)),
              lambda m, g: _member_splits(nanda_x, nanda_y, int(0.3 * 113 * 113), m, g)),
        Setup("parity", lambda m: MLPEnsemble(parity_cfg, m).init_(range(m)),
              lambda m, g: _parity_data(30, 3, 1000, m, g)),
        Setup("mlp-wide", lambda m: MLPEnsemble(wide_cfg, m).init_(range(m)),
              lambda m, g: _parity_data(30, 3, 1000, m, g)),
    ]


def member_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Sum over members of each member's mean loss, so members never couple.
    m, b, c = logits.shape
    return F.cross_entropy(logits.reshape(m * b, c), labels.reshape(-1), reduction="none").view(m, b).mean(1).sum()


def ensemble_step_fn(ens, tokens, labels):
    params = dict(ens.named_parameters())
    opt = adamw(lr=LR, weight_decay=WD)
    state = opt.init(params)

    def step():
        for p in params.values():
            p.grad = None
        member_loss_sum(ens(tokens), labels).backward()
        opt.step(params, None, state)

    return step


def loop_step_fn(ens, tokens, labels, k):
    refs = [ens.member(i) for i in range(k)]
    opts = [torch.optim.AdamW(r.parameters(), lr=LR, weight_decay=WD) for r in refs]

    def step():
        for i, (ref, opt) in enumerate(zip(refs, opts)):
            loss = F.cross_entropy(ref(tokens[i]), labels[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return step


def forward_flops(model, tokens) -> int:
    """Matmul FLOPs of one forward pass, counted by torch.utils.flop_counter."""
    with FlopCounterMode(display=False) as fc:
        model(tokens)
    return fc.get_total_flops()


def saved_bytes_per_member(ens, tokens, labels) -> int:
    """Bytes autograd keeps for backward in one step (distinct tensors), divided by members."""
    seen: dict[tuple, int] = {}

    def pack(t):
        seen[(t.data_ptr(), t.shape, t.stride())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = member_loss_sum(ens(tokens), labels)
    del loss
    return sum(seen.values()) // tokens.shape[0]


def run_setups(args, peak_gflops: float) -> None:
    gen = torch.Generator().manual_seed(0)
    mem_free = mem_available_bytes()
    rows, notes = [], []
    for s in setups():
        if args.setups and s.name not in args.setups:
            continue
        ens1 = s.make_ensemble(1)
        tok1, lab1 = s.make_data(1, gen)
        model_flops = 3 * forward_flops(ens1.member(0), tok1[0])  # per member per step (forward + backward)
        ens_flops = 3 * forward_flops(ens1, tok1)  # what the ensemble's fast paths actually compute
        act_bytes = saved_bytes_per_member(ens1, tok1, lab1)
        n_params = sum(p[0].numel() for p in ens1.parameters())
        # grokscope's adamw keeps params, grads, m, v and, on the chain path, two packing buffers: <= 6 copies.
        bytes_per_member = act_bytes + 6 * 4 * n_params
        print(f"  {s.name}: {n_params} parameters/member, model FLOPs {model_flops / 1e6:.1f} M/step/member "
              f"(the ensemble computes {ens_flops / model_flops:.0%} of them), "
              f"autograd keeps {act_bytes / 2**20:.1f} MiB/member", flush=True)

        last = None  # (members, seconds per step) of the previous size, to extrapolate
        for m in args.sizes:
            est_s = last[1] * m / last[0] if last else 0.0
            need = m * bytes_per_member
            n_steps = args.warmup + args.reps  # the fewest steps a measurement takes
            if mem_free is not None and need > 0.5 * mem_free:
                notes.append(f"{s.name} x{m}: skipped, needs ~{need / 2**30:.1f} GiB of {mem_free / 2**30:.1f} GiB free")
                continue
            if est_s * n_steps > args.budget_s:
                notes.append(f"{s.name} x{m}: skipped, ~{est_s:.1f} s/step extrapolated from x{last[0]} "
                             f"({n_steps} steps > budget {args.budget_s:.0f} s)")
                continue
            ens = s.make_ensemble(m)
            tok, lab = s.make_data(m, gen)
            # The loop's model-steps/s does not depend on the ensemble size: time a few members,
            # interleaved with the ensemble so that both see the same machine load.
            k = min(args.loop_members, m)
            sec = time_steps({"ensemble": ensemble_step_fn(ens, tok, lab), "loop": loop_step_fn(ens, tok, lab, k)},
                             warmup=args.warmup, target_s=args.target_s, reps=args.reps)
            del ens, tok, lab
            last = (m, sec["ensemble"])
            rate, loop_rate = m / sec["ensemble"], k / sec["loop"]
            rows.append([s.name, m, f"{rate:.4g}", f"{rate * ens_flops / peak_gflops / 1e9:.2%}",
                         f"{loop_rate:.4g}", f"{loop_rate * model_flops / peak_gflops / 1e9:.2%}",
                         f"{rate / loop_rate:.2f}"])
    print()
    print_table(["setup", "members", "ensemble model-steps/s", "of peak", "loop model-steps/s", "of peak",
                 "ensemble / loop"], rows)
    for n in notes:
        print("note:", n)


MATMUL_OPS = ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm", "aten::matmul")


def run_profile(spec: str, peak_gflops: float) -> None:
    """Where one ensemble step's time goes: torch.profiler's ops by self CPU time, matmuls summed."""
    from torch.profiler import ProfilerActivity, profile

    name, _, m = spec.partition(":")
    (s,) = [s for s in setups() if s.name == name] or [None]
    if s is None:
        raise SystemExit(f"--profile {spec!r}: setup must be one of {[x.name for x in setups()]}")
    m = int(m or 1)
    ens = s.make_ensemble(m)
    tok, lab = s.make_data(m, torch.Generator().manual_seed(0))
    flops = 3 * forward_flops(ens, tok)
    step = ensemble_step_fn(ens, tok, lab)
    n = 5
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n):
            step()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events) / n / 1e3  # ms per step
    mm = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / n / 1e3
    print(f"\nProfile of one {name} step, {m} members (torch.profiler, {n} steps; profiling slows ops down)")
    print(f"  {total:.1f} ms per step of op self time; matmuls {mm:.1f} ms ({mm / total:.0%}) at "
          f"{flops / (mm / 1e3) / 1e9:.0f} GFLOP/s = {flops / (mm / 1e3) / 1e9 / peak_gflops:.0%} of peak")
    print_table(["op", "ms/step", "share"], [[e.key, f"{e.self_cpu_time_total / n / 1e3:.2f}",
                                              f"{e.self_cpu_time_total / n / 1e3 / total:.1%}"] for e in events[:15]])


def run_optimizer(args) -> None:
    """grokscope adamw vs torch.optim.AdamW on identical stacked [model, ...] PAIR MLP tensors."""
    cfg = PairMLPConfig(p=67, d_hidden=24)
    rows = []
    for m in args.opt_sizes:
        gen = torch.Generator().manual_seed(m)
        ens = PairMLPEnsemble(cfg, m).init_(range(m))
        params = dict(ens.named_parameters())
        for p in params.values():
            p.grad = torch.randn(p.shape, generator=gen) * 1e-3

        def ours(lr, fused):
            opt = adamw(lr=lr, weight_decay=WD, fused=fused)
            state = opt.init(params)
            return lambda: opt.step(params, None, state)

        def torch_opt(**kw):
            opt = torch.optim.AdamW(params.values(), lr=LR, weight_decay=WD, **kw)
            return opt.step

        variants = {
            "grokscope": ours(LR, None),
            "grokscope, per-member lr": ours(torch.full((m,), LR), None),
            "grokscope chain (fused=False)": ours(LR, False),
            "torch default": torch_opt(),
            "torch foreach": torch_opt(foreach=True),
            "torch fused": torch_opt(fused=True),
        }
        times = time_steps(variants, warmup=3, target_s=args.opt_target_s, min_steps=3, reps=args.reps)
        base = times["grokscope"]
        for name, t in times.items():
            rows.append([m, name, f"{t * 1e6:.1f}", f"{t / base:.2f}"])
    print_table(["members", "optimizer", "us/step", "time / grokscope"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: sizes 1 and 8, short timings")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 64, 512])
    ap.add_argument("--setups", nargs="+", default=None, help="only these setups (default: all)")
    ap.add_argument("--no-optimizer", action="store_true", help="skip the optimizer-only table")
    ap.add_argument("--profile", metavar="SETUP[:MEMBERS]", default=None,
                    help="only profile one ensemble step of SETUP (e.g. nanda:1) and print where its time goes")
    ap.add_argument("--loop-members", type=int, default=4, help="members timed in the loop baseline")
    ap.add_argument("--target-s", type=float, default=3.0, help="timed seconds per configuration and method")
    ap.add_argument("--reps", type=int, default=3, help="interleaved timing blocks (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--budget-s", type=float, default=60.0,
                    help="skip a size whose fewest steps (warmup + reps) would exceed this, extrapolated")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--no-malloc-tuning", action="store_true", help="do not re-exec with MALLOC_ENV")
    args = ap.parse_args()
    tuned = tune_malloc(enabled=not args.no_malloc_tuning)
    if args.quick:
        args.sizes = [m for m in args.sizes if m <= 8]
        args.target_s, args.budget_s, args.loop_members, args.reps, args.warmup = 0.3, 5.0, 2, 1, 1
    args.opt_sizes = [1, 8] if args.quick else [1, 8, 64, 512]
    args.opt_target_s = 0.2 if args.quick else 1.0
    if args.threads:
        torch.set_num_threads(args.threads)

    peak = matmul_peak_gflops(reps=2 if args.quick else 5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, malloc tuned: {tuned}; "
          f"fp32 matmul peak (2048^3): {peak:.1f} GFLOP/s", flush=True)
    if args.profile:
        run_profile(args.profile, peak)
        return
    print("\nTraining steps (full batch, forward + backward + AdamW); 'vs loop' = ensemble model-steps/s"
          " / loop model-steps/s", flush=True)
    run_setups(args, peak)
    if args.no_optimizer:
        return
    print("\nOptimizer step alone, PAIR MLP parameters (time / grokscope > 1: grokscope is faster)", flush=True)
    run_optimizer(args)
    print(f"\nfp32 matmul peak again at the end: {matmul_peak_gflops(reps=2 if args.quick else 5):.1f} GFLOP/s "
          "(a large change means the machine's load changed during the run)")


if __name__ == "__main__":
    main()
