"""Irreducible representations computed from Cayley tables, against representation theory:
homomorphism and unitarity, Schur orthogonality, Σ d_k² = |G|, the closed-form character tables
of S_3, S_4 and D_n, Z_M's Fourier modes, and Frobenius–Schur indicators (Q_8's quaternionic irrep)."""

from __future__ import annotations

import cmath
import itertools
import math

import pytest
import torch

from grokscope.groups import (
    FiniteGroup,
    cyclic,
    dihedral,
    irrep_shares,
    irreps,
    isotypic_projectors,
    parse_group,
    product,
    symmetric,
)

SPECS = ["cyclic:7", "cyclic:12", "product:2,3,4", "product:2,2", "dihedral:5", "dihedral:6", "symmetric:3", "symmetric:4"]


def quaternion_group() -> FiniteGroup:
    """Q_8 from its 2x2 complex matrices: ±1, ±i, ±j, ±k (a table built here, not by grokscope)."""
    one = torch.eye(2, dtype=torch.complex128)
    qi = torch.tensor([[1j, 0], [0, -1j]], dtype=torch.complex128)
    qj = torch.tensor([[0, 1], [-1, 0]], dtype=torch.complex128)
    units = [one, qi, qj, qi @ qj]
    mats = [s * u for u in units for s in (1, -1)]
    find = lambda m: next(i for i, x in enumerate(mats) if torch.allclose(x, m))
    table = [[find(a @ b) for b in mats] for a in mats]
    return FiniteGroup.from_table(table, name="Q_8")


@pytest.mark.parametrize("spec", SPECS)
def test_irreps_are_unitary_homomorphisms_and_satisfy_schur_orthogonality(spec):
    g = parse_group(spec)
    t = irreps(g)
    assert sum(r.dim ** 2 for r in t.irreps) == g.order  # Σ d_k² = |G|
    assert len(t.irreps) == len(g.conjugacy_classes())  # as many irreps as classes
    assert all(r.multiplicity == r.dim for r in t.irreps)  # in the regular representation
    for r in t.irreps:
        m = r.matrices  # [order, d, d]
        torch.testing.assert_close(m[:, None] @ m[None, :], m[g.table], rtol=0, atol=1e-10)  # ρ(a)ρ(b) = ρ(ab)
        eye = torch.eye(r.dim, dtype=m.dtype).expand_as(m)
        torch.testing.assert_close(m @ m.conj().transpose(1, 2), eye, rtol=0, atol=1e-10)
    # Schur: the entries sqrt(d_k/|G|) ρ_k(g)_ij form a unitary |G| x |G| matrix
    f = torch.cat([r.matrices.reshape(g.order, -1) * math.sqrt(r.dim / g.order) for r in t.irreps], 1)
    torch.testing.assert_close(f.conj().T @ f, torch.eye(g.order, dtype=f.dtype), rtol=0, atol=1e-10)
    # characters: rows orthonormal, columns orthogonal with norm |centralizer| = |G| / |class|
    chi = torch.stack([r.character for r in t.irreps])  # [k, order]
    torch.testing.assert_close(chi @ chi.conj().T / g.order, torch.eye(len(chi), dtype=chi.dtype), rtol=0, atol=1e-10)
    ct = t.character_table()
    sizes = torch.tensor([len(c) for c in t.classes], dtype=torch.float64)
    torch.testing.assert_close(ct.conj().T @ ct, torch.diag(g.order / sizes).to(ct.dtype), rtol=0, atol=1e-10)
    assert t.irreps[0].is_trivial and torch.allclose(t.irreps[0].character, torch.ones(g.order, dtype=chi.dtype))


def _match_rows(got: torch.Tensor, want: torch.Tensor):
    """Each expected character row equals exactly one computed row."""
    assert got.shape == want.shape
    left = list(range(len(got)))
    for row in want:
        hits = [i for i in left if torch.allclose(got[i], row, atol=1e-9)]
        assert len(hits) == 1, f"expected character {row.real.tolist()} found {len(hits)} times"
        left.remove(hits[0])


def _cycle_type(p: tuple[int, ...]) -> tuple[int, ...]:
    seen, lengths = set(), []
    for i in range(len(p)):
        if i not in seen:
            n, j = 0, i
            while j not in seen:
                seen.add(j)
                j, n = p[j], n + 1
            lengths.append(n)
    return tuple(sorted(lengths, reverse=True))


# Closed-form character tables by cycle type (Fulton & Harris 1991, "Representation Theory", §2.3, §3.1).
S3 = {(1, 1, 1): [1, 1, 2], (2, 1): [1, -1, 0], (3,): [1, 1, -1]}
S4 = {(1, 1, 1, 1): [1, 1, 2, 3, 3], (2, 1, 1): [1, -1, 0, 1, -1], (2, 2): [1, 1, 2, -1, -1],
      (3, 1): [1, 1, -1, 0, 0], (4,): [1, -1, 0, -1, 1]}


@pytest.mark.parametrize("n,table", [(3, S3), (4, S4)])
def test_symmetric_group_character_tables_are_the_known_ones(n, table):
    perms = list(itertools.permutations(range(n)))
    want = torch.tensor([table[_cycle_type(p)] for p in perms], dtype=torch.complex128).T  # [k, order]
    got = torch.stack([r.character for r in irreps(symmetric(n)).irreps])
    _match_rows(got, want)


