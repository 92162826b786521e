"""Group composition: the label of ``(x, y)`` is the id of ``x ∘ y``.

Power et al. 2022 (arXiv:2201.02177) include composition in S_5 among their grokking
tasks; Chughtai et al. 2023 ("A toy model of universality", arXiv:2302.03025) study
S_n and the dihedral groups D_n.

Conventions, shared by both groups:

- an element is a permutation ``σ`` stored as a tuple with ``σ[i]`` the image of ``i``;
- composition applies the right factor first: ``(x ∘ y)[i] = x[y[i]]``;
- rows are enumerated ``x``-major: row ``x * |G| + y`` holds ``(x, y)``;
- ``elements[k]`` is the permutation with id ``k``; id 0 is the identity.

Element numbering:

- ``S_n``: all permutations of ``0..n-1`` in lexicographic order (``itertools.permutations``).
- ``D_n`` (order ``2n``, symmetries of a regular n-gon acting on its vertices ``0..n-1``):
  id ``f * n + k`` (``f`` in {0, 1}, ``k`` in ``0..n-1``) is ``r^k s^f``, with ``r`` the
  rotation ``i -> i + 1`` and ``s`` the reflection ``i -> -i`` (mod n); so ids ``0..n-1``
  are the rotations and ``n..2n-1`` the reflections, and id ``f * n + k`` maps vertex ``i``
  to ``k + (-1)^f i mod n``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from grokscope.tasks._base import TaskBase, check_bool, check_int, set_frozen, with_eq_token

__all__ = ["PermutationGroup", "DihedralGroup", "GroupComposition", "composed_group"]

_MAX_SN = 6  # |S_6|^2 = 518,400 pairs; S_7 would be 25.4M, too many to enumerate.
_MAX_DN = 1024  # (2n)^2 pairs: 4.2M rows at n = 1024.


def _composition_table(perms: torch.Tensor) -> torch.Tensor:
    """``table[x, y]`` = id of ``perms[x] ∘ perms[y]``; ``perms`` is ``[n_elem, n]``, n <= 6.

    Materializes all ``n_elem^2`` composed permutations (S_6: 518,400 x 6), so it is only
    for the small symmetric groups; the dihedral table has a closed form instead.
    """
    n_elem, n = perms.shape
    # (x ∘ y)[i] = x[y[i]]: gather x's entries at positions y.
    composed = torch.gather(
        perms[:, None, :].expand(n_elem, n_elem, n),  # [x, y, i] -> x[i]
        2,
        perms[None, :, :].expand(n_elem, n_elem, n),  # [x, y, i] -> y[i]
    )  # [n_elem, n_elem, n]
    # Base-n codes order tuples lexicographically, so a sorted search finds the ids.
    weights = n ** torch.arange(n - 1, -1, -1)  # [n]
    codes = perms @ weights  # [n_elem]
    order = torch.argsort(codes)
    found = torch.searchsorted(codes[order], composed @ weights)  # [n_elem, n_elem]
    table = order[found]
    if not torch.equal(perms[table].reshape(-1, n), composed.reshape(-1, n)):
        raise AssertionError("composition left the group")  # an internal bug, never the user's
    return table


def _pairs_and_labels(table: torch.Tensor, eq_token: bool) -> tuple[torch.Tensor, torch.Tensor]:
    n_elem = table.shape[0]
    x, y = torch.meshgrid(torch.arange(n_elem), torch.arange(n_elem), indexing="ij")
    pairs = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)  # [n_elem^2, 2]
    inputs = with_eq_token(pairs, eq_id=n_elem) if eq_token else pairs
    return inputs.contiguous(), table.reshape(-1).clone()


@dataclass(frozen=True)
class PermutationGroup(TaskBase):
    """Composition in the symmetric group S_n (``n`` in 2..6), ``n!^2`` inputs.

    >>> task = PermutationGroup(n=3)
    >>> task.elements[1], task.elements[2]
    ((0, 2, 1), (1, 0, 2))
    >>> task.elements[int(task.labels[1 * 6 + 2])]  # x[y[i]] for x=(0,2,1), y=(1,0,2)
    (2, 0, 1)
    """

    n: int = 5  # S_5: Power et al. 2022's permutation task (120 elements, 14,400 pairs).
    eq_token: bool = False

    elements: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = check_int(self.n, "task.n", 2, _MAX_SN)
        eq_token = check_bool(self.eq_token, "task.eq_token")
        elements = tuple(itertools.permutations(range(n)))  # lexicographic; [0] = identity
        table = _composition_table(torch.tensor(elements, dtype=torch.long))
        inputs, labels = _pairs_and_labels(table, eq_token)
        order = len(elements)
        set_frozen(
            self,
            elements=elements,
            inputs=inputs,
            labels=labels,
            vocab_size=order + 1 if eq_token else order,
            n_classes=order,
            n_ctx=3 if eq_token else 2,
            name=f"S{n}" + ("_eq" if eq_token else ""),
            fourier_p=None,  # non-abelian: its Fourier analysis needs representations, not Z_p
            train_pool=None,
            test_pool=None,
        )

    def group(self):
        """The group as a ``grokscope.groups.FiniteGroup`` with this task's element ids (None for S_6,
        whose irreducible representations the groups module does not compute)."""
        from grokscope.groups import symmetric

        return symmetric(self.n) if self.n <= 5 else None

    def describe(self) -> str:
        context = "'x y ='" if self.eq_token else "'x y'"
        return (
            f"composition x∘y (apply y first) in S_{self.n} ({math.factorial(self.n)} elements, "
            f"{self.n_all} pairs), context {context}"
        )


@dataclass(frozen=True)
class DihedralGroup(TaskBase):
    """Composition in the dihedral group D_n of order ``2n`` (``n`` >= 3), ``4n^2`` inputs.

    >>> task = DihedralGroup(n=4)
    >>> task.n_classes, task.elements[1], task.elements[4]  # r and s acting on vertices
    (8, (1, 2, 3, 0), (0, 3, 2, 1))
    """

    n: int = 5  # D_5 (order 10): small enough to enumerate instantly, non-abelian.
    eq_token: bool = False

    elements: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = check_int(self.n, "task.n", 3, _MAX_DN)
        eq_token = check_bool(self.eq_token, "task.eq_token")
        f = torch.arange(2).repeat_interleave(n)  # [2n]: 0 for rotations, 1 for reflections
        k = torch.arange(n).repeat(2)  # [2n]
        vertex = torch.arange(n)  # [n]
        sign = 1 - 2 * f  # [2n]: (-1)^f
        perms = (k[:, None] + sign[:, None] * vertex[None, :]) % n  # [2n, n]
        # x ∘ y maps i -> k_x + (-1)^f_x (k_y + (-1)^f_y i), i.e. it is the element
        # (k_x + (-1)^f_x k_y mod n, f_x xor f_y).
        k_xy = (k[:, None] + sign[:, None] * k[None, :]) % n  # [2n, 2n]
        f_xy = f[:, None] ^ f[None, :]  # [2n, 2n]
        table = f_xy * n + k_xy  # [2n, 2n] element ids
        inputs, labels = _pairs_and_labels(table, eq_token)
        set_frozen(
            self,
            elements=tuple(tuple(row) for row in perms.tolist()),
            inputs=inputs,
            labels=labels,
            vocab_size=2 * n + 1 if eq_token else 2 * n,
            n_classes=2 * n,
            n_ctx=3 if eq_token else 2,
            name=f"D{n}" + ("_eq" if eq_token else ""),
            fourier_p=None,  # non-abelian (its rotation subgroup is Z_n, but labels mix both cosets)
            train_pool=None,
            test_pool=None,
        )

    def group(self):
        """The group as a ``grokscope.groups.FiniteGroup`` with this task's element ids."""
        from grokscope.groups import dihedral

        return dihedral(self.n)

    def describe(self) -> str:
        context = "'x y ='" if self.eq_token else "'x y'"
        return (
            f"composition x∘y (apply y first) in the dihedral group D_{self.n} "
            f"({2 * self.n} elements: ids <{self.n} rotations r^k, then reflections r^k s), "
            f"{self.n_all} pairs, context {context}"
        )


