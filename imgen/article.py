"""Article D's experiment as its own code ran it: the protocol of every cell of its table, as data.

The blog post's text and its Keras notebooks (GitHub ``bodavijay24/Generating-Images``) disagree
in places; the notebooks made the numbers. ``shared/ARTICLE_CODE.md`` records, cell by cell,
what they did; this module holds those facts so that the sweep, the chapters and the tests read
one definition:

- :data:`PROTOCOLS`, per data set: the preparation, the 80/20 split (sklearn's
  ``train_test_split(test_size=0.2, random_state=42)``, reproduced by :func:`split_indices`),
  the set every number was reported on, the deep model's activation and the split sizes the
  code had;
- :data:`CELLS`, the 19 cells of the blog's table (row numbers as in ARTICLE_CODE.md, section 2):
  model as built, latent the code passed, optimiser, epochs, batch size, occlusion, and the
  value the notebook printed beside the blog's;
- :func:`load_splits`: the ``(train, val, evaluation)`` images of a data set under that protocol.

Not in the blog's table, so not a cell here: the code's CIFAR deep 512 completion (test MSE
0.022840144). Taught on the "Reproducing the article" page and in the encoder-decoder chapter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from imgen import data
from imgen.models import build_model

SOURCE = "GitHub bodavijay24/Generating-Images (three Keras notebooks); see shared/ARTICLE_CODE.md"
TASKS = ("reconstruct", "complete")
OCCLUSION = "below-middle"  # rows H // 2 + 1 .. H - 1 hidden: imgen.occlusion.occlude_below_middle
SPLIT_SEED, VAL_FRACTION = 42, 0.2


@dataclass(frozen=True)
class Protocol:
    """How the article's code prepared, split and scored one data set."""

    data: str  # the imgen.data name
    name: str
    shape: tuple[int, int, int]  # (C, H, W) of the prepared images
    preparation: str
    split_of: str  # what the 80/20 split divides
    evaluated_on: str  # "test": the official test set; "val": the 20% of the split
    deep_activation: str  # of the article's deep model on this data set
    code_sizes: tuple[int, int, int]  # (train, val, evaluation) images the code had

    @property
    def occluded_rows(self) -> range:
        """The rows the completion cells hide: from ``H // 2 + 1`` to the last."""
        height = self.shape[1]
        return range(height // 2 + 1, height)


PROTOCOLS = {
    "mnist": Protocol(
        "mnist",
        "MNIST",
        (1, 28, 28),
        "pixels / 255; no crop, no resize",
        "the official 60,000 training images",
        "test",
        "relu",
        (48_000, 12_000, 10_000),
    ),
    "lfw": Protocol(
        "lfw",
        "LFW",
        (3, 45, 45),
        "deep-funneled 250x250, an 80-pixel border cropped (the central 90x90), halved to 45x45 "
        "(OpenCV bilinear at exactly half = the mean of 2x2 blocks), pixels / 255",
        "every image (the code kept the ~13,143 of lfw_attributes.txt, in tar order; here all "
        "13,233, sorted by person and file)",
        "val",
        "elu",
        (10_514, 2_629, 2_629),  # from the ~13,143 images of the attribute file
    ),
    "cifar": Protocol(
        "cifar",
        "CIFAR-100",
        (3, 32, 32),
        "pixels / 255; no crop, no resize",
        "the official training images (50,000; 20,000 in the course's offline copy)",
        "test",
        "relu",
        (40_000, 10_000, 10_000),
    ),
}
"""The article's code per data set (ARTICLE_CODE.md, sections 1 and 4)."""


@dataclass(frozen=True)
class ArticleCell:
    """One cell of the article's table: what the blog says and what its code really ran."""

    row: int  # in ARTICLE_CODE.md's table
    data: str
    blog_model: str  # "basic" or "deep", as the blog labels the cell
    blog_latent: int
    task: str
    blog_mse: float
    printed_mse: float  # the notebook's model.evaluate output
    model: str  # the imgen.models name of what the code built
    latent: int  # the latent the code passed
    optimiser: str  # "adam" or "adamax", Keras defaults (learning rate 0.001)
    epochs: int
    batch_size: int = 32  # Keras' default: the code never set it
    note: str = ""

    @property
    def id(self) -> str:
        """``data/model/latent/task`` as the blog labels it, e.g. ``lfw/deep/16/reconstruct``."""
        return f"{self.data}/{self.blog_model}/{self.blog_latent}/{self.task}"

    @property
    def protocol(self) -> Protocol:
        return PROTOCOLS[self.data]

    @property
    def occlusion(self) -> str | None:
        """The :mod:`imgen.occlusion` kind of a completion cell, None for reconstruction."""
        return OCCLUSION if self.task == "complete" else None

    @property
    def occluded_rows(self) -> range:
        """The hidden rows (empty for reconstruction)."""
        return self.protocol.occluded_rows if self.task == "complete" else range(0)

    @property
    def evaluated_on(self) -> str:
        return self.protocol.evaluated_on

    @property
    def model_options(self) -> dict:
        """Keyword arguments of :func:`imgen.models.build_model` for this cell's model."""
        options = {"in_shape": self.protocol.shape, "latent": self.latent}
        if self.model == "article-deep":
            options["activation"] = self.protocol.deep_activation
        return options

    @property
    def kernel(self) -> int | None:
        """The convolutions' kernel size, None for the (dense) basic model."""
        return {"article-deep": 5, "article-3layer": 3}.get(self.model)

    @property
    def activation(self) -> str | None:
        """The hidden layers' activation, None for the (linear) basic model."""
        if self.model == "article-deep":
            return self.protocol.deep_activation
        return "relu" if self.model == "article-3layer" else None

    def build(self):
        """A fresh model as the cell's code built it (Keras initialisation)."""
        return build_model(self.model, **self.model_options)


def _cell(row, cell, blog_mse, printed, model, latent, optimiser, epochs, note=""):
    data_name, blog_model, blog_latent, task = cell.split()
    return ArticleCell(
        row,
        data_name,
        blog_model,
        int(blog_latent),
        task,
        blog_mse,
        printed,
        f"article-{model}",
        latent,
        optimiser,
        epochs,
        note=note,
    )


CELLS = (
    _cell(1, "mnist basic 32 reconstruct", 0.017, 0.017000705, "basic", 32, "adam", 20),
    _cell(
        2,
        "mnist basic 32 complete",
        0.023,
        0.023388268,
        "basic",
        64,
        "adam",
        10,
        "the code's latent is 64",
    ),
    _cell(3, "mnist deep 32 reconstruct", 0.0030, 0.003037792, "deep", 32, "adamax", 15),
    _cell(4, "mnist deep 32 complete", 0.015, 0.015031781, "deep", 32, "adam", 15),
    _cell(5, "mnist deep 128 complete", 0.0147, 0.014737512, "deep", 128, "adam", 15),
    _cell(6, "mnist deep 512 complete", 0.0146, 0.014567428, "deep", 512, "adam", 15),
    _cell(7, "lfw basic 32 reconstruct", 0.0056, 0.005590399, "basic", 32, "adam", 15),
    _cell(
        8,
        "lfw basic 32 complete",
        0.0078,
        0.007826910,
        "basic",
        64,
        "adam",
        20,
        "the code's latent is 64; at least 20 epochs (a 10-epoch loop continued), likely 20",
    ),
    _cell(
        9,
        "lfw deep 16 reconstruct",
        0.0068,
        0.006806401,
        "3layer",
        16,
        "adam",
        25,
        "a smaller model: 3 convolutions of 3x3, ReLU",
    ),
    _cell(
        10,
        "lfw deep 32 reconstruct",
        0.0052,
        0.005318339,
        "deep",
        32,
        "adamax",
        15,
        "printed 0.0053, the blog says 0.0052",
    ),
    _cell(11, "lfw deep 64 reconstruct", 0.0038, 0.003776259, "deep", 64, "adam", 15),
    _cell(12, "lfw deep 64 complete", 0.0080, 0.007999518, "deep", 64, "adam", 20),
    _cell(13, "lfw deep 128 complete", 0.0076, 0.007584051, "deep", 128, "adam", 20),
    _cell(
        14,
        "lfw deep 512 complete",
        0.0078,
        0.007501305,
        "deep",
        512,
        "adam",
        25,
        "printed 0.0075, the blog says 0.0078",
    ),
    _cell(
        15,
        "cifar basic 32 reconstruct",
        0.0132,
        0.013878143,
        "basic",
        32,
        "adam",
        10,
        "printed 0.0139, the blog says 0.0132 (a training-loss plateau)",
    ),
    _cell(
        16,
        "cifar basic 32 complete",
        0.0232,
        0.023243977,
        "basic",
        64,
        "adam",
        10,
        "the code's latent is 64",
    ),
    _cell(
        17,
        "cifar deep 32 reconstruct",
        0.011,
        0.011609114,
        "deep",
        32,
        "adamax",
        15,
        "printed 0.0116, the blog truncates it to 0.011",
    ),
    _cell(18, "cifar deep 64 complete", 0.0234, 0.023406150, "deep", 64, "adam", 10),
    _cell(19, "cifar deep 128 complete", 0.0231, 0.023122648, "deep", 128, "adam", 10),
)
"""The 19 cells of the blog's table, in its order (ARTICLE_CODE.md, section 2)."""


def cell(cell_id: str) -> ArticleCell:
    """The cell with this id, e.g. ``"lfw/deep/16/reconstruct"``."""
    for each in CELLS:
        if each.id == cell_id:
            return each
    raise ValueError(f"no article cell {cell_id!r}; cells are {', '.join(c.id for c in CELLS)}")


def split_indices(n: int, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED):
    """``(train, val)`` index arrays of sklearn's ``train_test_split(range(n), test_size=
    val_fraction, random_state=seed)``: the first ``ceil(val_fraction * n)`` of NumPy's
    ``RandomState(seed).permutation(n)`` are ``val``, the rest ``train``, both in that order.

    60,000 MNIST images give 48,000 and 12,000, exactly the article's split of them.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be a whole number >= 2, got {n!r}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    n_val = math.ceil(val_fraction * n)
    order = np.random.RandomState(seed).permutation(n)
    return order[n_val:], order[:n_val]


class ArticleSplits(NamedTuple):
    """A data set under the article's protocol: ``evaluation`` is what its numbers were scored on
    (the official test set, or ``val`` itself for LFW)."""

    train: data.ImageData
    val: data.ImageData
    evaluation: data.ImageData


def load_splits(name: str, *, root=None, download: bool = True) -> ArticleSplits:
    """The ``(train, val, evaluation)`` images of data set ``name`` ("mnist", "lfw", "cifar")
    prepared and split as the article's code did (:data:`PROTOCOLS`); uint8 ``ImageData``.

    MNIST and CIFAR-100: :func:`split_indices` of the official training set (in the loaders'
    order), evaluation = the official test set. LFW: :func:`imgen.data.load_lfw_all` (13,233
    images at 45x45), split by image, evaluation = val. ``root`` and ``download`` go to the loader.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"unknown data set {name!r}; the article's are {', '.join(PROTOCOLS)}")
    if name == "lfw":
        whole = data.load_lfw_all(root=root, download=download)
    else:
        whole = data.load(name, "train", root=root, download=download)
    train_index, val_index = split_indices(len(whole))
    train, val = _part(whole, train_index, "train"), _part(whole, val_index, "val")
    evaluation = val if name == "lfw" else data.load(name, "test", root=root, download=download)
    return ArticleSplits(train, val, evaluation)


def _part(whole: data.ImageData, index: np.ndarray, part: str) -> data.ImageData:
    index = torch.from_numpy(index)
    labels = None if whole.labels is None else whole.labels[index]
    return data.ImageData(whole.images[index].contiguous(), labels, whole.classes, whole.name, part)
