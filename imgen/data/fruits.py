"""Fruits-360 apples and bananas from ``fruits-360/{Training,Test}/<Class>/*.jpg``."""

from __future__ import annotations

import shlex
from pathlib import Path

import torch

from . import _jpeg
from ._core import DataNotFoundError, ImageData, check_size, check_split, not_found, resolve_root

# The course layout, then the name of the official GitHub repository when cloned into the root.
FOLDERS = ("fruits-360", "fruits-360-100x100")
SPLIT_FOLDER = {"train": "Training", "test": "Test"}
KINDS = ("Apple", "Banana")  # class folders starting with these; label = index of the prefix
REPO_URL = "https://github.com/fruits-360/fruits-360-100x100"
IMAGE_SIZE = (100, 100)


def load_fruits(
    split: str = "train", *, size: int = 16, root=None, download: bool = True
) -> ImageData:
    """Fruits-360 apples and bananas, resized to ``size``: ``(N, 3, size, size)`` uint8.

    Reads every class folder whose name starts with "Apple" or "Banana" in
    ``<root>/fruits-360/Training`` (or ``Test``); the 100x100 photos (a fruit turning on a white
    background) are resized with an antialiased bilinear filter. Labels are the fruit kind,
    ``classes == ("apple", "banana")``. The course's offline copy has "Apple Golden 1" and
    "Banana" (982 train, 330 test). Used in the autoencoder fruit demo (16x16, 768 inputs).

    Nothing is downloaded: the official repository is large and publishes no checksum of an
    archive; the error message gives a git command that fetches only these folders.
    ``download`` is accepted for a uniform API.
    """
    check_split(split)
    check_size(size)
    root = resolve_root(root)
    folder = _find(root, split)
    paths, labels = [], []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for label, kind in enumerate(KINDS):
            if class_dir.name.startswith(kind):
                files = sorted(class_dir.glob("*.jpg"))
                paths += files
                labels += [label] * len(files)
    if not paths:
        raise DataNotFoundError(
            f"{folder} has no images in class folders starting with {' or '.join(KINDS)}"
        )
    images = _jpeg.decode(paths, expected=IMAGE_SIZE, box=(0, 0, *IMAGE_SIZE), size=size)
    classes = tuple(kind.lower() for kind in KINDS)
    return ImageData(images, torch.tensor(labels, dtype=torch.int64), classes, "Fruits-360", split)


def _find(root: Path, split: str) -> Path:
    for name in FOLDERS:
        folder = root / name / SPLIT_FOLDER[split]
        if folder.is_dir():
            return folder
    sub = SPLIT_FOLDER[split]
    target = shlex.quote(str(root / FOLDERS[0]))
    how = (
        f"It is not downloaded automatically ({REPO_URL} is large and publishes no checksum). "
        f"Fetch just the apples and bananas with: git clone --depth 1 --filter=blob:none "
        f"--sparse {REPO_URL} {target} && git -C {target} sparse-checkout set --no-cone "
        "'/Training/Apple*/' '/Training/Banana*/' '/Test/Apple*/' '/Test/Banana*/'"
    )
    layout = [f"{FOLDERS[0]}/{sub}/Apple*/*.jpg", f"{FOLDERS[0]}/{sub}/Banana*/*.jpg"]
    raise not_found("Fruits-360", root, layout, how)
