"""Networks that turn an image into feature maps at named layers, for the style-transfer chapter.

A :class:`FeatureNet` maps images ``(N, 3, H, W)`` (floats in 0..1) to a dict of feature maps
``{layer name: (N, C, h, w)}``. Four kinds ship:

- :func:`vgg19_features`: VGG19 (Simonyan and Zisserman 2014) with its ImageNet weights, through
  torchvision's weights API, which checks the file's hash; or with weights read from a saved
  state dict; or, with ``weights=None``, with random weights (as He, Wang and Hopcroft 2016).
- :func:`course_features`: the convolutional layers of the course's own CIFAR-100 classifier
  (``pretrained.load("cifar-classifier")``, trained in the CNN-basics chapter).
- :func:`random_multiscale`: one layer of random filters looking at the image at several scales
  (after Ustyuzhaninov et al. 2016), seeded; nothing to download, nothing trained.
- :func:`backbone`: picks by name; ``"auto"`` takes VGG19 when its weights are in torch's cache or
  can be downloaded, else the course's network, and says which one it took (``.name``, ``.note``).

A layer name may end in ``@k`` (for example ``"conv2@4"``): that layer, computed on the image
shrunk ``k`` times by average pooling. Small networks see larger patterns that way.
"""

from __future__ import annotations

import socket
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from imgen import pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's VGG19 ``features``: block sizes, so that layers get the names of the papers.
_VGG19_BLOCKS = (2, 2, 4, 4, 4)


class FeatureNet(nn.Module):
    """A frozen stack of layers whose outputs are read by name.

    ``layers`` is an ``nn.Sequential``; ``names[i]`` names the output of ``layers[i]``.
    ``net(x, names)`` maps images ``(N, 3, H, W)`` in 0..1 to ``{name: (N, C, h, w)}`` for the
    requested names (all by default), running the stack only as far as it needs to.
    ``content_layers`` and ``style_layers`` are the defaults that :func:`imgen.style.stylise`
    uses; ``name`` says in words which network this is. Taught in the style-transfer chapter.
    """

    def __init__(self, layers, names, *, name, content_layers, style_layers,
                 mean=None, std=None, min_size=32):
        super().__init__()
        if len(layers) != len(names):
            raise ValueError(f"{len(layers)} layers but {len(names)} names")
        self.layers = layers
        self.names = list(names)
        self.name = name
        self.note = ""
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.min_size = min_size
        mean = torch.tensor(mean or (0.0, 0.0, 0.0)).view(1, 3, 1, 1)
        std = torch.tensor(std or (1.0, 1.0, 1.0)).view(1, 3, 1, 1)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x, names=None):
        """Feature maps ``{name: (N, C, h, w)}`` of images ``x`` ``(N, 3, H, W)`` in 0..1."""
        names = list(self.names if names is None else names)
        by_scale = {}
        for full in names:
            layer, scale = _split(full)
            if layer not in self.names:
                raise ValueError(f"{self.name} has no layer {layer!r}; its layers: "
                                 f"{', '.join(self.names)}")
            by_scale.setdefault(scale, []).append((full, layer))
        out = {}
        x = (x - self.mean) / self.std
        for scale, wanted in by_scale.items():
            h = F.avg_pool2d(x, scale) if scale > 1 else x
            last = max(self.names.index(layer) for _, layer in wanted)
            maps = {}
            for i in range(last + 1):
                h = self.layers[i](h)
                maps[self.names[i]] = h
            out.update({full: maps[layer] for full, layer in wanted})
        return {full: out[full] for full in names}

    def extra_repr(self):
        return f"name={self.name!r}"


def _split(name):
    """``"conv2@4"`` -> ``("conv2", 4)``; ``"conv2"`` -> ``("conv2", 1)``."""
    layer, _, scale = str(name).partition("@")
    if scale and not (scale.isdigit() and int(scale) >= 1):
        raise ValueError(f"a layer's scale is a positive int after '@', got {name!r}")
    return layer, int(scale or 1)


def vgg19_features(weights="IMAGENET1K_V1", *, seed=0, progress=True):
    """VGG19's convolutional part as a :class:`FeatureNet`, up to ``relu5_1``.

    ``weights``: ``"IMAGENET1K_V1"`` (torchvision's weights API: downloaded once into torch's
    cache, its hash checked), a path to a saved ``state_dict`` of ``torchvision.models.vgg19``
    (read by :func:`load_vgg19`), or None for random weights drawn with ``seed`` (He, Wang and
    Hopcroft 2016 found that even these give usable textures). Layers are named as in Gatys et
    al.: ``conv1_1``, ``relu1_1``, ..., ``pool1``, ...; content ``relu4_2``, style ``relu1_1`` to
    ``relu5_1``. Inputs are normalised with ImageNet's mean and standard deviation.
    """
    from torchvision.models import VGG19_Weights, vgg19

    if weights is None:
        with torch.random.fork_rng(devices=[]):  # torchvision draws from the global generator
            torch.manual_seed(seed)
            model = vgg19(weights=None)
        name = f"VGG19 with random weights (seed {seed})"
    elif isinstance(weights, (str, Path)) and str(weights) in VGG19_Weights.__members__:
        model = vgg19(weights=VGG19_Weights[str(weights)], progress=progress)
        name = f"VGG19 trained on ImageNet ({weights})"
    elif isinstance(weights, (str, Path)):
        model, name = load_vgg19(weights), f"VGG19 from {Path(weights).name}"
    else:
        raise TypeError(f"weights must be 'IMAGENET1K_V1', a path or None, got {weights!r}")
    return _vgg_net(model.features, name)


