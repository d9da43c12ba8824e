"""LFW deep-funneled faces from ``lfw-deepfunneled/<Person>/<Person>_NNNN.jpg``, face-cropped."""

from __future__ import annotations

import hashlib
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

FOLDER = "lfw-deepfunneled"
# Where the folder may sit under the data root: the course layout, then a bare extraction.
PLACES = (Path("lfw", FOLDER), Path(FOLDER))
ARCHIVE = "lfw-deepfunneled.tgz"  # the original archive, used when a user puts it in the root
IMAGE_SIZE = (250, 250)
# The face box (left, top, right, bottom) in the 250x250 deep-funneled image: 128 px square,
# centred horizontally, from the hairline to just below the chin.
FACE_BOX = (61, 70, 189, 198)
TEST_BUCKETS = 5  # a person is in the test split iff sha256(name) % 5 == 0: about 20% of people
# The complete set; a folder with fewer is a partial copy, which would change both splits.
COMPLETE_IMAGES, COMPLETE_PEOPLE = 13_233, 5_749


def is_test_person(name: str) -> bool:
    """True when this person's images form part of the test split (a fixed, name-based rule)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % TEST_BUCKETS == 0


def load_lfw(
    split: str = "train", *, size: int = 32, root=None, download: bool = True
) -> ImageData:
    """LFW deep-funneled face photos, cropped to the face and resized: ``(N, 3, size, size)`` uint8.

    Reads ``<root>/lfw/lfw-deepfunneled/`` (or ``<root>/lfw-deepfunneled/``), one folder of
    250x250 JPEGs per person; it must hold the complete set, 13,233 images of 5,749 people. Each
    image is cropped to the 128-pixel square ``FACE_BOX`` = (left 61, top 70, right 189, bottom
    198), hairline to chin, then resized to ``size`` with an antialiased bilinear filter. The
    split is by person, so nobody in test was seen in training: a person is in test iff
    ``int(sha256(name), 16) % 5 == 0`` (10,358 train images of 4,566 people, 2,875 test images of
    1,183). Labels index ``classes``, the sorted names of that split's people. Used in
    "Encoder-decoders on MNIST, LFW and CIFAR".

    When the folder is missing, ``download=True`` fetches a GitHub commit archive holding it
    (``sources.LFW_URL``) and keeps the folder only if its images' content digest is
    ``sources.LFW_DIGEST``. The original ``lfw-deepfunneled.tgz`` put in ``root`` is used
    instead (md5-checked, then unpacked to ``<root>/lfw/lfw-deepfunneled/``).
    """
    check_split(split)
    check_size(size)
    root = resolve_root(root)
    folder = _find(root, download)
    everyone = _people(folder)
    want_test = split == "test"
    people, paths, labels = [], [], []
    for person, files in everyone:
        if is_test_person(person) == want_test:
            paths += files
            labels += [len(people)] * len(files)
            people.append(person)
    if not paths:
        raise DataNotFoundError(f"{folder} holds no <Person>/<Person>_NNNN.jpg images for {split}")
    images = _jpeg.decode(paths, expected=IMAGE_SIZE, box=FACE_BOX, size=size)
    return ImageData(images, torch.tensor(labels, dtype=torch.int64), tuple(people), "LFW", split)


def load_lfw_all(*, border: int = 80, pool: int = 2, root=None, download: bool = True) -> ImageData:
    """Every image of LFW deep-funneled, centre-cropped and shrunk by a mean over blocks.

    ``(13233, 3, S, S)`` uint8 with ``S = (250 - 2 * border) // pool``, in a fixed order (people
    sorted by name, each person's files sorted), ``split == "all"``; labels index ``classes``,
    the sorted names of all 5,749 people. Each image loses ``border`` pixels on every side, then
    each ``pool`` x ``pool`` block becomes its mean, rounded half up. With the defaults: the
    central 90x90, halved to 45x45, which is what article D's code made with OpenCV's bilinear
    resize (at exactly half the size it averages 2x2 blocks); see :mod:`imgen.article`.
    Reads and fetches the folder as :func:`load_lfw` does.
    """
    for value, name in ((border, "border"), (pool, "pool")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    side = IMAGE_SIZE[0] - 2 * border
    if pool < 1 or side < pool or side % pool:
        raise ValueError(
            f"pool must be >= 1 and divide the {side}-pixel crop left by border={border}, "
            f"got pool={pool!r}"
        )
    everyone = _people(_find(resolve_root(root), download))
    paths = [path for _, files in everyone for path in files]
    labels = [label for label, (_, files) in enumerate(everyone) for _ in files]
    box, size = (border, border, border + side, border + side), side // pool
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for start in range(0, len(paths), 1000):  # a chunk at a time: the crops are 4x the result
        crops = _jpeg.decode(paths[start : start + 1000], expected=IMAGE_SIZE, box=box, size=side)
        blocks = crops.to(torch.int32).view(len(crops), 3, size, pool, size, pool).sum((3, 5))
        out[start : start + len(crops)] = (blocks + pool * pool // 2) // (pool * pool)
    people = tuple(person for person, _ in everyone)
    return ImageData(out, torch.tensor(labels, dtype=torch.int64), people, "LFW", "all")


def _people(folder: Path) -> list[tuple[str, list[Path]]]:
    """Every person with images in ``folder``, sorted, with their sorted files; refuses a folder
    holding less than the complete set."""
    everyone = []
    for person in sorted(folder.iterdir()):
        if person.name.startswith(".") or not person.is_dir():
            continue
        files = sorted(person.glob("*.jpg"))
        if files:
            everyone.append((person.name, files))
    images = sum(len(files) for _, files in everyone)
    if images < COMPLETE_IMAGES or len(everyone) < COMPLETE_PEOPLE:
        raise DataNotFoundError(
            f"{folder} holds {images:,} images of {len(everyone):,} people, but the complete LFW "
            f"deep-funneled has {COMPLETE_IMAGES:,} images of {COMPLETE_PEOPLE:,} people; a "
            "partial copy would change both splits. Replace it with the complete folder, or "
            f"delete it to have it downloaded from {sources.LFW_URL} (download=True)."
        )
    return everyone


def _find(root: Path, download: bool) -> Path:
    for place in PLACES:
        if (root / place).is_dir():
            return root / place
    target = root / PLACES[0]
    archive = root / ARCHIVE
    if archive.is_file():
        checksum = f"md5:{sources.LFW_ORIGINAL_MD5}"
        select = _fetch.members_under(FOLDER, ".jpg")
        return _fetch.install(target, select, _accept, archive=archive, checksum=checksum)
    how = (
        f"download=True fetches {sources.LFW_URL} (a GitHub copy of the complete set) and keeps "
        f"its data/lfw-deepfunneled/ folder once its images' content digest is "
        f"{sources.LFW_DIGEST}. Or put the original lfw-deepfunneled.tgz (md5 "
        f"{sources.LFW_ORIGINAL_MD5}) in {root}, or a copy of the folder so that "
        f"{target}/<Person>/<Person>_0001.jpg exists."
    )
    layout = [f"{place}/<Person>/<Person>_NNNN.jpg" for place in PLACES]
    error = not_found("LFW (deep-funneled)", root, layout, how)
    if not download:
        raise error
    try:
        select = _fetch.members_under(sources.LFW_MEMBER, ".jpg")
        return _fetch.install(target, select, _check_digest, url=sources.LFW_URL)
    except _fetch.FetchError as err:
        raise _fetch.offline(error, err) from err


def _accept(folder: Path, archive: Path) -> None:
    """The original archive's md5 was checked before unpacking; nothing more to check."""


def _check_digest(folder: Path, archive: Path) -> None:
    digest, count = tree_digest(folder, prefix=f"{FOLDER}/")
    if digest != sources.LFW_DIGEST:
        raise CorruptDataError(
            f"{archive}: the {count:,} images under {sources.LFW_MEMBER} have the content digest "
            f"{digest}, expected {sources.LFW_DIGEST}; nothing was kept"
        )
