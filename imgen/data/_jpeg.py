"""Decode folders of JPEGs into one uint8 tensor: check size, crop, resize (antialiased)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ._core import CorruptDataError


def decode(
    paths: list[Path], *, expected: tuple[int, int], box: tuple[int, int, int, int], size: int
) -> torch.Tensor:
    """The images at ``paths`` as a ``(N, 3, size, size)`` uint8 tensor.

    Each file must decode as a ``expected`` (width, height) image; it is converted to RGB,
    cropped to ``box`` (left, top, right, bottom) and resized to ``size`` x ``size`` with
    Pillow's antialiased bilinear filter. An unreadable file or a wrong size raises
    CorruptDataError naming the file. Pillow decodes outside the GIL, so a few threads help.
    """
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)

    def one(i: int) -> None:
        out[i] = _decode_one(paths[i], expected, box, size)

    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(len(paths))))  # list() re-raises the first error
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _decode_one(path: Path, expected, box, size: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if image.size != expected:
                raise CorruptDataError(
                    f"{path}: image is {image.size[0]}x{image.size[1]}, expected "
                    f"{expected[0]}x{expected[1]}"
                )
            image = image.convert("RGB")
    except CorruptDataError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise CorruptDataError(f"{path}: not a readable image ({err})") from err
    if box != (0, 0, *expected):
        image = image.crop(box)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image)