def load_vgg19(state_dict_path):
    """``torchvision.models.vgg19`` with the weights saved at ``state_dict_path``
    (``torch.save(model.state_dict(), path)``), read with ``weights_only=True``."""
    from torchvision.models import vgg19

    path = Path(state_dict_path)
    if not path.is_file():
        raise FileNotFoundError(f"no VGG19 state dict at {path}")
    with torch.device("meta"):  # no time spent drawing random weights that are replaced at once
        model = vgg19(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), assign=True)
    return model.eval()


def _vgg_net(features, name):
    names, block, conv = [], 1, 0
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(layer, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        else:
            names.append(f"pool{block}")
            block, conv = block + 1, 0
    for layer in features:
        if isinstance(layer, nn.ReLU):
            layer.inplace = False  # every named output must stay as it was computed
    last = names.index("relu5_1") + 1
    return FeatureNet(
        features[:last], names[:last], name=name,
        content_layers=["relu4_2"],
        style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
        mean=IMAGENET_MEAN, std=IMAGENET_STD,
    )


def course_features(checkpoint="cifar-classifier"):
    """The convolutional layers of the course's own classifier (:class:`imgen.models.ConvClassifier`
    trained on CIFAR-100's 20 superclasses, shipped as ``"cifar-classifier"``).

    Layers ``conv1`` to ``conv4`` (after ReLU), ``pool1``, ``pool2``. The network saw 32 x 32
    photographs, so its filters know small patterns; the default style layers also read it on
    the image shrunk 2 and 4 times (``"conv2@4"``), where a larger picture looks like its world.
    """
    model = pretrained.load(checkpoint).float()
    names, convs, pools = [], 0, 0
    for layer in model.features:
        if isinstance(layer, nn.Conv2d):
            names.append(f"pre{convs + 1}")
        elif isinstance(layer, nn.ReLU):
            convs += 1
            names.append(f"conv{convs}")
        else:
            pools += 1
            names.append(f"pool{pools}")
    return FeatureNet(
        model.features, names, name=f"the course's CIFAR-100 classifier ({checkpoint})",
        content_layers=["conv4"],
        style_layers=["conv1", "conv2", "conv3", "conv4", "conv2@2", "conv4@2", "conv2@4",
                      "conv4@4"],
    )


class _RandomFilters(nn.Module):
    """One convolution with fixed random filters of several sizes, then ReLU."""

    def __init__(self, sizes, filters, generator):
        super().__init__()
        self.sizes = tuple(sizes)
        for k in self.sizes:
            w = torch.randn(filters, 3, k, k, generator=generator)
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # flat patches give 0
            w = w / w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            self.register_buffer(f"w{k}", w)

    def forward(self, x):
        maps = [F.conv2d(x, getattr(self, f"w{k}"), padding=k // 2) for k in self.sizes]
        return F.relu(torch.cat(maps, dim=1))


def random_multiscale(seed=0, *, sizes=(3, 5, 7, 11), filters=32, scales=(1, 2, 4, 8)):
    """A network nobody trained: one layer of random filters (``filters`` of each size in
    ``sizes``), applied to the image at each of ``scales`` (shrunk by average pooling).

    After Ustyuzhaninov et al. (2016), whose single layer of random filters from 3 to 55 pixels
    wide synthesises good textures; here small filters on a shrunken image stand for the wide
    ones, which a CPU could not afford. Layers are named ``"random@1"``, ``"random@2"``, ...;
    content is ``"random@1"``, style all scales. Same ``seed``, same filters.
    """
    generator = torch.Generator().manual_seed(seed)
    layer = _RandomFilters(sizes, filters, generator)
    style = [f"random@{s}" for s in scales]
    return FeatureNet(
        nn.Sequential(layer), ["random"],
        name=f"random multi-scale filters (seed {seed})",
        content_layers=["random@1"], style_layers=style,
        mean=IMAGENET_MEAN, std=IMAGENET_STD, min_size=max(32, 4 * max(scales)),
    )


BACKBONES = ("auto", "vgg19", "course", "random")


def vgg19_available(download=True, timeout=3.0):
    """True when VGG19's ImageNet weights are in torch's cache, or (with ``download``) their
    server answers within ``timeout`` seconds."""
    from torchvision.models import VGG19_Weights

    url = VGG19_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return True
    if not download:
        return False
    host = url.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def backbone(kind="auto", *, download=True, seed=0):
    """A :class:`FeatureNet` by name, for :func:`imgen.style.stylise`.

    ``"vgg19"`` (ImageNet weights, fetched if needed), ``"course"`` (:func:`course_features`),
    ``"random"`` (:func:`random_multiscale` with ``seed``), or ``"auto"``: VGG19 when its weights
    are cached or downloadable (``download=False`` looks in the cache only), else the course's
    network. ``.name`` says which network it is; with ``"auto"``, ``.note`` says why.
    """
    if kind not in BACKBONES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {kind!r}")
    if kind == "vgg19":
        return vgg19_features("IMAGENET1K_V1")
    if kind == "course":
        return course_features()
    if kind == "random":
        return random_multiscale(seed)
    if vgg19_available(download=download):
        try:
            net = vgg19_features("IMAGENET1K_V1")
        except Exception as error:  # noqa: BLE001 - any failure to fetch means: fall back
            net = course_features()
            net.note = f"VGG19's ImageNet weights could not be loaded ({error}); fell back"
        else:
            net.note = "VGG19's ImageNet weights were available"
            return net
    else:
        net = course_features()
        net.note = "VGG19's ImageNet weights are not cached and cannot be downloaded here"
    return net
