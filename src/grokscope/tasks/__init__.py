"""What is learned: tasks that enumerate their inputs, and per-member train/test splits.

>>> from grokscope.tasks import make_task, split
>>> task = make_task("modular", op="add", p=97)
>>> s = split(task, 4, frac=[0.2, 0.3, 0.4, 0.5], seeds=[0, 1, 2, 3])
>>> s.n_train.tolist()
[1882, 2823, 3764, 4704]
"""

from grokscope.tasks._base import INPUT_KINDS, Task, TaskBase, input_kind, task_groups
from grokscope.tasks._digits import DIGITS_SCALES, Digits
from grokscope.tasks._factory import TASK_KINDS, make_task, register_task, unregister_task
from grokscope.tasks._groups import DihedralGroup, GroupComposition, PermutationGroup, composed_group
from grokscope.tasks._modular import MODULAR_OPS, ModularArithmetic
from grokscope.tasks._multitask_parity import MultitaskParity, zipf_probs
from grokscope.tasks._parity import SparseParity
from grokscope.tasks._split import DATA_STREAM, SPLITS, Split, default_train_frac, split, split_for_run

__all__ = [
    "Task",
    "TaskBase",
    "INPUT_KINDS",
    "input_kind",
    "task_groups",
    "make_task",
    "register_task",
    "unregister_task",
    "TASK_KINDS",
    "ModularArithmetic",
    "MODULAR_OPS",
    "PermutationGroup",
    "DihedralGroup",
    "GroupComposition",
    "composed_group",
    "SparseParity",
    "MultitaskParity",
    "zipf_probs",
    "Digits",
    "DIGITS_SCALES",
    "Split",
    "split",
    "split_for_run",
    "default_train_frac",
    "SPLITS",
    "DATA_STREAM",
]
