"""An ensemble's data on the device: per-member training batches and evaluation on all inputs.

Members may have training sets of different sizes (a sweep over data size runs as one ensemble),
so the training split is a padded ``[model, n_train_max]`` index matrix with a per-example weight
``1 / n_train[m]`` (0 on padding): the weighted sum of per-example losses is then each member's
mean loss. ``pad_to`` (``train.pad_to``) widens that matrix to a fixed width. Evaluation runs every member on every input of the task once and reads the metrics of
every split (train, test, unseen when the run keeps it, all inputs) and of every group of rows the
task names off membership weights, which is exact because tasks enumerate their inputs.

Inputs are token ids (``task.input_kind == "tokens"``) or real-valued features (``"features"``),
which are cast to the model's dtype once, here.

Online sampling: a task whose ``online`` attribute is true (multitask sparse parity with
``online = true``) trains on fresh rows. It provides ``task.sample(n_rows, generator) ->
(inputs [n_rows, ...], labels [n_rows])``, and every step each member draws its batch from its own
minibatch generator (the generators the run state saves, so a resume draws the same batches).
``batch_size = 0`` then means a fresh batch as large as the largest training split. The
training split is never trained on: its rows are only measured (``train_loss``).

>>> from grokscope.tasks import make_task, split
>>> task = make_task("add", p=5)
>>> data = TrainData(task, split(task, 2, frac=[0.4, 0.8], seeds=[0, 1]), "cpu")
>>> [round(x, 6) for x in data.train_weights.sum(1).tolist()]   # each row sums to 1: a mean per member
[1.0, 1.0]
>>> data.metric_names()
('train_loss', 'train_acc', 'test_loss', 'test_acc', 'all_loss', 'all_acc')
"""

from __future__ import annotations

import torch

from grokscope.errors import ConfigError
from grokscope.tasks import input_kind, task_groups
from grokscope.train._losses import per_example_loss

__all__ = ["TrainData"]

# Evaluate at most this many logits at once ([model, chunk, n_classes]) to bound memory.
_EVAL_ELEMENTS = 1 << 26


