"""Hide part of an image, for the completion ("inpainting") task.

A completion model sees the occluded image and is trained to give back the original one. Every
function here takes one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, float or integer (for
example ``uint8``), leaves it untouched and returns ``(occluded, mask)``:

- ``occluded``: a new tensor like ``images``, with ``fill`` written into the hidden pixels;
- ``mask``: a ``bool`` tensor, True where pixels are hidden, shaped ``(1, H, W)`` for one image or
  ``(N, 1, H, W)`` for a batch, so that it broadcasts over the channels.

How many rows or columns a fraction hides: ``ceil(fraction * size)``, so at least ``fraction`` of
the image is hidden; the bottom half of a 5-row image is its last 3 rows.

The inpainting chapter teaches these; the training loop and the command line call :func:`occlude`.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

SIDES = ("top", "bottom", "left", "right")
KINDS = (*SIDES, "below-middle", "any-side", "rectangle", "pixels")


def occlude_half(images, side="bottom", *, fill=0.0):
    """Hide half of each image, seen from ``side`` (one of :data:`SIDES`).

    For an odd size the middle row (or column) is hidden too. Returns ``(occluded, mask)``.
    """
    return occlude_fraction(images, 0.5, side, fill=fill)


def occlude_fraction(images, fraction, side="bottom", *, fill=0.0):
    """Hide ``ceil(fraction * size)`` rows or columns of each image, starting at ``side``.

    ``fraction`` is in (0, 1); ``side`` is one of :data:`SIDES`. Returns ``(occluded, mask)``.
    """
    _check_images(images, fill)
    _check_fraction(fraction, "fraction")
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    height, width = images.shape[-2:]
    mask = _empty_mask(images)
    if side == "top":
        mask[..., : _count(fraction, height), :] = True
    elif side == "bottom":
        mask[..., height - _count(fraction, height) :, :] = True
    elif side == "left":
        mask[..., : _count(fraction, width)] = True
    else:
        mask[..., width - _count(fraction, width) :] = True
    return images.masked_fill(mask, fill), mask


def occlude_below_middle(images, *, fill=0.0):
    """Hide every row below the middle row ``H // 2``, which stays visible.

    Rows ``H // 2 + 1`` to ``H - 1`` are hidden: 13 of 28 (MNIST), 22 of 45 (LFW at 45x45), 15
    of 32 (CIFAR). This is the occlusion of article D's code, one row less than
    :func:`occlude_half` hides; the "Reproducing the article" page uses it. Returns
    ``(occluded, mask)``.
    """
    _check_images(images, fill)
    height = images.shape[-2]
    mask = _empty_mask(images)
    mask[..., height // 2 + 1 :, :] = True
    return images.masked_fill(mask, fill), mask


def occlude_any_side(images, fraction=0.5, *, fill=0.0, generator=None):
    """Hide ``fraction`` of each image from a side drawn at random per image (one of
    :data:`SIDES`, each equally likely, drawn with ``generator``).

    A model trained on these completes whichever side is missing. For a single image ``(C, H,
    W)`` one side is drawn. Returns ``(occluded, mask)``.
    """
    _check_images(images, fill)
    _check_fraction(fraction, "fraction")
    _check_generator(generator)
    batch = images if images.ndim == 4 else images[None]
    sides = torch.randint(0, len(SIDES), (len(batch),), generator=generator)
    masks = torch.stack([occlude_fraction(batch[:1], fraction, side)[1][0] for side in SIDES])
    mask = masks[sides.to(masks.device)]
    mask = mask if images.ndim == 4 else mask[0]
    return images.masked_fill(mask, fill), mask


def occlude_rectangle(images, *, height, width, top=None, left=None, fill=0.0, generator=None):
    """Hide a ``height`` x ``width`` rectangle in each image.

    ``height`` and ``width`` are whole pixels (int) or a fraction of the image in (0, 1) (float,
    rounded up to whole pixels). ``top`` and ``left`` place the rectangle's upper-left corner;
    left as None, each image of a batch gets its own random place, drawn with ``generator``
    (a ``torch.Generator``) so that a seed makes it reproducible. Returns ``(occluded, mask)``.
    """
    _check_images(images, fill)
    image_height, image_width = images.shape[-2:]
    rows = _pixels(height, image_height, "height")
    cols = _pixels(width, image_width, "width")
    n = images.shape[0] if images.ndim == 4 else 1
    tops = _corners(top, rows, image_height, n, "top", "height", generator)
    lefts = _corners(left, cols, image_width, n, "left", "width", generator)
    row, col = torch.arange(image_height), torch.arange(image_width)
    in_rows = (row >= tops[:, None]) & (row < tops[:, None] + rows)
    in_cols = (col >= lefts[:, None]) & (col < lefts[:, None] + cols)
    mask = (in_rows[:, :, None] & in_cols[:, None, :]).view(_mask_shape(images))
    mask = mask.to(images.device)
    return images.masked_fill(mask, fill), mask


def occlude_pixels(images, fraction, *, fill=0.0, generator=None):
    """Hide ``ceil(fraction * H * W)`` pixels scattered at random, a new draw for each image.

    The same pixels are hidden in every channel of an image. ``generator`` (a
    ``torch.Generator``) makes the draw reproducible. Returns ``(occluded, mask)``.
    """
    _check_images(images, fill)
    _check_fraction(fraction, "fraction")
    _check_generator(generator)
    height, width = images.shape[-2:]
    n = images.shape[0] if images.ndim == 4 else 1
    hidden = _count(fraction, height * width)
    order = torch.rand(n, height * width, generator=generator).argsort(dim=1)
    mask = torch.zeros(n, height * width, dtype=torch.bool)
    mask.scatter_(1, order[:, :hidden], True)
    mask = mask.view(_mask_shape(images)).to(images.device)
    return images.masked_fill(mask, fill), mask


def occlude(images, kind="bottom", **kwargs):
    """Occlude ``images`` the way ``kind`` names, one of :data:`KINDS`.

    A side (``"top"``, ``"bottom"``, ``"left"``, ``"right"``) hides half the image from that side,
    or ``fraction`` of it when ``fraction=`` is given; ``"below-middle"`` hides the rows below the
    middle one (:func:`occlude_below_middle`); ``"any-side"`` hides half (or
    ``fraction``) from a random side per image; ``"rectangle"`` and ``"pixels"`` pass
    ``kwargs`` to :func:`occlude_rectangle` and :func:`occlude_pixels`. Returns
    ``(occluded, mask)``.
    """
    if kind in SIDES:
        if "fraction" in kwargs:
            return occlude_fraction(images, side=kind, **kwargs)
        return occlude_half(images, side=kind, **kwargs)
    if kind == "below-middle":
        return occlude_below_middle(images, **kwargs)
    if kind == "any-side":
        return occlude_any_side(images, **kwargs)
    if kind == "rectangle":
        return occlude_rectangle(images, **kwargs)
    if kind == "pixels":
        return occlude_pixels(images, **kwargs)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _check_images(images, fill):
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim not in (3, 4):
        raise ValueError(
            "images must have shape (C, H, W) or (N, C, H, W), "
            f"got {tuple(images.shape)} ({images.ndim} dimensions)"
        )
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"images must be a float or integer tensor, got {images.dtype}")
    _check_fill(fill, images.dtype)


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")


def _check_fill(fill, dtype):
    if isinstance(fill, bool) or not isinstance(fill, Real):
        raise TypeError(f"fill must be a number, got {type(fill).__name__}")
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        if fill != int(fill) or not info.min <= fill <= info.max:
            raise ValueError(
                f"fill must be a whole number in {info.min}..{info.max} for {dtype} images, "
                f"got {fill!r}"
            )


def _check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )


def _count(fraction, size):
    # Rounding first keeps 0.3 * 10 = 3.0000000000000004 from becoming 4.
    return math.ceil(round(fraction * size, 9))


def _pixels(value, size, name):
    """A rectangle side as whole pixels: an int as is, a float fraction of ``size`` rounded up."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be an int (pixels) or a float in (0, 1), got {value!r}")
    if isinstance(value, float):
        _check_fraction(value, name)
        return _count(value, size)
    if not 1 <= value <= size:
        raise ValueError(f"rectangle {name} must be 1..{size} pixels for this image, got {value}")
    return int(value)


def _corners(start, length, size, n, name, side_name, generator):
    """Where each of ``n`` rectangles of ``length`` pixels starts along an axis of ``size``."""
    if start is None:
        _check_generator(generator)
        return torch.randint(0, size - length + 1, (n,), generator=generator)
    if isinstance(start, bool) or not isinstance(start, int):
        raise TypeError(f"{name} must be an int or None, got {start!r}")
    if not 0 <= start <= size - length:
        raise ValueError(
            f"a rectangle of {side_name} {length} fits at {name} 0..{size - length} "
            f"in an image of {side_name} {size}, got {name}={start}"
        )
    return torch.full((n,), start)


def _mask_shape(images):
    return (*images.shape[:-3], 1, *images.shape[-2:])


def _empty_mask(images):
    return torch.zeros(_mask_shape(images), dtype=torch.bool, device=images.device)
