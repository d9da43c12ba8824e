"""Neural style transfer (Gatys, Ecker and Bethge 2015, 2016): optimise an image's pixels so
that a network sees the content of one picture and the style of another.

- :func:`load_image`: a photograph (path, PIL image, array or tensor) as ``(3, H, W)`` floats in
  0..1, checked, resized so that its longer side has ``size`` pixels.
- :func:`gram_matrix`, :func:`content_loss`, :func:`style_loss`, :func:`total_variation`: the
  losses.
- :func:`stylise` (content plus style) and :func:`synthesise_texture` (style alone, from noise).

The networks that provide the feature maps are in :mod:`imgen.features`. Taught in the
style-transfer chapter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from imgen.features import FeatureNet
from imgen.features import backbone as make_backbone

MIN_SIZE = 32  # below this the pooling layers leave the deep maps a pixel or two wide


def load_image(image, size=None, *, min_size=MIN_SIZE):
    """A picture as a ``(3, H, W)`` float tensor in 0..1, resized (antialiased) so that its
    longer side has ``size`` pixels (unchanged when ``size`` is None).

    ``image`` is a path (``str`` or ``Path``) to an image file, a ``PIL.Image``, a numpy array
    ``(H, W, 3)`` (``uint8`` 0..255 or floats 0..1) or a tensor ``(3, H, W)`` (``uint8`` or floats
    0..1). Files and PIL images are converted to RGB (grey and RGBA files are unambiguous);
    arrays and tensors must have exactly 3 channels: a grey array is refused, with the line
    that converts it. The result must be at least ``min_size`` pixels on its shorter side.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int (pixels on the longer side) or None, "
                         f"got {size!r}")
    if isinstance(image, (str, Path)):
        pixels = _read_file(Path(image))
    elif isinstance(image, Image.Image):
        pixels = _from_pil(image)
    elif isinstance(image, np.ndarray):
        pixels = _from_array(torch.from_numpy(np.ascontiguousarray(image)), "(H, W, 3)", -1)
    elif isinstance(image, torch.Tensor):
        pixels = _from_array(image.detach().cpu(), "(3, H, W)", 0)
    else:
        raise TypeError(f"image must be a path, a PIL image, a numpy array (H, W, 3) or a "
                        f"tensor (3, H, W), got {type(image).__name__}")
    if size is not None:
        h, w = pixels.shape[1:]
        scale = size / max(h, w)
        shape = (max(1, round(h * scale)), max(1, round(w * scale)))
        pixels = F.interpolate(pixels[None], size=shape, mode="bilinear", antialias=True,
                               align_corners=False)[0].clamp(0, 1)
    if min(pixels.shape[1:]) < min_size:
        raise ValueError(f"the image is {pixels.shape[2]} x {pixels.shape[1]} pixels; style "
                         f"transfer needs at least {min_size} on the shorter side (the network "
                         "pools it several times): pass a larger image or size")
    return pixels


def _read_file(path):
    if not path.exists():
        raise FileNotFoundError(f"no image file at {path}")
    try:
        with Image.open(path) as opened:
            return _from_pil(opened)
    except (UnidentifiedImageError, IsADirectoryError, OSError) as error:
        raise ValueError(f"{path} is not an image file that PIL can read "
                         f"(JPEG, PNG, ...): {error}") from None


def _from_pil(image):
    array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255


def _from_array(x, expected, channel_dim):
    if x.ndim != 3 or x.shape[channel_dim] != 3:
        shape = tuple(x.shape)
        grey = x.ndim == 2 or (x.ndim == 3 and x.shape[channel_dim] == 1)
        hint = (" (a grey image: repeat it into 3 channels first, e.g. "
                "skimage.color.gray2rgb(image))" if grey else
                " (4 channels: drop the alpha channel first, e.g. image[..., :3])"
                if x.ndim == 3 and x.shape[channel_dim] == 4 else "")
        raise ValueError(f"expected an RGB image of shape {expected}, got shape {shape}{hint}")
    if channel_dim == -1:
        x = x.permute(2, 0, 1)
    if x.dtype == torch.uint8:
        return x.float() / 255
    if not x.is_floating_point():
        raise TypeError(f"expected uint8 (0..255) or float (0..1) pixels, got {x.dtype}")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0 or hi > 1:
        raise ValueError(f"expected float pixels in 0..1, got values from {lo:.3g} to {hi:.3g}")
    return x.float().contiguous()