class TrainData:
    def __init__(self, task, sp, device, dtype: torch.dtype = torch.float32, pad_to: int = 0):
        self.task = task
        self.dtype = dtype
        self.input_kind = input_kind(task)
        self.online = bool(getattr(task, "online", False))  # fresh rows every step from task.sample
        if self.online and not callable(getattr(task, "sample", None)):
            raise ConfigError(f"task {task.name!r} is online but has no sample(n_rows, generator) to draw batches")
        inputs = task.inputs.to(device)  # [n_all, n_ctx] long, or [n_all, d_in] float
        self.inputs = inputs.to(dtype) if self.input_kind == "features" else inputs
        self.labels = task.labels.to(device)  # [n_all]
        M = sp.n_members
        self.n_train = sp.n_train.to(device)  # [model]
        self.train_idx = sp.train_idx.to(device)  # [model, n_train_max], padding -> index 0
        mask = sp.train_mask.to(device)
        if pad_to > self.train_idx.shape[1]:  # train.pad_to: a fixed width, whatever the ensemble
            extra = pad_to - self.train_idx.shape[1]
            self.train_idx = torch.nn.functional.pad(self.train_idx, (0, extra))
            mask = torch.nn.functional.pad(mask, (0, extra))
        self.train_inputs = self.inputs[self.train_idx]  # [model, n_train_max, n_ctx | d_in]
        self.train_labels = self.labels[self.train_idx]  # [model, n_train_max]
        self.train_weights = mask.to(dtype) / self.n_train.clamp(min=1).unsqueeze(1).to(dtype)  # [model, n_train_max]
        # Membership weights over all inputs for the evaluation means, one per split present.
        n_all = self.inputs.shape[0]
        self.split_weights = {name: self._membership(getattr(sp, f"{name}_idx"), getattr(sp, f"{name}_mask"),
                                                     M, n_all, device)
                              for name in sp.names()}  # name -> [model, n_all]
        # Groups: an indicator [n_all, n_groups], so a group's sums are one matmul over rows.
        self.groups = task_groups(task)
        self.group_names = tuple(self.groups)
        self.group_indicator = torch.zeros(n_all, len(self.groups), dtype=torch.float64, device=device)
        for j, rows in enumerate(self.groups.values()):
            self.group_indicator[rows.to(device), j] = 1.0
        # Evaluation chunks are sized for the run's full ensemble, so retiring members (which
        # shrinks M) never changes how the survivors' inputs are split into forward passes.
        self._chunk = max(1, _EVAL_ELEMENTS // max(1, M * task.n_classes))

    def select_members(self, idx: torch.Tensor) -> None:
        """Keep the rows ``idx`` of every per-member tensor (members retired from the ensemble).

        The padded width ``n_train_max`` stays: the survivors' sums run over the same elements.
        """
        idx = idx.to(self.n_train.device)
        self.n_train = self.n_train.index_select(0, idx)
        for name in ("train_idx", "train_inputs", "train_labels", "train_weights"):
            setattr(self, name, getattr(self, name).index_select(0, idx))
        self.split_weights = {k: w.index_select(0, idx) for k, w in self.split_weights.items()}

    @property
    def w_train(self) -> torch.Tensor:
        return self.split_weights["train"]

    @property
    def w_test(self) -> torch.Tensor:
        return self.split_weights["test"]

    @property
    def train_tokens(self) -> torch.Tensor:  # the name before feature inputs existed
        return self.train_inputs

    @staticmethod
    def _membership(idx, mask, M, n_all, device) -> torch.Tensor:
        w = torch.zeros(M, n_all, device=device, dtype=torch.float64)
        w.scatter_add_(1, idx.to(device), mask.to(device, torch.float64))  # add: padding must not erase row 0
        n = w.sum(1, keepdim=True)
        return torch.where(n > 0, w / n.clamp(min=1), torch.full_like(w, float("nan")))  # no test set -> NaN

    def metric_names(self) -> tuple[str, ...]:
        """The names :meth:`evaluate` returns, in order: each split and ``all``, then per group."""
        splits = (*self.split_weights, "all")
        base = tuple(f"{s}_{k}" for s in splits for k in ("loss", "acc"))
        return base + tuple(f"{s}_{k}/{g}" for s in splits for g in self.group_names for k in ("loss", "acc"))

    def batch(self, batch_size: int, gens: list[torch.Generator]):
        """``inputs [model, B, n_ctx | d_in]``, ``labels [model, B]``, ``weights [model, B]`` (rows sum to 1).

        ``batch_size=0`` is the full batch; otherwise each member draws ``B`` of its own training
        examples uniformly with replacement (a documented simplification of epoch shuffling), from its
        own generator ``gens[m]``.
        """
        if self.online:
            return self._fresh_batch(batch_size or int(self.n_train.max()), gens)
        if batch_size == 0:
            return self.train_inputs, self.train_labels, self.train_weights
        u = torch.stack([torch.rand(batch_size, generator=g, dtype=torch.float64) for g in gens])  # [model, B]
        pos = (u.to(self.n_train.device) * self.n_train.unsqueeze(1)).long()  # [model, B]
        idx = torch.gather(self.train_idx, 1, pos)
        w = torch.full(pos.shape, 1.0 / batch_size, device=pos.device, dtype=self.dtype)
        return self.inputs[idx], self.labels[idx], w

    def _fresh_batch(self, n_rows: int, gens: list[torch.Generator]):
        """Online: member ``m`` draws ``n_rows`` new rows with ``task.sample`` from ``gens[m]``, weights 1/n_rows."""
        drawn = [self.task.sample(n_rows, g) for g in gens]
        device = self.labels.device
        x = torch.stack([d[0] for d in drawn]).to(device)  # [model, B, d_in | n_ctx]
        if self.input_kind == "features":
            x = x.to(self.dtype)
        y = torch.stack([d[1] for d in drawn]).to(device)  # [model, B]
        return x, y, torch.full(y.shape, 1.0 / n_rows, device=device, dtype=self.dtype)

    @torch.no_grad()
    def evaluate(self, model, loss: str) -> dict[str, torch.Tensor]:
        """Loss and accuracy of every split, of all inputs and of every group: each ``[model]``.

        One forward pass over all inputs. ``{split}_{loss,acc}`` for each split present and
        ``all``; ``{split}_{loss,acc}/{group}`` for each group of the task (the mean over the
        split's rows in the group). NaN where a member has no rows to average over.
        """
        M = next(iter(self.split_weights.values())).shape[0]
        n_all, chunk = self.inputs.shape[0], self._chunk
        losses, correct = [], []
        for lo in range(0, n_all, chunk):
            logits = model(self.inputs[lo:lo + chunk])  # [model, chunk, C]
            y = self.labels[lo:lo + chunk].expand(M, -1).contiguous()
            losses.append(per_example_loss(logits, y, loss).double())
            correct.append((logits.argmax(-1) == y).double())
        per_loss, per_acc = torch.cat(losses, 1), torch.cat(correct, 1)  # [model, n_all]
        out = {}
        for name, w in self.split_weights.items():
            out[f"{name}_loss"] = (per_loss * w).sum(1)
            out[f"{name}_acc"] = (per_acc * w).sum(1)
        out["all_loss"], out["all_acc"] = per_loss.mean(1), per_acc.mean(1)
        if self.group_names:
            out.update(self._group_metrics(per_loss, per_acc))
        return out

    def _group_metrics(self, per_loss: torch.Tensor, per_acc: torch.Tensor) -> dict[str, torch.Tensor]:
        G = self.group_indicator  # [n_all, n_groups]
        out = {}
        members = {name: (w > 0).double() for name, w in self.split_weights.items()}  # [model, n_all] 0/1
        members["all"] = torch.ones_like(per_loss)
        for name, inside in members.items():
            n = inside @ G  # [model, n_groups]: the split's rows in each group
            loss_sum, acc_sum = (per_loss * inside) @ G, (per_acc * inside) @ G  # [model, n_groups]
            nan = torch.full_like(n, float("nan"))
            for j, g in enumerate(self.group_names):
                out[f"{name}_loss/{g}"] = torch.where(n[:, j] > 0, loss_sum[:, j] / n[:, j].clamp(min=1), nan[:, j])
                out[f"{name}_acc/{g}"] = torch.where(n[:, j] > 0, acc_sum[:, j] / n[:, j].clamp(min=1), nan[:, j])
        return out
