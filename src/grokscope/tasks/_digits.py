"""scikit-learn's handwritten digits: real-valued 8×8 images, ten classes.

The "optical recognition of handwritten digits" set (Alpaydin & Kaynak 1998, UCI) as shipped
inside scikit-learn (``sklearn.datasets.load_digits``: 1,797 images of 8×8 pixels with integer
intensities 0..16, labels 0..9). Nothing is downloaded: the file is part of the scikit-learn wheel.

It is grokscope's offline stand-in for MNIST in Omnigrok's experiments (Liu, Michaud & Tegmark
2022, "Omnigrok: Grokking Beyond Algorithmic Data"), which train an MLP on a small subset of
MNIST after torchvision's ``ToTensor()``, i.e. pixel intensities scaled into [0, 1]. Here
``scale="unit"`` (the default) does the same for digits: features are ``pixel / 16`` in [0, 1].
``scale="raw"`` keeps the 0..16 integers (as floats). MNIST itself cannot be downloaded on
machines without network access, which is why this task exists (docs/omnigrok.md).

Rows are the images in scikit-learn's order; ``inputs [1797, 64]`` float32 (exact: k/16),
``labels [1797]``; each class is a group (``digit0`` .. ``digit9``), so every metric is also
reported per digit. The task fixes no pools: a run's split gives member ``m`` a **random**
training subset of size ``task.train_count`` (or ``train_frac``) drawn from its own data stream
(``member_seed(seed_m, DATA_STREAM)``), and every other image is its test set. Omnigrok instead
trains on MNIST's *first* N training images; a random subset per member is what lets an
ensemble average over the draw.

>>> task = Digits()
>>> task.n_all, task.d_in, task.n_classes, task.input_kind
(1797, 64, 10, 'features')
>>> float(task.inputs.min()), float(task.inputs.max()), len(task.groups)
(0.0, 1.0, 10)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokscope.errors import ConfigError
from grokscope.tasks._base import TaskBase, check_choice, set_frozen

__all__ = ["Digits", "DIGITS_SCALES"]

DIGITS_SCALES = ("unit", "raw")  # pixel/16 in [0, 1] (as ToTensor does for MNIST) | the 0..16 integers
_MAX_PIXEL = 16.0  # load_digits' intensities are integers 0..16 (4x4 blocks of a 32x32 bitmap)


def _load() -> tuple[torch.Tensor, torch.Tensor]:
    """``(pixels [1797, 64] float64, labels [1797] long)`` from the copy inside scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ConfigError("task.kind='digits': needs scikit-learn (pip install scikit-learn); "
                          "the data ships inside it, nothing is downloaded") from None
    bunch = load_digits()
    return torch.as_tensor(bunch.data, dtype=torch.float64), torch.as_tensor(bunch.target, dtype=torch.long)


@dataclass(frozen=True)
class Digits(TaskBase):
    """scikit-learn's 1,797 handwritten digits as real-valued rows (see the module docstring)."""

    scale: str = "unit"  # "unit": pixel/16 in [0, 1], as Omnigrok's MNIST after ToTensor; "raw": 0..16

    def __post_init__(self) -> None:
        scale = check_choice(self.scale, "task.scale", DIGITS_SCALES)
        pixels, labels = _load()  # [n_all, 64], [n_all]
        x = pixels / _MAX_PIXEL if scale == "unit" else pixels
        set_frozen(
            self,
            inputs=x.to(torch.float32).contiguous(),  # k/16 is exact in float32
            labels=labels,
            vocab_size=0,
            n_classes=10,
            n_ctx=0,
            name="digits",
            fourier_p=None,
            train_pool=None,
            test_pool=None,
            input_kind="features",
            d_in=int(x.shape[1]),
            groups={f"digit{c}": torch.nonzero(labels == c).reshape(-1) for c in range(10)},
        )

    def describe(self) -> str:
        how = "pixel/16 in [0, 1]" if self.scale == "unit" else "raw intensities 0..16"
        return (f"scikit-learn digits: {self.n_all} images of 8x8 pixels ({how}), 10 classes; "
                "each member trains on a random subset of its own")
