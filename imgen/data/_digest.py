"""Digests that say a copy of a data set is the published one: of a file, a folder, CIFAR rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ._core import CorruptDataError

CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest (``"sha256"`` or ``"md5"``) of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, checksum: str) -> None:
    """Raise CorruptDataError unless ``path`` has ``checksum``, written ``"sha256:<hex>"``."""
    algorithm, expected = checksum.split(":")
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise CorruptDataError(f"{path}: {algorithm} is {actual}, expected {expected}")


def tree_digest(folder: Path, prefix: str = "", suffix: str = ".jpg") -> tuple[str, int]:
    """The content digest of the ``*suffix`` files under ``folder``, and how many there are.

    One line per file, ``<prefix><path relative to folder> <sha256 of the file>\\n``, sorted as
    strings, then the sha256 of their concatenation: the digests that ``lfw/SOURCE.md`` (prefix
    ``"lfw-deepfunneled/"``) and ``fruits-360/SOURCE.md`` (no prefix) define. It depends only
    on the names and bytes of the images, not on the archive they came in, its order or times.
    """
    lines = sorted(
        f"{prefix}{path.relative_to(folder).as_posix()} {file_digest(path, 'sha256')}\n"
        for path in folder.rglob(f"*{suffix}")
        if path.is_file()
    )
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest(), len(lines)
