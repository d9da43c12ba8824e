"""MNIST from its original gzipped IDX files in ``MNIST/raw/``."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from . import _fetch, sources
from ._core import CorruptDataError, ImageData, check_split, not_found, resolve_root

FOLDER = Path("MNIST", "raw")
PREFIX = {"train": "train", "test": "t10k"}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def load_mnist(split: str = "train", *, root=None, download: bool = True) -> ImageData:
    """MNIST handwritten digits: 60,000 train or 10,000 test images, ``(N, 1, 28, 28)`` uint8.

    Labels are the digits, ``classes == ("0", ..., "9")``. Reads the split's two original IDX
    archives from ``<root>/MNIST/raw/``; with ``download=True`` missing ones are fetched from
    torchvision's mirror (``sources.MNIST_URL``, 11.6 MB for all four) and checked against their
    sha256. Used in the data chapter and in "Encoder-decoders on MNIST, LFW and CIFAR".
    """
    check_split(split)
    root = resolve_root(root)
    names = [f"{PREFIX[split]}-images-idx3-ubyte.gz", f"{PREFIX[split]}-labels-idx1-ubyte.gz"]
    paths = [root / FOLDER / name for name in names]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        how = (
            f"load_mnist(download=True) fetches {' and '.join(names)} from {sources.MNIST_URL} "
            f"into {root / FOLDER}; or copy them there yourself."
        )
        error = not_found("MNIST", root, [str(FOLDER / name) for name in names], how)
        if not download:
            raise error
        try:
            for path in missing:
                checksum = f"sha256:{sources.MNIST_SHA256[path.name]}"
                _fetch.fetch(sources.MNIST_URL + path.name, path, checksum)
        except _fetch.FetchError as err:
            raise _fetch.offline(error, err) from err
    images = read_idx(paths[0], IMAGES_MAGIC)
    labels = read_idx(paths[1], LABELS_MAGIC)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise CorruptDataError(
            f"{paths[0]}: expected 28x28 images, one per label in {paths[1].name} "
            f"({len(labels)}), got {images.shape}"
        )
    if labels.size and labels.max() > 9:
        raise CorruptDataError(f"{paths[1]}: labels must be digits 0..9, found {labels.max()}")
    return ImageData(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=tuple(str(d) for d in range(10)),
        name="MNIST",
        split=split,
    )


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array in a gzipped IDX file whose header has ``magic`` (2051 images, 2049 labels).

    IDX is a big-endian header (magic, then one int32 per dimension) followed by the raw bytes.
    Any mismatch (bad gzip, wrong magic, byte count not equal to the product of the dimensions)
    raises CorruptDataError naming the file.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptDataError(f"{path}: not a readable gzip file ({err})") from err
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise CorruptDataError(f"{path}: IDX magic number is {found}, expected {magic}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise CorruptDataError(
            f"{path}: header says {'x'.join(map(str, dims))} uint8 ({expected} bytes with the "
            f"header), the file holds {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
