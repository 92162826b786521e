"""Modular arithmetic: ``c = a ∘ b mod p`` for every pair ``a, b`` in Z_p.

The binary operations of Power et al. 2022 ("Grokking: generalization beyond overfitting
on small algorithmic datasets", arXiv:2201.02177, Appendix A.1), the task on which
grokking was first seen. Rows are enumerated ``a``-major: ordered pairs are
``(0,0), (0,1), ..., (0,p-1), (1,0), ...`` so that for ``add`` with ordered pairs and no
"=" token, ``labels.reshape(p, p)[a, b] == (a + b) % p`` — the layout Fourier analysis
expects. Division skips ``b = 0``; unordered pairs keep ``a <= b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokscope.errors import ConfigError
from grokscope.tasks._base import (
    TaskBase,
    check_bool,
    check_choice,
    check_int,
    is_prime,
    set_frozen,
    with_eq_token,
)

__all__ = ["ModularArithmetic", "MODULAR_OPS"]

# op name -> the formula shown by describe(). Names follow the Power et al. 2022 table.
_FORMULAS: dict[str, str] = {
    "add": "a + b",
    "sub": "a - b",
    "mul": "a * b",
    "div": "a / b",
    "x2+y2": "a^2 + b^2",
    "x2+xy+y2": "a^2 + ab + b^2",
    "x3+xy": "a^3 + ab",
}
MODULAR_OPS: tuple[str, ...] = tuple(_FORMULAS)
_COMMUTATIVE = frozenset({"add", "mul", "x2+y2", "x2+xy+y2"})
# p**2 inputs are materialized; 4096**2 ≈ 16.8M rows is already ~400 MB with an "=" token.
_MAX_P = 4096


def _apply(op: str, a: torch.Tensor, b: torch.Tensor, p: int) -> torch.Tensor:
    """``a ∘ b mod p`` elementwise (int64: a^3 <= 4096^3 cannot overflow)."""
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p  # torch's % takes the sign of the divisor, so this is in [0, p)
    if op == "mul":
        return (a * b) % p
    if op == "div":
        # Fermat: b^(p-2) is b's inverse in Z_p when p is prime and b != 0.
        inverse = torch.tensor([pow(x, p - 2, p) for x in range(p)], dtype=torch.long)
        return (a * inverse[b]) % p
    if op == "x2+y2":
        return (a * a + b * b) % p
    if op == "x2+xy+y2":
        return (a * a + a * b + b * b) % p
    if op == "x3+xy":
        return (a * a * a + a * b) % p
    raise AssertionError(op)  # unreachable: op was validated


@dataclass(frozen=True)
class ModularArithmetic(TaskBase):
    """Every pair ``(a, b)`` of Z_p with the label ``a ∘ b mod p``.

    ``pairs="unordered"`` keeps only ``a <= b`` (for commutative ops: the PAIR explorable,
    Pearce et al. 2023, so the test set holds no mirror image of a training pair).
    ``eq_token=True`` appends the "=" token (id ``p``), giving the context ``a b =`` of
    Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability",
    arXiv:2301.05217); otherwise the context is ``a b``. ``op_token=True`` puts the operation's
    token between the operands (id ``p + 1`` with "=", ``p`` without): ``a ∘ b =``, each symbol a
    token, as in Power et al. 2022 and ironjr/grokfast. ``b_nonzero=True`` leaves out ``b = 0``
    (ironjr/grokfast's ``x ∘ y`` for ``0 < y < p``; division always does).

    >>> task = ModularArithmetic(op="add", p=5)
    >>> task.inputs[7].tolist(), int(task.labels[7])
    ([1, 2], 3)
    >>> ModularArithmetic(op="add", p=5, pairs="unordered").n_all  # p(p+1)/2
    15
    """

    op: str = "add"
    p: int = 97  # Power et al. 2022 use p = 97; Nanda et al. 2023 use 113, PAIR 67.
    pairs: str = "ordered"
    eq_token: bool = False
    op_token: bool = False
    b_nonzero: bool = False

    def __post_init__(self) -> None:
        op = check_choice(self.op, "task.op", MODULAR_OPS)
        p = check_int(self.p, "task.p", 2, _MAX_P)
        check_choice(self.pairs, "task.pairs", ("ordered", "unordered"))
        eq_token = check_bool(self.eq_token, "task.eq_token")
        op_token = check_bool(self.op_token, "task.op_token")
        b_nonzero = check_bool(self.b_nonzero, "task.b_nonzero")
        if op == "div" and not is_prime(p):
            raise ConfigError(f"task.p={p}: op 'div' needs a prime modulus (b must be invertible)")
        unordered = self.pairs == "unordered"
        if unordered and op not in _COMMUTATIVE:
            allowed = ", ".join(o for o in MODULAR_OPS if o in _COMMUTATIVE)
            raise ConfigError(
                f"task.pairs='unordered' with op {op!r}: only commutative ops allow it ({allowed})"
            )

        a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")  # [p, p] each
        keep = torch.ones(p, p, dtype=torch.bool)
        if op == "div" or b_nonzero:
            keep &= b != 0
        if unordered:
            keep &= a <= b
        a, b = a[keep], b[keep]  # [n_all] each, a-major order
        pairs = torch.stack([a, b], dim=1)  # [n_all, 2]
        inputs = with_eq_token(pairs, eq_id=p) if eq_token else pairs
        op_id = p + int(eq_token)
        if op_token:
            inputs = torch.cat([inputs[:, :1], torch.full_like(inputs[:, :1], op_id), inputs[:, 1:]], dim=1)

        slug = (f"mod{p}_{op}" + ("_unordered" if unordered else "") + ("_nz" if b_nonzero and op != "div" else "")
                + ("_op" if op_token else "") + ("_eq" if eq_token else ""))
        set_frozen(
            self,
            inputs=inputs.contiguous(),
            labels=_apply(op, a, b, p),
            vocab_size=p + int(eq_token) + int(op_token),
            n_classes=p,
            n_ctx=2 + int(eq_token) + int(op_token),
            name=slug,
            # Every op gets Fourier analysis over Z_p; whether it finds structure is the
            # analysis' business (x^2+y^2 has none in the additive characters of a, b).
            fourier_p=p,
            train_pool=None,
            test_pool=None,
        )

    @property
    def operand_columns(self) -> tuple[int, int]:
        """The columns of ``inputs`` that hold ``a`` and ``b`` (the op token, when present, sits between)."""
        return (0, 2) if self.op_token else (0, 1)

    @property
    def commutative(self) -> bool:
        return self.op in _COMMUTATIVE

    def describe(self) -> str:
        which = "pairs a <= b" if self.pairs == "unordered" else "ordered pairs"
        if self.op == "div" or self.b_nonzero:
            which += ", b != 0"
        context = "'a" + (" ∘" if self.op_token else "") + " b" + (" =" if self.eq_token else "") + "'"
        return (
            f"{_FORMULAS[self.op]} mod {self.p} over {which} ({self.n_all} inputs), "
            f"context {context}, vocab {self.vocab_size}, {self.n_classes} classes"
        )
