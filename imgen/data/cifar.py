"""CIFAR-10 and CIFAR-100 from their "python version" pickles, read with a restricted unpickler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import _files
from ._core import (
    CorruptDataError,
    DataNotFoundError,
    ImageData,
    check_split,
    not_found,
    resolve_root,
)

URL = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class _Layout:
    name: str
    folder: str
    archive: str
    md5: str  # the publisher's checksum of the archive (local pickles are never checked)
    meta: str
    files: dict  # split -> data files in the folder

    def paths(self, split: str) -> list[str]:
        """The expected files, for error messages ("data_batch_1 .. data_batch_5" kept short)."""
        names = self.files[split]
        shown = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
        return [f"{self.folder}/{self.meta}", f"{self.folder}/{shown}"]


CIFAR10 = _Layout(
    name="CIFAR-10",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    meta="batches.meta",
    files={"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
)
CIFAR100 = _Layout(
    name="CIFAR-100",
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    meta="meta",
    files={"train": ["train"], "test": ["test"]},
)
IMAGE_BYTES = 3 * 32 * 32


def load_cifar10(split: str = "train", *, root=None, download: bool = True) -> ImageData:
    """CIFAR-10: 32x32 colour photos of 10 classes, ``(N, 3, 32, 32)`` uint8.

    Reads ``<root>/cifar-10-batches-py/`` (``batches.meta``, ``data_batch_1`` .. ``_5``,
    ``test_batch``). The train split is every ``data_batch_*`` present (50,000 images in the
    full set; 20,000 in the course's offline copy, which has batches 1 and 2). When the folder
    is missing, ``download=True`` fetches ``cifar-10-python.tar.gz`` (163 MiB, md5-checked).
    Stands in for CIFAR-100 in "Encoder-decoders on MNIST, LFW and CIFAR" when that is absent.
    """
    check_split(split)
    root = resolve_root(root)
    folder = _ensure(CIFAR10, root, split, download)
    classes = _label_names(folder / CIFAR10.meta, "label_names")
    paths = [folder / f for f in CIFAR10.files[split] if (folder / f).is_file()]
    if not paths:
        raise not_found(CIFAR10.name, root, CIFAR10.paths(split), _how(CIFAR10, root))
    return _read(paths, "labels", classes, CIFAR10.name, split)


def load_cifar100(
    split: str = "train", *, root=None, download: bool = True, labels: str = "fine"
) -> ImageData:
    """CIFAR-100: 50,000 train or 10,000 test 32x32 colour photos, ``(N, 3, 32, 32)`` uint8.

    ``labels="fine"`` gives the 100 classes, ``"coarse"`` the 20 superclasses. Reads
    ``<root>/cifar-100-python/{train,test,meta}``; when missing, ``download=True`` fetches
    ``cifar-100-python.tar.gz`` (161 MiB, md5-checked). Images come in the canonical order of
    :func:`canonical_order`, the same in every copy. The CIFAR of every chapter (``"cifar"``).
    """
    check_split(split)
    if labels not in ("fine", "coarse"):
        raise ValueError(f"labels must be 'fine' or 'coarse', got {labels!r}")
    root = resolve_root(root)
    folder = _ensure(CIFAR100, root, split, download)
    classes = _label_names(folder / CIFAR100.meta, f"{labels}_label_names")
    path = folder / CIFAR100.files[split][0]
    if not path.is_file():
        raise not_found(CIFAR100.name, root, CIFAR100.paths(split), _how(CIFAR100, root))
    return _read([path], f"{labels}_labels", classes, CIFAR100.name, split)


def load_cifar(
    split: str = "train", *, root=None, download: bool = True, labels: str = "fine"
) -> ImageData:
    """The course's CIFAR, which is CIFAR-100 everywhere: :func:`load_cifar100` under another name.

    ``(N, 3, 32, 32)`` uint8 in the canonical order of :func:`load_cifar100`; ``labels`` is
    ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses). Used from "CNN basics" on.
    """
    return load_cifar100(split, root=root, download=download, labels=labels)


def _how(layout: _Layout, root: Path) -> str:
    return (
        f"download=True fetches {URL}{layout.archive} and unpacks its {layout.folder}/ folder; "
        f"or put that archive (md5 {layout.md5}) or the unpacked folder in {root} yourself."
    )


def _ensure(layout: _Layout, root: Path, split: str, download: bool) -> Path:
    """The set's folder, unpacked from its archive first if only the archive is there."""
    folder = root / layout.folder
    if folder.is_dir():
        return folder
    error = not_found(layout.name, root, layout.paths(split), _how(layout, root))
    archive = root / layout.archive
    fetched = False
    if not archive.is_file():
        if not download:
            raise error
        try:
            _files.download(URL + layout.archive, archive, f"md5:{layout.md5}")
        except _files.NETWORK_ERRORS as err:
            raise DataNotFoundError(f"{error} The download failed: {err}") from err
        fetched = True
    else:
        _files.verify(archive, f"md5:{layout.md5}")
    prefix = layout.folder + "/"
    _files.extract(
        archive, root, lambda name: name.rstrip("/") == layout.folder or name.startswith(prefix)
    )
    if fetched:
        archive.unlink()
    if not folder.is_dir():
        raise CorruptDataError(f"{archive}: has no {layout.folder}/ folder")
    return folder


