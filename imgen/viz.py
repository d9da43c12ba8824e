"""Plotting helpers for the notebooks: image grids, rows of images to compare, PNG bytes.

Every plotting function takes images as a tensor ``(N, C, H, W)`` (``uint8`` 0..255 or float
0..1, one or three channels) and draws with matplotlib. Used from the first chapter on;
:func:`to_png` feeds the widgets of the fruit and inpainting chapters.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch


def _as_float_batch(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor (N, C, H, W), got {type(images).__name__}")
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"{what} must have shape (N, C, H, W) or (C, H, W) with C = 1 or 3, "
            f"got {tuple(images.shape)}"
        )
    images = images.detach().cpu()
    if images.dtype == torch.uint8:
        return images.float() / 255
    if not images.is_floating_point():
        raise TypeError(f"{what} must be uint8 or floating point, got {images.dtype}")
    return images.float().clamp(0, 1)


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 1,
               pad_value: float = 1.0) -> np.ndarray:
    """Tile ``images`` into one picture: an ``(H', W', 3)`` or ``(H', W')`` float array in 0..1.

    ``nrow`` images go in each row; ``padding`` pixels of ``pad_value`` separate them.
    """
    if nrow < 1 or padding < 0:
        raise ValueError(f"nrow must be >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    x = _as_float_batch(images)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    grid = torch.full(
        (c, nrows * (h + padding) + padding, ncol * (w + padding) + padding), float(pad_value)
    )
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    grid = grid.permute(1, 2, 0).numpy()
    return grid[..., 0] if c == 1 else grid


def show_images(images: torch.Tensor, nrow: int = 8, *, title: str | None = None, ax=None,
                scale: float = 1.0):
    """Draw ``images`` as one grid on ``ax`` (a new figure if None); returns the axes."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow=nrow)
    if ax is None:
        height, width = grid.shape[:2]
        size = scale * 8 / max(height, width)
        _, ax = plt.subplots(figsize=(max(2.0, width * size), max(1.0, height * size)))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def compare_rows(rows: dict[str, torch.Tensor], *, n: int = 8, scale: float = 1.0):
    """Draw several batches as labelled rows (e.g. originals, occluded, reconstructions).

    ``rows`` maps a label to images ``(N, C, H, W)``; the first ``n`` of each are shown.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows must map at least one label to a batch of images, got none")
    fig, axes = plt.subplots(len(rows), 1, figsize=(scale * n, scale * 1.15 * len(rows)),
                             squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        show_images(images[:n], nrow=n, ax=ax)
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def to_png(image: torch.Tensor, scale: int = 1) -> bytes:
    """One image ``(C, H, W)`` in 0..1 (C = 1 or 3) as PNG bytes, ``scale`` times enlarged with
    square pixels (for ``ipywidgets.Image`` and web pages; the fruit and inpainting chapters)."""
    from PIL import Image

    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image (C, H, W) with 1 or 3 channels, got shape "
                         f"{tuple(image.shape)}")
    pixels = (image.detach().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    pixels = pixels.repeat(scale, 0).repeat(scale, 1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(
        buffer, format="png")
    return buffer.getvalue()
