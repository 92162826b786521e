"""The ``group`` task: composition in any group ``parse_group`` builds, checked against closed forms.

References: a + b mod M for ``cyclic:M``; componentwise addition for ``product:2,3,4`` (element id
x1 + 2·x2 + 6·x3, the first factor least significant); the ``permutation`` task's S_3 (itself tested
against explicit permutation composition) for ``symmetric:3``.
"""

import itertools

import pytest
import torch

from grokscope import load_config
from grokscope.errors import ConfigError
from grokscope.tasks import composed_group, make_task


def test_cyclic_labels_are_a_plus_b_mod_m():
    t = make_task("group", group_spec="cyclic:7")
    a, b = t.inputs[:, 0], t.inputs[:, 1]
    assert t.n_classes == 7 and t.n_all == 49 and torch.equal(t.labels, (a + b) % 7)


def test_product_labels_add_componentwise():
    t = make_task("group", group_spec="product:2,3,4")
    radix = (2, 3, 4)

    def decode(i):
        return (i % 2, (i // 2) % 3, i // 6)

    expected = []
    for x, y in itertools.product(range(24), repeat=2):
        s = [(u + v) % m for u, v, m in zip(decode(x), decode(y), radix)]
        expected.append(s[0] + 2 * s[1] + 6 * s[2])
    assert t.labels.tolist() == expected and t.name == "Z_2×Z_3×Z_4"
    g = composed_group(t)
    assert g.order == 24 and torch.equal(g.table.reshape(-1), t.labels)


def test_symmetric_matches_the_permutation_task_and_eq_token_adds_a_context_token():
    a, b = make_task("group", group_spec="symmetric:3"), make_task("permutation", n=3)
    assert torch.equal(a.labels, b.labels) and torch.equal(a.inputs, b.inputs)
    e = make_task("group", group_spec="dihedral:4", eq_token=True)
    assert e.n_ctx == 3 and e.vocab_size == 9 and bool((e.inputs[:, 2] == 8).all())


@pytest.mark.parametrize("spec,match", [
    ("product:2,x", r"task.group_spec: group='product:2,x': the arguments must be integers"),
    ("lie:3", r"task.group_spec: group='lie:3': unknown family 'lie'"),
    ("cyclic:1", r"task.group_spec: group cyclic:M=1"),
])
def test_a_bad_group_is_one_config_error_line(spec, match):
    with pytest.raises(ConfigError, match=match) as e:
        load_config(preset="demo", overrides=["task.kind=group", f"task.group_spec={spec}"])
    assert "\n" not in str(e.value)
