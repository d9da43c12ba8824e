"""LFW deep-funneled faces from ``lfw-deepfunneled/<Person>/<Person>_NNNN.jpg``, face-cropped."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from . import _files, _jpeg
from ._core import DataNotFoundError, ImageData, check_size, check_split, not_found, resolve_root

FOLDER = "lfw-deepfunneled"
# Where the folder may sit under the data root: the course layout, then a bare extraction.
PLACES = (Path("lfw", FOLDER), Path(FOLDER))
ARCHIVE = "lfw-deepfunneled.tgz"
ARCHIVE_MD5 = "68331da3eb755a505a502b5aacb3c201"  # as published by LFW and recorded by torchvision
ORIGINAL_URL = "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
MIRROR_URL = "https://www.kaggle.com/datasets/jessicali9530/lfw-dataset"
IMAGE_SIZE = (250, 250)
# The face box (left, top, right, bottom) in the 250x250 deep-funneled image: 128 px square,
# centred horizontally, from the hairline to just below the chin.
FACE_BOX = (61, 70, 189, 198)
TEST_BUCKETS = 5  # a person is in the test split iff sha256(name) % 5 == 0: about 20% of people


def is_test_person(name: str) -> bool:
    """True when this person's images form part of the test split (a fixed, name-based rule)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % TEST_BUCKETS == 0


def load_lfw(
    split: str = "train", *, size: int = 32, root=None, download: bool = True
) -> ImageData:
    """LFW deep-funneled face photos, cropped to the face and resized: ``(N, 3, size, size)`` uint8.

    Reads ``<root>/lfw/lfw-deepfunneled/`` (or ``<root>/lfw-deepfunneled/``), one folder of
    250x250 JPEGs per person. Each image is cropped to the 128-pixel square ``FACE_BOX`` =
    (left 61, top 70, right 189, bottom 198), hairline to chin, then resized to ``size`` with an
    antialiased bilinear filter. The split is by person, so nobody in test was seen in
    training: a person is in test iff ``int(sha256(name), 16) % 5 == 0``, which holds for the
    full set (13,233 images) and any subset of it alike. Labels index ``classes``, the sorted
    names of that split's people. Used in "Encoder-decoders on MNIST, LFW and CIFAR".

    The original host is gone and no mirror publishes a checksum, so nothing is downloaded: put
    the folder, or the original ``lfw-deepfunneled.tgz`` (md5-checked, then unpacked), in
    ``root``. ``download`` is accepted for a uniform API.
    """
    check_split(split)
    check_size(size)
    root = resolve_root(root)
    folder = _find(root)
    want_test = split == "test"
    people, paths, labels = [], [], []
    for person in sorted(folder.iterdir()):
        if person.name.startswith(".") or is_test_person(person.name) != want_test:
            continue
        files = sorted(person.glob("*.jpg")) if person.is_dir() else []
        if files:
            paths += files
            labels += [len(people)] * len(files)
            people.append(person.name)
    if not paths:
        raise DataNotFoundError(f"{folder} holds no <Person>/<Person>_NNNN.jpg images for {split}")
    images = _jpeg.decode(paths, expected=IMAGE_SIZE, box=FACE_BOX, size=size)
    return ImageData(images, torch.tensor(labels, dtype=torch.int64), tuple(people), "LFW", split)


def _find(root: Path) -> Path:
    for place in PLACES:
        if (root / place).is_dir():
            return root / place
    archive = root / ARCHIVE
    if archive.is_file():
        _files.verify(archive, f"md5:{ARCHIVE_MD5}")
        _files.extract(archive, root, lambda name: name.split("/")[0] == FOLDER)
        if (root / FOLDER).is_dir():
            return root / FOLDER
    how = (
        f"It cannot be downloaded automatically: its host ({ORIGINAL_URL}) is offline and no "
        f"mirror publishes a checksum. Get lfw-deepfunneled.tgz (about 110 MB, md5 {ARCHIVE_MD5}) "
        f"and put it in {root} (it is checked and unpacked on the next load), or unpack a copy, "
        f"e.g. from {MIRROR_URL}, so that {root / PLACES[0]}/<Person>/<Person>_0001.jpg exists."
    )
    layout = [f"{place}/<Person>/<Person>_NNNN.jpg" for place in PLACES]
    raise not_found("LFW (deep-funneled)", root, layout, how)