def _as_str_keys(obj, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise CorruptDataError(f"{path}: expected a dict, the pickle holds a {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _get(batch: dict, key: str, path: Path):
    if key not in batch:
        raise CorruptDataError(f"{path}: key {key!r} missing (found {sorted(map(str, batch))})")
    return batch[key]


def _label_names(path: Path, key: str) -> tuple[str, ...]:
    if not path.is_file():
        raise DataNotFoundError(f"{path} is missing; the CIFAR folder needs its meta file")
    names = _get(_as_str_keys(_files.load_pickle(path), path), key, path)
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


def _read(paths: list[Path], label_key: str, classes, name: str, split: str) -> ImageData:
    images, labels = [], []
    for path in paths:
        batch = _as_str_keys(_files.load_pickle(path), path)
        data, batch_labels = _get(batch, "data", path), _get(batch, label_key, path)
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
            raise CorruptDataError(f"{path}: 'data' must be a 2-D uint8 array, got {_what(data)}")
        if data.shape[1] != IMAGE_BYTES:
            raise CorruptDataError(
                f"{path}: 'data' rows must hold {IMAGE_BYTES} bytes (3x32x32), got {data.shape[1]}"
            )
        try:
            batch_labels = np.asarray(batch_labels, dtype=np.int64)
        except (TypeError, ValueError) as err:
            raise CorruptDataError(f"{path}: {label_key!r} is not a list of ints ({err})") from err
        if batch_labels.shape != (len(data),):
            raise CorruptDataError(
                f"{path}: {len(data)} images but {batch_labels.size} entries in {label_key!r}"
            )
        if batch_labels.size and not 0 <= batch_labels.min() <= batch_labels.max() < len(classes):
            raise CorruptDataError(f"{path}: labels outside 0..{len(classes) - 1}")
        images.append(data)
        labels.append(batch_labels)
    images, labels = np.concatenate(images), np.concatenate(labels)
    order = canonical_order(images)
    return ImageData(
        images=torch.from_numpy(images[order].reshape(-1, 3, 32, 32)),
        labels=torch.from_numpy(labels[order]),
        classes=classes,
        name=name,
        split=split,
    )


def canonical_order(rows: np.ndarray) -> np.ndarray:
    """The indices that sort the ``(N, 3072)`` uint8 rows lexicographically, as bytes.

    The loaders return CIFAR in this order, so that image ``i`` (and a seeded subset) is the same
    picture in every copy of a split: the publisher's archive, a copy whose files list the images
    in another order (the course's offline copy), or a re-pickled one. The sha256 of the sorted
    rows is the order-free digest that ``cifar-100-python/SOURCE.md`` gives.
    """
    rows = np.ascontiguousarray(rows)
    return np.argsort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")


def _what(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
