"""The in-memory data set (:class:`ImageData`), the two data errors, and argument checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from imgen import settings

from ._rows import rows_digest

SPLITS = ("train", "test")  # what the loaders read
# What an ImageData may be: a loader's split, a part held out of a training split ("val", as in
# imgen.article), or a whole set that has no official split ("all").
PARTS = (*SPLITS, "val", "all")


class DataNotFoundError(FileNotFoundError):
    """A data set is not in the data folder and could not be fetched.

    The message names the set, the folder searched, the files expected there, the
    ``IMGEN_DATA`` variable and where to get the data.
    """


class CorruptDataError(RuntimeError):
    """A data file exists but is not what its format promises (truncated, wrong size, unsafe).

    The message names the file and what was wrong with it.
    """


@dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    """A whole data set in memory, as one uint8 tensor of images and one tensor of labels.

    ``images`` is ``(N, C, H, W)`` ``torch.uint8`` (0..255, contiguous); ``labels`` is ``(N,)``
    ``torch.int64`` indexing ``classes``, or ``None``. Images stay uint8 (a quarter of the memory
    of float32); :meth:`float` converts a batch to float32 in 0..1 when a model needs it.
    Made by the loaders of the data chapter and used by every chapter after it.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    classes: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be a (N, C, H, W) torch.uint8 tensor, got {_describe(images)}"
            )
        if not images.is_contiguous():
            raise ValueError("images must be contiguous; call .contiguous() first")
        if labels is not None:
            if (
                not isinstance(labels, torch.Tensor)
                or labels.dtype != torch.int64
                or labels.ndim != 1
            ):
                raise ValueError(
                    f"labels must be a (N,) torch.int64 tensor, got {_describe(labels)}"
                )
            if len(labels) != len(images):
                raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if self.split not in PARTS:
            raise ValueError(f"split must be one of {PARTS}, got {self.split!r}")
        object.__setattr__(self, "classes", tuple(self.classes))

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        c, h, w = self.shape
        return (
            f"ImageData({self.name} {self.split}: {len(self)} images of {c}x{h}x{w} uint8, "
            f"{len(self.classes)} classes)"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one image, ``(C, H, W)``."""
        return tuple(self.images.shape[1:])

    def float(self, index=None) -> torch.Tensor:
        """The images (all, or ``images[index]``) as float32 in 0..1, ``(N, C, H, W)``."""
        images = self.images if index is None else self.images[index]
        return images.to(torch.float32).div_(255)

    def fingerprint(self) -> str:
        """A sha256 of the images that ignores their order: the hex digest of the concatenated
        rows (one image's bytes each) sorted as bytes.

        Two copies of a split give the same fingerprint exactly when they hold the same pictures.
        Pretrained manifests record the fingerprint of the test split they were scored on.
        """
        return rows_digest(self.images.reshape(len(self), -1).numpy())

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """``n`` images drawn at random without replacement (the same ones for the same seed).

        They keep the order they have in the full set. Quick mode uses this to shrink a set.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(self):
            raise ValueError(
                f"subset size must be an int from 0 to {len(self)} (the size of {self.name} "
                f"{self.split}), got {n!r}"
            )
        generator = torch.Generator().manual_seed(seed)
        index = torch.randperm(len(self), generator=generator)[:n].sort().values
        labels = None if self.labels is None else self.labels[index]
        return ImageData(self.images[index], labels, self.classes, self.name, self.split)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_split(split: str) -> str:
    """``split`` if it is ``"train"`` or ``"test"``, else a ValueError saying so."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def check_size(size: int) -> int:
    """``size`` if it is a positive int, else a ValueError saying so."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int (pixels per side), got {size!r}")
    return size


def resolve_root(root) -> Path:
    """``root`` as a Path, or the data folder of :func:`imgen.settings.data_root` when None."""
    return settings.data_root() if root is None else Path(root).expanduser()


def not_found(name: str, root: Path, layout: list[str], how: str) -> DataNotFoundError:
    """The one error for a missing set: which set, where we looked, what we expected, what to do."""
    expected = ", ".join(layout)
    return DataNotFoundError(
        f"{name} was not found in {root} (expected {expected} under that folder); if it is "
        f"elsewhere, set the {settings.DATA_ENV} environment variable to that folder. {how}"
    )
