"""CIFAR-10 and CIFAR-100 from their "python version" pickles, read with a restricted unpickler."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import _fetch, _files, sources
from ._core import (
    CorruptDataError,
    DataNotFoundError,
    ImageData,
    check_split,
    not_found,
    resolve_root,
)
from ._digest import file_digest
from ._rows import byte_order, rows_digest

URL = sources.CIFAR_URL


@dataclass(frozen=True)
class _Layout:
    name: str
    folder: str
    archive: str
    md5: str  # the publisher's checksum of the archive (unpacked pickles are not checked)
    meta: str
    files: dict  # split -> data files in the folder
    # split -> accepted order-free digests of its images, for an archive whose md5 differs
    rows_sha256: dict | None = None

    def paths(self, split: str) -> list[str]:
        """The expected files, for error messages ("data_batch_1 .. data_batch_5" kept short)."""
        names = self.files[split]
        shown = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
        return [f"{self.folder}/{self.meta}", f"{self.folder}/{shown}"]

    def every_file(self) -> list[str]:
        """Every file a complete copy holds: meta, then the training and test files."""
        return [self.meta, *self.files["train"], *self.files["test"]]


CIFAR10 = _Layout(
    name="CIFAR-10",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    md5=sources.CIFAR10_MD5,
    meta="batches.meta",
    files={"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
)
CIFAR100 = _Layout(
    name="CIFAR-100",
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    md5=sources.CIFAR100_MD5,
    meta="meta",
    files={"train": ["train"], "test": ["test"]},
    rows_sha256=sources.CIFAR100_ROWS_SHA256,
)
IMAGE_BYTES = 3 * 32 * 32


def load_cifar10(split: str = "train", *, root=None, download: bool = True) -> ImageData:
    """CIFAR-10: 32x32 colour photos of 10 classes, ``(N, 3, 32, 32)`` uint8.

    Reads ``<root>/cifar-10-batches-py/`` (``batches.meta``, ``data_batch_1`` .. ``_5``,
    ``test_batch``; a folder missing any of them is refused as incomplete): 50,000 train or
    10,000 test images. When the folder is missing, ``download=True`` fetches
    ``cifar-10-python.tar.gz`` (163 MiB, md5-checked). Not used by the chapters, whose CIFAR is
    CIFAR-100; kept for readers who want the 10-class set.
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
    ``cifar-100-python.tar.gz`` (161 MiB), accepted by its md5 or by the order-free digests of
    its images (``sources.CIFAR100_ROWS_SHA256``). Images come in the canonical order of
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
    accepted = f"md5 {layout.md5}" + (" or the same images" if layout.rows_sha256 else "")
    return (
        f"download=True fetches {URL}{layout.archive} and unpacks its {layout.folder}/ folder; "
        f"or put that archive ({accepted}) or the unpacked folder in {root} yourself."
    )


def _ensure(layout: _Layout, root: Path, split: str, download: bool) -> Path:
    """The set's complete folder; unpacked from its archive first (the user's, left in ``root``,
    or downloaded), which must pass :func:`_check_archive`."""
    folder = root / layout.folder
    if folder.is_dir():
        missing = [name for name in layout.every_file() if not (folder / name).is_file()]
        if missing:
            raise DataNotFoundError(
                f"{layout.name} in {folder} is incomplete: {', '.join(missing)} missing (a "
                f"complete copy holds {', '.join(layout.every_file())}). Copy the missing files "
                "there, or delete the folder to have it downloaded again."
            )
        return folder
    error = not_found(layout.name, root, layout.paths(split), _how(layout, root))
    archive = root / layout.archive
    if not archive.is_file():
        archive = None
        if not download:
            raise error
    # With digests to fall back on, the md5 is checked after unpacking, in _check_archive.
    checksum = None if layout.rows_sha256 else f"md5:{layout.md5}"
    check = partial(_check_archive, layout)
    try:
        url = None if archive else URL + layout.archive
        select = _fetch.members_under(layout.folder)
        _fetch.install(folder, select, check, url=url, archive=archive, checksum=checksum)
    except _fetch.FetchError as err:
        raise _fetch.offline(error, err) from err
    return folder


def _check_archive(layout: _Layout, folder: Path, archive: Path) -> None:
    """Raise CorruptDataError unless ``folder``, unpacked from ``archive``, is the data set:
    every file there, and the archive's md5 the published one or, for CIFAR-100, the images of
    each split those of :data:`imgen.data.sources.CIFAR100_ROWS_SHA256`."""
    missing = [name for name in layout.every_file() if not (folder / name).is_file()]
    if missing:
        raise CorruptDataError(
            f"{archive}: {layout.folder}/ lacks {', '.join(missing)}; nothing was kept"
        )
    if not layout.rows_sha256:
        return  # the archive's md5 was checked before unpacking
    md5 = file_digest(archive, "md5")
    if md5 == layout.md5:
        return
    for split, accepted in layout.rows_sha256.items():
        path = folder / layout.files[split][0]
        data = _get(_as_str_keys(_files.load_pickle(path), path), "data", path)
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            raise CorruptDataError(f"{path}: 'data' must be a 2-D array, got {_what(data)}")
        digest = rows_digest(data)
        if digest not in accepted:
            raise CorruptDataError(
                f"{archive}: md5 is {md5}, not the published {layout.md5}, and the {split} "
                f"images' order-free digest is {digest}, not {' or '.join(sorted(accepted))}: "
                f"these are not the {layout.name} images, so nothing was kept"
            )


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
    return byte_order(rows)


def _what(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
