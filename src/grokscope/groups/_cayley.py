"""Finite groups given by their Cayley table, checked to be groups, and the standard families.

A :class:`FiniteGroup` is its multiplication table ``table[a, b] = id of a·b`` over the ids
``0..order-1``. Building one checks the group axioms (closure, an identity, inverses,
associativity) and any failure is one ``ConfigError`` line naming the first offending elements.

Families (element numbering shared with ``grokscope.tasks``' group tasks where both exist):

- ``cyclic(M)``: Z_M, id ``g`` is ``g mod M``, ``a·b = a + b mod M``.
- ``product(m1, m2, ...)``: Z_m1 × Z_m2 × ..., id ``g`` has coordinates ``g_i`` with the FIRST
  factor varying fastest (``g = g_1 + m1·g_2 + m1·m2·g_3 ...``, the reference code's flattening).
- ``dihedral(n)``: D_n of order 2n, id ``f·n + k`` is ``r^k s^f`` (rotations first), acting on the
  vertices as ``i -> k + (-1)^f i mod n``.
- ``symmetric(n)``: S_n (n <= 5), permutations in lexicographic order, ``(x·y)[i] = x[y[i]]``.

``parse_group("cyclic:71" | "product:2,3,4" | "dihedral:5" | "symmetric:4")`` builds one from a spec.

>>> g = parse_group("dihedral:3")
>>> g.order, g.name, g.is_abelian
(6, 'D_3', False)
>>> FiniteGroup.from_table([[0, 1], [1, 1]], name="bad")
Traceback (most recent call last):
...
grokscope.errors.ConfigError: group 'bad': element 1 has no inverse (row 1 of the table never gives the identity 0)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import check_int, require

__all__ = ["GROUP_SPECS", "MAX_ORDER", "FiniteGroup", "cyclic", "dihedral", "parse_group", "product", "symmetric"]

MAX_ORDER = 1024  # the irreps come from eigendecompositions of |G| x |G| matrices; 1024 takes seconds
_MAX_SYMMETRIC = 5  # |S_5| = 120; S_6 (720) is allowed by MAX_ORDER but its irreps are not tested
GROUP_SPECS = ("cyclic:M", "product:m1,m2,...", "dihedral:n", "symmetric:n")


@dataclass(frozen=True, eq=False)
class FiniteGroup:
    """A finite group: ``table [order, order]`` (int64) with ``table[a, b]`` = id of ``a·b``.

    ``labels[g]`` names element ``g`` for people; ``factors`` are the cyclic orders of a product
    of cyclic groups (``(M,)`` for Z_M, ``()`` otherwise), which lets irreps be named by frequency.
    Build through :meth:`from_table` (which checks the axioms) or a family constructor.
    """

    name: str
    table: Tensor  # [order, order] int64
    labels: tuple[str, ...]
    factors: tuple[int, ...] = ()
    identity: int = field(init=False)
    inverse: Tensor = field(init=False)  # [order] int64: inverse[g] = id of g^-1

    def __post_init__(self):
        t = self.table
        e = int(torch.nonzero((t == torch.arange(t.shape[0])[None, :]).all(1))[0])
        object.__setattr__(self, "identity", e)
        object.__setattr__(self, "inverse", (t == e).to(torch.int64).argmax(1))

    @classmethod
    def from_table(cls, table, name: str = "G", labels=None, factors: tuple[int, ...] = ()) -> FiniteGroup:
        """The group with this Cayley table, or one ``ConfigError`` line saying which axiom fails."""
        t = torch.as_tensor(table)
        key = f"group {name!r}"
        require(t.dim() == 2 and t.shape[0] == t.shape[1] and t.shape[0] >= 1, key, tuple(t.shape),
                "a square Cayley table [order, order]")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ConfigError(f"{key}: table of dtype {t.dtype}: must hold integer element ids")
        t = t.to(torch.int64)
        n = t.shape[0]
        require(n <= MAX_ORDER, key, n, f"of order <= {MAX_ORDER}")
        bad = torch.nonzero((t < 0) | (t >= n))
        if len(bad):
            a, b = bad[0].tolist()
            raise ConfigError(f"{key}: not closed: {a}·{b} = {int(t[a, b])} is not an element id in [0, {n})")
        ids = torch.arange(n)
        left = torch.nonzero((t == ids[None, :]).all(1)).reshape(-1)
        right = torch.nonzero((t == ids[:, None]).all(0)).reshape(-1)
        both = sorted(set(left.tolist()) & set(right.tolist()))
        if not both:
            raise ConfigError(f"{key}: no identity (no element e with e·g = g·e = g for every g)")
        e = both[0]
        has_right_inv = (t == e).any(1)
        if not bool(has_right_inv.all()):
            g = int(torch.nonzero(~has_right_inv)[0])
            raise ConfigError(f"{key}: element {g} has no inverse (row {g} of the table never gives the identity {e})")
        inv = (t == e).to(torch.int64).argmax(1)
        if not bool((t[inv, ids] == e).all()):
            g = int(torch.nonzero(t[inv, ids] != e)[0])
            raise ConfigError(f"{key}: element {g} has a right inverse {int(inv[g])} that is not a left inverse")
        # associativity: (a·b)·c == a·(b·c) for all triples, n^3 lookups in slabs of a
        for a0 in range(0, n, max(1, 2**22 // (n * n))):
            a = ids[a0:a0 + max(1, 2**22 // (n * n))]
            lhs = t[t[a][:, :, None].expand(-1, n, n), ids[None, None, :].expand(len(a), n, n)]  # [a, b, c]
            rhs = t[a[:, None, None].expand(-1, n, n), t[None, :, :].expand(len(a), n, n)]
            if not torch.equal(lhs, rhs):
                i, j, k = torch.nonzero(lhs != rhs)[0].tolist()
                raise ConfigError(f"{key}: not associative: ({int(a[i])}·{j})·{k} != {int(a[i])}·({j}·{k})")
        labels = tuple(str(x) for x in (labels if labels is not None else range(n)))
        require(len(labels) == n, key, len(labels), f"given {n} labels, one per element")
        return cls(name=name, table=t.contiguous(), labels=labels, factors=tuple(factors))

    @property
    def order(self) -> int:
        return self.table.shape[0]

    @property
    def is_abelian(self) -> bool:
        return bool(torch.equal(self.table, self.table.T))

    def conjugacy_classes(self) -> list[list[int]]:
        """The conjugacy classes as sorted id lists, the identity's first, then by smallest member."""
        n, seen, classes = self.order, set(), []
        for g in range(n):
            if g in seen:
                continue
            # h g h^-1 for every h
            cls_ = sorted(set(self.table[self.table[:, g], self.inverse].tolist()))
            seen.update(cls_)
            classes.append(cls_)
        return classes

    def element_order(self, g: int) -> int:
        k, x = 1, g
        while x != self.identity:
            x, k = int(self.table[x, g]), k + 1
        return k

    def describe(self) -> str:
        return f"{self.name} (order {self.order}{', abelian' if self.is_abelian else ''})"