def gram_matrix(features):
    """The Gram matrix of feature maps ``(N, C, H, W)``: ``(N, C, C)``, entry ``(i, j)`` the sum
    over positions of channel i times channel j, divided by ``C * H * W``.

    So a feature map that is 1 everywhere gives ``1 / C`` in every entry; the scale does not grow
    with the image's size, and style losses of different layers and sizes are comparable. It
    keeps which channels fire together, and forgets where.
    """
    if features.ndim != 4:
        raise ValueError(f"expected feature maps (N, C, H, W), got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(features, target_features):
    """Mean squared difference of two feature maps of the same shape (a deep layer's), divided
    by the mean square of ``target_features``: 1 for an all-zero map, whatever the network."""
    return F.mse_loss(features, target_features) / _mean_square(target_features)


def _mean_square(x):
    return x.pow(2).mean().clamp_min(1e-12)


def style_loss(features, target_grams, weights=None):
    """Sum over layers of ``weight * mean squared difference`` between the Gram matrix of
    ``features[layer]`` and ``target_grams[layer]`` (both dicts by layer name), each divided by
    the mean square of its target Gram matrix, so that every layer counts alike whatever the
    size of its activations. Weights are 1 unless ``weights`` gives one per layer; divide by
    the number of layers for a mean."""
    total = 0.0
    for layer, target in target_grams.items():
        weight = 1.0 if weights is None else weights[layer]
        gram = gram_matrix(features[layer])
        total = total + weight * F.mse_loss(gram, target.expand_as(gram)) / _mean_square(target)
    return total


def total_variation(images):
    """Mean absolute difference between neighbouring pixels of ``(N, C, H, W)``, per image
    ``(N,)``: 0 for a flat image, large for noise."""
    return ((images[..., 1:, :] - images[..., :-1, :]).abs().mean((1, 2, 3))
            + (images[..., :, 1:] - images[..., :, :-1]).abs().mean((1, 2, 3)))


def stylise(content, style, *, backbone="auto", content_layers=None, style_layers=None,
            content_weight=1.0, style_weight=1.0, tv_weight=0.01, steps=200,
            optimizer="lbfgs", lr=None, size=256, init="content", seed=0, progress=True,
            device=None):
    """Paint ``content`` in the style of ``style`` by optimising the pixels of a new image.

    The loss is ``content_weight * content_loss`` (on ``content_layers``) ``+ style_weight *
    style_loss`` (Gram matrices on ``style_layers``) ``+ tv_weight * total_variation``; layers
    default to the backbone's own (``backbone`` is a :class:`~imgen.features.FeatureNet` or a
    name for :func:`imgen.features.backbone`). ``content`` and ``style`` go through
    :func:`load_image`: the content gets ``size`` pixels on its longer side, the style as many
    pixels in all as the content (so its strokes keep their size whatever its shape);
    ``content=None`` means no content loss (texture synthesis, style at ``size``). ``steps``
    counts loss evaluations (one forward and backward pass each), the same budget for
    ``optimizer="lbfgs"`` and ``"adam"``. ``init`` is ``"content"`` or ``"noise"`` (seeded).
    Returns the image with the lowest loss seen, ``(3, H, W)`` in 0..1, and the history: a dict
    of lists ``total``, ``content``, ``style``, ``tv``, one value per evaluation (L-BFGS's line
    search tries points that can be worse than the best so far).
    """
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if content is None and init == "content":
        raise ValueError("init='content' needs a content image; use init='noise' for a texture")
    net = backbone if isinstance(backbone, FeatureNet) else make_backbone(backbone)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = net.to(device)
    style_layers = list(style_layers or net.style_layers)
    content_layers = list(content_layers or net.content_layers) if content is not None else []

    if content is not None:
        content_image = load_image(content, size, min_size=net.min_size).to(device)
        with torch.no_grad():
            targets = net(content_image[None], content_layers)
        style_image = load_image(style, _same_area(style, content_image), min_size=net.min_size)
    else:
        style_image = load_image(style, size, min_size=net.min_size)
    style_image = style_image.to(device)
    with torch.no_grad():
        grams = {k: gram_matrix(v) for k, v in net(style_image[None], style_layers).items()}
    shape = content_image.shape if content is not None else style_image.shape

    if init == "content":
        start = content_image.clone()
    else:
        generator = torch.Generator().manual_seed(seed)
        start = (0.5 + 0.1 * torch.randn(shape, generator=generator)).clamp(0, 1).to(device)
    image = start[None].requires_grad_()
    history = {"total": [], "content": [], "style": [], "tv": []}
    best = {"loss": float("inf"), "image": start}
    bar = tqdm(total=steps, desc=f"{optimizer} on {net.name}", disable=not progress)

    def closure():
        if len(history["total"]) >= steps:
            raise _BudgetSpent
        with torch.no_grad():
            image.clamp_(0, 1)
        opt.zero_grad()
        maps = net(image, [*content_layers, *style_layers])
        parts = {
            "content": sum((content_loss(maps[k], targets[k]) for k in content_layers),
                           torch.zeros((), device=device)) / max(1, len(content_layers)),
            "style": style_loss(maps, grams) / len(grams),
            "tv": total_variation(image).sum(),
        }
        loss = (content_weight * parts["content"] + style_weight * parts["style"]
                + tv_weight * parts["tv"])
        loss.backward()
        history["total"].append(loss.item())
        for key, value in parts.items():
            history[key].append(value.item())
        if loss.item() < best["loss"]:
            best.update(loss=loss.item(), image=image.detach()[0].clone())
        bar.update(1)
        return loss

    if optimizer == "adam":
        opt = torch.optim.Adam([image], lr=lr or 0.02)
    else:
        # A line search keeps L-BFGS stable from any start; its trial points count as steps.
        opt = torch.optim.LBFGS([image], lr=lr or 1.0, max_iter=steps, history_size=20,
                                line_search_fn="strong_wolfe",
                                tolerance_grad=0.0, tolerance_change=0.0)
    try:
        while len(history["total"]) < steps:
            before = len(history["total"])
            opt.step(closure)
            if len(history["total"]) == before:
                break
    except _BudgetSpent:
        pass
    bar.close()
    return best["image"].clamp(0, 1).cpu(), history


def _same_area(style, content_image):
    """The longer side that gives ``style`` as many pixels as ``content_image``."""
    h, w = load_image(style, min_size=1).shape[1:]
    return max(1, round(max(h, w) * (content_image[0].numel() / (h * w)) ** 0.5))


class _BudgetSpent(Exception):
    """Raised inside the optimiser's closure once ``steps`` evaluations are spent."""


def synthesise_texture(style, *, size=256, steps=200, **kwargs):
    """A new texture with the style (Gram matrices) of ``style`` and nothing else: :func:`stylise`
    from noise with no content image. Returns the image ``(3, H, W)`` and the loss history."""
    kwargs.setdefault("tv_weight", 0.0)
    return stylise(None, style, size=size, steps=steps, init="noise", **kwargs)
