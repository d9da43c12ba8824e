"""Four public-domain paintings for style transfer, from ``<root>/paintings/<name>.jpg``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import _fetch, sources
from ._core import CorruptDataError, not_found, resolve_root
from ._digest import file_digest

FOLDER = "paintings"


def painting_path(name: str, *, root=None, download: bool = True) -> Path:
    """The verified file of the painting ``name`` (a key of ``sources.PAINTINGS``, e.g.
    ``"starry_night"``), fetched on first use; its sha256 is checked on every call."""
    painting = _painting(name)
    root = resolve_root(root)
    path = root / FOLDER / painting.file
    if not path.is_file():
        url = sources.PAINTINGS_URL + painting.file
        how = f"download=True fetches {url}; or copy that file there yourself."
        error = not_found(f"The painting {name!r}", root, [f"{FOLDER}/{painting.file}"], how)
        if not download:
            raise error
        try:
            _fetch.fetch(url, path, f"sha256:{painting.sha256}")
        except _fetch.FetchError as err:
            raise _fetch.offline(error, err) from err
    digest = file_digest(path, "sha256")
    if digest != painting.sha256:
        raise CorruptDataError(
            f"{path}: sha256 is {digest}, expected {painting.sha256} (the published file); "
            "delete it to have it downloaded again"
        )
    return path


def load_painting(
    name: str, *, size: int | None = None, root=None, download: bool = True
) -> tuple[torch.Tensor, str]:
    """A painting as a ``(3, H, W)`` uint8 tensor, and the credit line to show with it.

    ``name`` is one of ``"starry_night"``, ``"the_scream"``, ``"shipwreck"`` and
    ``"woman-with-hat-matisse"`` (``sources.PAINTINGS``); ``size``, when given, resizes the
    image (antialiased bilinear) so that its longer side has ``size`` pixels. The credit reads
    e.g. "The Starry Night, Vincent van Gogh, 1889 (public domain)". The file is fetched on
    first use and checked by sha256 (:func:`painting_path`). Used in the style-transfer chapter.
    """
    painting = _painting(name)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int (pixels on the longer side), got {size!r}")
    path = painting_path(name, root=root, download=download)
    with Image.open(path) as image:
        image = image.convert("RGB")
    if size is not None:
        scale = size / max(image.size)
        shape = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(shape, Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()
    return pixels, painting.credit


def _painting(name: str) -> sources.Painting:
    key = name.removesuffix(".jpg") if isinstance(name, str) else name
    if key not in sources.PAINTINGS:
        raise ValueError(
            f"unknown painting {name!r}; expected one of {', '.join(sources.PAINTINGS)}"
        )
    return sources.PAINTINGS[key]