def cyclic(m: int) -> FiniteGroup:
    """Z_M: addition mod M."""
    m = check_int(m, "group cyclic:M", 2, MAX_ORDER)
    ids = torch.arange(m)
    return FiniteGroup.from_table((ids[:, None] + ids[None, :]) % m, name=f"Z_{m}", factors=(m,))


def product(*orders: int) -> FiniteGroup:
    """Z_m1 × Z_m2 × ...: coordinate-wise addition; the first coordinate varies fastest in the ids."""
    require(len(orders) >= 1, "group product", orders, "at least one factor order, e.g. product:2,3,4")
    orders = tuple(check_int(m, "group product factor", 2) for m in orders)
    n = math.prod(orders)
    require(n <= MAX_ORDER, "group product order", n, f"<= {MAX_ORDER}")
    coords = torch.stack(torch.meshgrid(*[torch.arange(m) for m in reversed(orders)], indexing="ij")[::-1], -1)
    coords = coords.reshape(n, len(orders))  # [order, n_factors], first coordinate fastest
    strides = torch.tensor([math.prod(orders[:i]) for i in range(len(orders))])
    mods = torch.tensor(orders)
    table = (((coords[:, None, :] + coords[None, :, :]) % mods) * strides).sum(-1)
    labels = ["(" + ",".join(str(int(c)) for c in row) + ")" for row in coords]
    return FiniteGroup.from_table(table, name="×".join(f"Z_{m}" for m in orders), labels=labels, factors=orders)


def dihedral(n: int) -> FiniteGroup:
    """D_n, the 2n symmetries of a regular n-gon; id ``f·n + k`` is ``r^k s^f``."""
    n = check_int(n, "group dihedral:n", 3, MAX_ORDER // 2)
    f, k = torch.arange(2 * n) // n, torch.arange(2 * n) % n
    # (r^k1 s^f1)(r^k2 s^f2) = r^(k1 + (-1)^f1 k2) s^(f1 + f2)
    kk = (k[:, None] + (1 - 2 * f[:, None]) * k[None, :]) % n
    ff = (f[:, None] + f[None, :]) % 2
    labels = [f"r{int(a)}" if int(b) == 0 else f"r{int(a)}s" for a, b in zip(k, f)]
    return FiniteGroup.from_table(ff * n + kk, name=f"D_{n}", labels=labels)


def symmetric(n: int) -> FiniteGroup:
    """S_n (n <= 5), permutations in lexicographic order, composed right factor first."""
    n = check_int(n, "group symmetric:n", 2, _MAX_SYMMETRIC)
    perms = list(itertools.permutations(range(n)))
    index = {p: i for i, p in enumerate(perms)}
    table = [[index[tuple(x[y[i]] for i in range(n))] for y in perms] for x in perms]
    return FiniteGroup.from_table(table, name=f"S_{n}", labels=["".join(map(str, p)) for p in perms])


_FAMILIES = {"cyclic": cyclic, "product": product, "dihedral": dihedral, "symmetric": symmetric}


def parse_group(spec: str) -> FiniteGroup:
    """A group from ``"family:args"``: ``cyclic:71``, ``product:2,3,4``, ``dihedral:5``, ``symmetric:4``.

    >>> parse_group("product:2,3").name
    'Z_2×Z_3'
    >>> parse_group("cyclic:1")
    Traceback (most recent call last):
    ...
    grokscope.errors.ConfigError: group cyclic:M=1: must be an integer in [2, 1024]
    """
    allowed = "one of " + ", ".join(GROUP_SPECS) + " (e.g. cyclic:71)"
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"group={spec!r}: must be {allowed}")
    family, _, args = spec.partition(":")
    family = family.strip().lower()
    if family not in _FAMILIES:
        raise ConfigError(f"group={spec!r}: unknown family {family!r}; must be {allowed}")
    try:
        nums = [int(a) for a in args.split(",")]
    except ValueError:
        raise ConfigError(f"group={spec!r}: the arguments must be integers, e.g. {family}:"
                          f"{'2,3,4' if family == 'product' else '5'}") from None
    if family != "product" and len(nums) != 1:
        raise ConfigError(f"group={spec!r}: {family} takes one integer, e.g. {family}:5")
    return _FAMILIES[family](*nums)
