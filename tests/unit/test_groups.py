"""Finite groups from Cayley tables (grokscope.groups): the axioms are checked with one-line errors,
the families have the tables their definitions give, and the spec parser refuses bad specs."""

from __future__ import annotations

import itertools

import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.groups import (
    FiniteGroup,
    cyclic,
    dihedral,
    parse_group,
    product,
    symmetric,
)
from grokscope.tasks import make_task


def _one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


# The smallest loop that is not a group (order 5): a Latin square with identity 0 and inverses,
# not associative (1·2 = 3 but 2·1 = 4, and the only group of order 5 is abelian).
LOOP5 = [[0, 1, 2, 3, 4], [1, 0, 3, 4, 2], [2, 4, 0, 1, 3], [3, 2, 4, 0, 1], [4, 3, 1, 2, 0]]


@pytest.mark.parametrize("table,match", [
    ([[0, 1], [1, 2]], "not closed: 1·1 = 2"),
    ([[0, 0], [0, 0]], "no identity"),
    ([[0, 1], [1, 1]], "element 1 has no inverse"),
    (LOOP5, "not associative"),
    ([[0, 1, 2]], "square Cayley table"),
    ([[0.0, 1.0], [1.0, 0.0]], "integer element ids"),
])
def test_a_table_that_is_not_a_group_is_one_line(table, match):
    with pytest.raises(ConfigError) as err:
        FiniteGroup.from_table(table, name="T")
    assert match in _one_line(err) and "group 'T'" in _one_line(err)


def test_families_have_the_tables_of_their_definitions():
    z = cyclic(6)
    assert z.order == 6 and z.is_abelian and z.identity == 0
    assert all(int(z.table[a, b]) == (a + b) % 6 for a in range(6) for b in range(6))
    # Z_2 × Z_3 × Z_4: coordinates added mod each order, first coordinate fastest in the ids
    p = product(2, 3, 4)
    coords = [(g % 2, (g // 2) % 3, g // 6) for g in range(24)]
    for a, b in itertools.product(range(24), repeat=2):
        want = tuple((x + y) % m for x, y, m in zip(coords[a], coords[b], (2, 3, 4)))
        assert coords[int(p.table[a, b])] == want
    assert p.factors == (2, 3, 4) and p.labels[7] == "(1,0,1)"
    # S_n: composition of permutations, right factor first
    s = symmetric(4)
    perms = list(itertools.permutations(range(4)))
    for a, b in [(3, 17), (23, 5), (11, 11)]:
        assert perms[int(s.table[a, b])] == tuple(perms[a][perms[b][i]] for i in range(4))
    assert not s.is_abelian and s.order == 24


@pytest.mark.parametrize("n", [3, 4, 7])
def test_dihedral_and_symmetric_number_elements_as_the_group_tasks_do(n):
    task = make_task("dihedral", n=n)
    assert torch.equal(dihedral(n).table.reshape(-1), task.labels)
    if n <= 5:
        assert torch.equal(symmetric(n).table.reshape(-1), make_task("permutation", n=n).labels)


def test_inverses_classes_and_orders():
    d = dihedral(5)
    ids = torch.arange(10)
    assert torch.equal(d.table[ids, d.inverse], torch.zeros(10, dtype=torch.int64))
    # D_5: {e}, two classes of rotations {r, r^4}, {r^2, r^3}, one class of all 5 reflections
    assert sorted(len(c) for c in d.conjugacy_classes()) == [1, 2, 2, 5]
    assert [d.element_order(g) for g in (0, 1, 5)] == [1, 5, 2]
    assert sorted(len(c) for c in symmetric(4).conjugacy_classes()) == [1, 3, 6, 6, 8]


@pytest.mark.parametrize("spec,match", [
    ("cyclic:1", "cyclic:M=1"),
    ("cyclic:0", "cyclic:M=0"),
    ("klein:4", "unknown family 'klein'"),
    ("cyclic", "must be one of cyclic:M"),
    ("product:2,x", "must be integers"),
    ("product:2,1", "product factor=1"),
    ("cyclic:3,4", "takes one integer"),
    ("symmetric:6", "symmetric:n=6"),
    ("dihedral:2", "dihedral:n=2"),
    (71, "group=71"),
])
def test_bad_specs_are_one_line(spec, match):
    with pytest.raises(ConfigError) as err:
        parse_group(spec)
    assert match in _one_line(err)


def test_specs_build_the_families():
    assert parse_group("cyclic:71").name == "Z_71"
    assert parse_group("product:2,3,4").order == 24
    assert parse_group("dihedral:5").order == 10
    assert parse_group("symmetric:4").order == 24
