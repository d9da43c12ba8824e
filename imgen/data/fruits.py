"""Fruits-360 apples and bananas from ``fruits-360/{Training,Test}/<Class>/*.jpg``."""

from __future__ import annotations

from pathlib import Path

import torch

from . import _fetch, _jpeg, sources
from ._core import (
    CorruptDataError,
    DataNotFoundError,
    ImageData,
    check_size,
    check_split,
    not_found,
    resolve_root,
)
from ._digest import tree_digest

# The course layout, then the name of the official GitHub repository when cloned into the root.
FOLDERS = ("fruits-360", "fruits-360-100x100")
SPLIT_FOLDER = {"train": "Training", "test": "Test"}
KINDS = ("Apple", "Banana")  # class folders starting with these; label = index of the prefix
IMAGE_SIZE = (100, 100)


def load_fruits(
    split: str = "train", *, size: int = 16, root=None, download: bool = True
) -> ImageData:
    """Fruits-360 apples and bananas, resized to ``size``: ``(N, 3, size, size)`` uint8.

    Reads every class folder whose name starts with "Apple" or "Banana" in
    ``<root>/fruits-360/Training`` (or ``Test``); the 100x100 photos (a fruit turning on a white
    background) are resized with an antialiased bilinear filter. Labels are the fruit kind,
    ``classes == ("apple", "banana")``; a split without apples or without bananas is refused.
    The course's copy has "Apple Golden 1" and "Banana" (982 train, 330 test). Used in the
    autoencoder fruit demo (16x16, 768 inputs).

    When the folder is missing, ``download=True`` fetches a GitHub commit archive of an early
    release (``sources.FRUITS_URL``) and keeps those two classes only if their content digest
    is ``sources.FRUITS_DIGEST``.
    """
    check_split(split)
    check_size(size)
    root = resolve_root(root)
    folder = _find(root, split, download)
    found = {kind: [] for kind in KINDS}
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for kind in KINDS:
            if class_dir.name.startswith(kind):
                found[kind] += sorted(class_dir.glob("*.jpg"))
    missing = [kind for kind in KINDS if not found[kind]]
    if missing:
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        raise DataNotFoundError(
            f"Fruits-360 in {folder} is incomplete: no {' or '.join(missing)} class folder with "
            f"images (expected {', '.join(f'{kind}*/*.jpg' for kind in missing)}, e.g. "
            f"{folder / sources.FRUITS_CLASSES[KINDS.index(missing[0])]}; found "
            f"{', '.join(classes) or 'no class folders'}). Copy the missing class there, or "
            f"delete {folder.parent} to have the set downloaded again."
        )
    paths = found[KINDS[0]] + found[KINDS[1]]
    labels = [0] * len(found[KINDS[0]]) + [1] * len(found[KINDS[1]])
    images = _jpeg.decode(paths, expected=IMAGE_SIZE, box=(0, 0, *IMAGE_SIZE), size=size)
    classes = tuple(kind.lower() for kind in KINDS)
    return ImageData(images, torch.tensor(labels, dtype=torch.int64), classes, "Fruits-360", split)


def _find(root: Path, split: str, download: bool) -> Path:
    sub = SPLIT_FOLDER[split]
    for name in FOLDERS:
        if (root / name).is_dir():
            folder = root / name / sub
            if not folder.is_dir():
                raise DataNotFoundError(
                    f"Fruits-360 in {root / name} is incomplete: {sub}/ is missing (expected "
                    f"Training/ and Test/, each with Apple*/ and Banana*/ class folders). Copy "
                    f"it there, or delete {root / name} to have the set downloaded again."
                )
            return folder
    target = root / FOLDERS[0]
    classes = ",".join(sources.FRUITS_CLASSES)
    how = (
        f"download=True fetches {sources.FRUITS_URL} (a GitHub copy of an early release) and "
        f"keeps fruits-360-small/{{Training,Validation}}/{{{classes}}} as "
        f"{target}/{{Training,Test}}/... once their content digest is {sources.FRUITS_DIGEST}; "
        "or copy those folders there yourself."
    )
    layout = [f"{FOLDERS[0]}/{sub}/Apple*/*.jpg", f"{FOLDERS[0]}/{sub}/Banana*/*.jpg"]
    error = not_found("Fruits-360", root, layout, how)
    if not download:
        raise error
    try:
        _fetch.install(target, _select, _check_digest, url=sources.FRUITS_URL)
    except _fetch.FetchError as err:
        raise _fetch.offline(error, err) from err
    return target / sub


def _select(name: str) -> str | None:
    """``<top>/fruits-360-small/Validation/Banana/x.jpg`` -> ``Test/Banana/x.jpg``; the two
    kept classes only."""
    rest = _fetch.members_under(sources.FRUITS_MEMBER, ".jpg")(name)
    parts = rest.split("/") if rest else []
    if len(parts) != 3 or parts[0] not in sources.FRUITS_SPLITS:
        return None
    split, cls, file = parts
    if cls not in sources.FRUITS_CLASSES:
        return None
    return f"{sources.FRUITS_SPLITS[split]}/{cls}/{file}"


def _check_digest(folder: Path, archive: Path) -> None:
    digest, count = tree_digest(folder)
    if digest != sources.FRUITS_DIGEST:
        raise CorruptDataError(
            f"{archive}: the {count:,} images kept from {sources.FRUITS_MEMBER} have the content "
            f"digest {digest}, expected {sources.FRUITS_DIGEST}; nothing was kept"
        )