@dataclass(frozen=True)
class GroupComposition(TaskBase):
    """Composition in any finite group ``grokscope.groups.parse_group`` builds from its Cayley table:
    ``cyclic:M``, products ``product:2,3,4``, ``dihedral:n``, ``symmetric:n`` (n <= 5). Element ids and
    the composition are the group's own (``label = table[x, y]``, rows ``x``-major), so the irreps the
    analyses project onto are those of the same numbering.

    >>> task = GroupComposition(group_spec="product:2,3")
    >>> task.n_classes, task.n_all, task.name, int(task.labels[1 * 6 + 2]) == int(task.group().table[1, 2])
    (6, 36, 'Z_2×Z_3', True)
    """

    group_spec: str = "product:2,3,4"  # Z_2×Z_3×Z_4 (order 24), Tian 2025's example of a product group
    eq_token: bool = False

    def __post_init__(self) -> None:
        from grokscope.errors import ConfigError
        from grokscope.groups import parse_group

        try:
            g = parse_group(self.group_spec)
        except ConfigError as e:
            raise ConfigError(f"task.group_spec: {e}") from None
        eq_token = check_bool(self.eq_token, "task.eq_token")
        inputs, labels = _pairs_and_labels(g.table.long(), eq_token)
        set_frozen(
            self,
            inputs=inputs,
            labels=labels,
            vocab_size=g.order + 1 if eq_token else g.order,
            n_classes=g.order,
            n_ctx=3 if eq_token else 2,
            name=g.name + ("_eq" if eq_token else ""),
            fourier_p=None,  # the analyses read its irreps (task.group()); Z_M as a+b mod M is task "modular"
            train_pool=None,
            test_pool=None,
        )

    def group(self):
        """The group as a ``grokscope.groups.FiniteGroup`` (the one the task composes)."""
        from grokscope.groups import parse_group

        return parse_group(self.group_spec)

    def describe(self) -> str:
        context = "'x y ='" if self.eq_token else "'x y'"
        return f"composition x·y in {self.name.removesuffix('_eq')} ({self.n_classes} elements, {self.n_all} pairs), context {context}"


def composed_group(task):
    """The finite group a composition task composes (``task.group()``, a ``grokscope.groups.FiniteGroup``
    numbered as the task numbers its elements), or None for a task that names none."""
    group = getattr(task, "group", None)
    return group() if callable(group) else None
