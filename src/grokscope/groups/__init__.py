"""Finite groups and their irreducible representations (what Li2's theorems are stated in).

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking" (Li2),
states its Stage II theorems in the irreps of the group a task composes. This package gives:

- :class:`FiniteGroup` from a Cayley table (axioms checked), the families ``cyclic``, ``product``,
  ``dihedral``, ``symmetric`` and the spec parser ``parse_group("cyclic:71")``;
- :func:`irreps` — every complex irrep computed numerically (dimension, multiplicity, Frobenius–
  Schur type, character, unitary matrices), grouped into real isotypic ``components``;
- :func:`irrep_shares` — the share of a weight's energy per isotypic component (Fourier power for Z_M).

>>> from grokscope.groups import parse_group, irreps
>>> t = irreps(parse_group("symmetric:4"))
>>> sum(r.dim ** 2 for r in t.irreps), [r.dim for r in t.irreps]
(24, [1, 1, 2, 3, 3])
"""

from ._cayley import (
    GROUP_SPECS,
    MAX_ORDER,
    FiniteGroup,
    cyclic,
    dihedral,
    parse_group,
    product,
    symmetric,
)
from ._irreps import Irrep, IrrepTable, irreps
from ._project import IrrepShares, irrep_shares, isotypic_projectors

__all__ = [
    # groups
    "FiniteGroup", "cyclic", "product", "dihedral", "symmetric", "parse_group", "GROUP_SPECS", "MAX_ORDER",
    # representations
    "Irrep", "IrrepTable", "irreps",
    # projections of weights
    "IrrepShares", "irrep_shares", "isotypic_projectors",
]