def _dihedral_characters(n: int) -> torch.Tensor:
    """D_n's characters on ids f·n + k (= r^k s^f), closed form (Serre 1977, §5.3)."""
    ids = torch.arange(2 * n, dtype=torch.float64)
    f, k = torch.div(ids, n, rounding_mode="floor"), ids % n
    rows = [torch.ones(2 * n, dtype=torch.float64), (-1.0) ** f]
    if n % 2 == 0:
        rows += [(-1.0) ** k, (-1.0) ** (k + f)]
    for j in range(1, (n - 1) // 2 + 1):
        rows.append(torch.where(f == 0, 2 * torch.cos(2 * math.pi * j * k / n), torch.zeros(2 * n, dtype=torch.float64)))
    return torch.stack(rows).to(torch.complex128)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 9, 10])
def test_dihedral_character_tables_are_the_known_ones(n):
    t = irreps(dihedral(n))
    _match_rows(torch.stack([r.character for r in t.irreps]), _dihedral_characters(n))
    assert sorted(r.dim for r in t.irreps) == [1] * (4 if n % 2 == 0 else 2) + [2] * ((n - 1) // 2)


@pytest.mark.parametrize("m", [12, 13])
def test_cyclic_irreps_are_the_fourier_modes_in_frequency_order(m):
    t = irreps(cyclic(m))
    for k, r in enumerate(t.irreps):
        want = torch.tensor([cmath.exp(2j * math.pi * k * g / m) for g in range(m)], dtype=torch.complex128)
        torch.testing.assert_close(r.character, want, rtol=0, atol=1e-10)
        torch.testing.assert_close(r.matrices[:, 0, 0], want, rtol=0, atol=1e-10)
        assert r.label == f"k={k}" and r.dim == 1
        assert r.conjugate == (-k) % m


def test_product_irreps_are_products_of_fourier_modes():
    t = irreps(product(2, 3, 4))
    coords = [(g % 2, (g // 2) % 3, g // 6) for g in range(24)]
    for r in t.irreps:
        ks = tuple(int(x) for x in r.label[3:-1].split(","))
        want = torch.tensor([cmath.exp(2j * math.pi * sum(k * c / m for k, c, m in zip(ks, cs, (2, 3, 4))))
                             for cs in coords], dtype=torch.complex128)
        torch.testing.assert_close(r.character, want, rtol=0, atol=1e-10)
    assert len({r.label for r in t.irreps}) == 24


def test_frobenius_schur_indicators():
    assert [r.indicator for r in irreps(cyclic(8)).irreps] == [1, 0, 0, 0, 1, 0, 0, 0]  # k = 0, M/2 real
    assert [r.indicator for r in irreps(cyclic(7)).irreps] == [1] + [0] * 6
    for g in (dihedral(5), dihedral(6), symmetric(3), symmetric(4)):
        assert all(r.indicator == 1 and r.kind == "real" for r in irreps(g).irreps)  # all real
    q8 = irreps(quaternion_group())
    assert [(r.dim, r.indicator) for r in q8.irreps] == [(1, 1)] * 4 + [(2, -1)]
    assert q8.irreps[-1].kind == "quaternionic"
    # a complex pair is one real isotypic component; k = 3 of Z_8 is paired with k = 5
    t = irreps(cyclic(8))
    assert (3, 5) in t.components and (4,) in t.components and t.component_label((3, 5)) == "k=±3"


@pytest.mark.parametrize("spec", ["symmetric:4", "dihedral:5", "product:2,3", "cyclic:9"])
def test_isotypic_projectors_are_a_resolution_of_the_identity_commuting_with_g(spec):
    g = parse_group(spec)
    p = isotypic_projectors(g)  # [c, n, n]
    n = g.order
    torch.testing.assert_close(p.sum(0), torch.eye(n, dtype=p.dtype), rtol=0, atol=1e-12)
    torch.testing.assert_close(p @ p, p, rtol=0, atol=1e-12)
    torch.testing.assert_close(p[0] @ p[1], torch.zeros(n, n, dtype=p.dtype), rtol=0, atol=1e-12)
    for h in range(n):  # left translation L(h) e_x = e_{h·x}
        lh = torch.zeros(n, n, dtype=p.dtype)
        lh[g.table[h], torch.arange(n)] = 1.0
        torch.testing.assert_close(lh @ p, p @ lh, rtol=0, atol=1e-12)
    # the shares of irrep_shares are ‖P_c x‖² / ‖x‖²
    x = torch.randn(3, n, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    e = torch.einsum("chk,mkd->mchd", p, x).pow(2).sum((-1, -2))
    torch.testing.assert_close(irrep_shares(g, x).shares, e / x.pow(2).sum((1, 2))[:, None], rtol=0, atol=1e-12)


def test_irrep_shares_of_zm_are_the_fourier_power_spectrum():
    m = 10
    x = torch.randn(2, m, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    power = torch.fft.fft(x, dim=1).abs().pow(2)  # [model, m, d]
    sh = irrep_shares(cyclic(m), x)
    for c, label in enumerate(sh.labels):
        k = int(label.replace("k=", "").replace("±", ""))
        want = power[:, k] + (power[:, m - k] if label.startswith("k=±") else 0)  # [model, d]
        torch.testing.assert_close(sh.column_shares[..., c], want / power.sum(1), rtol=0, atol=1e-12)
    assert sh.labels[:3] == ("k=0", "k=±1", "k=±2") and "k=5" in sh.labels
    torch.testing.assert_close(sh.shares.sum(1), torch.ones(2, dtype=torch.float64))
