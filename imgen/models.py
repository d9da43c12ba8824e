"""The networks of the course: four autoencoders, two variational autoencoders, a classifier,
article D's three models as its code built them (``article-*``), and the generators and
discriminators of the GAN chapter.

Every autoencoder maps ``(N, C, H, W)`` float images in 0..1 to images of the same shape, through
a code of ``latent`` numbers: ``encode(x) -> (N, latent)``, ``decode(z) -> (N, C, H, W)``.
A variational autoencoder's ``encode`` gives ``(mu, logvar)`` instead, and its ``forward``
``(reconstruction, mu, logvar)``. Each model keeps its constructor arguments in
``model.config``, so that ``build_model(name, **model.config)`` builds the same architecture
again (checkpoints rely on it).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


class Autoencoder(nn.Module):
    """What the autoencoders share: shape checks, ``encode``, ``decode`` and ``forward``.

    Subclasses build ``self.encoder`` (images to codes) and ``self.decoder`` (codes to images).
    """

    def __init__(self, in_shape, latent):
        super().__init__()
        self.in_shape = _check_in_shape(in_shape)
        self.latent = _check_positive_int(latent, "latent")

    def encode(self, x):
        """Images ``(N, C, H, W)`` to codes ``(N, latent)``."""
        _check_batch(x, self.in_shape, "images")
        return self.encoder(x)

    def decode(self, z):
        """Codes ``(N, latent)`` to images ``(N, C, H, W)``."""
        _check_batch(z, (self.latent,), "codes")
        return self.decoder(z)

    def forward(self, x):
        """Reconstruct images: ``(N, C, H, W)`` to ``(N, C, H, W)``."""
        return self.decode(self.encode(x))


class DenseAutoencoder(Autoencoder):
    """The fruit network of the autoencoder chapter: dense layers 768-256-16-4-16-256-768.

    Images ``(N, 3, 16, 16)`` are flattened to 768 numbers and squeezed through ``hidden`` layers
    to a code of ``latent`` = 4 numbers, then widened back by the mirror image of the encoder.
    Choices the article left open: ReLU between layers; a sigmoid on the code, so that each code
    number lies in 0..1, the range of the chapter's sliders; a sigmoid on the output, so that
    pixels lie in 0..1.
    """

    def __init__(self, in_shape=(3, 16, 16), hidden=(256, 16), latent=4):
        super().__init__(in_shape, latent)
        hidden = tuple(_check_positive_int(h, "hidden sizes") for h in hidden)
        self.config = dict(in_shape=self.in_shape, hidden=hidden, latent=self.latent)
        sizes = [math.prod(self.in_shape), *hidden, self.latent]
        self.encoder = nn.Sequential(nn.Flatten(), *_dense_stack(sizes), nn.Sigmoid())
        self.decoder = nn.Sequential(
            *_dense_stack(sizes[::-1]), nn.Sigmoid(), nn.Unflatten(1, self.in_shape)
        )


class BasicAutoencoder(Autoencoder):
    """Article D's basic model: one dense layer in, one dense layer out.

    Encoder: flatten ``(N, C, H, W)`` to ``C*H*W`` numbers, dense to ``latent``. Decoder: dense to
    ``C*H*W``, reshape to ``(N, C, H, W)``. Taught in the encoder-decoder chapter. The article
    puts no activation on the code nor on the output, and neither does this model: it is a linear
    map, so it can learn at best what principal component analysis finds, and its pixels may fall
    slightly outside 0..1.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32):
        super().__init__(in_shape, latent)
        self.config = dict(in_shape=self.in_shape, latent=self.latent)
        pixels = math.prod(self.in_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, self.latent))
        self.decoder = nn.Sequential(nn.Linear(self.latent, pixels), nn.Unflatten(1, self.in_shape))


class DeepConvAutoencoder(Autoencoder):
    """Article D's deep model, layer for layer.

    Encoder: four 3x3 'same' convolutions with 32, 64, 128 and 256 channels, each followed by
    ReLU and 2x2 max pooling (stride 2), then flatten and dense to ``latent``. Decoder: dense back
    to the image's size ``C*H*W``, reshape to ``(C, H, W)``, four 3x3 'same' transposed
    convolutions with 128, 64, 32 and ``C`` channels, ReLU on the first three and none on the
    last. Taught in the encoder-decoder chapter (MNIST, LFW, CIFAR) and the inpainting chapter.

    Choices the article left open, fixed here:

    - Pooling is max pooling that rounds down, Keras' default: 28x28 MNIST shrinks
      28, 14, 7, 3, 1, so its code is read from a 256x1x1 map; 32x32 ends at 2x2, 64x64 at 4x4.
      Images smaller than 16x16 are refused.
    - "Dense back to the image's size" is read literally, as in the basic model: the dense layer
      gives ``C*H*W`` numbers, reshaped to an image, so the transposed convolutions keep the size
      (stride 1, padding 1) and refine that image rather than upsample. (The other reading,
      dense to a small 256-channel map that strided transposed convolutions upsample, is not
      "the image's size"; it is close to what :class:`ConvAutoencoder` does.)
    - No activation on the code, after the dense decoder layer, or on the output, like the basic
      model, so pixels may fall slightly outside 0..1.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32):
        super().__init__(in_shape, latent)
        self.config = dict(in_shape=self.in_shape, latent=self.latent)
        channels, height, width = self.in_shape
        if min(height, width) < 16:
            raise ValueError(
                f"DeepConvAutoencoder pools four times and needs images of at least 16x16, "
                f"got {height}x{width}"
            )
        encoder = []
        for c_in, c_out in ((channels, 32), (32, 64), (64, 128), (128, 256)):
            encoder += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        code_map = 256 * (height // 16) * (width // 16)
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(code_map, self.latent))
        decoder = [
            nn.Linear(self.latent, channels * height * width),
            nn.Unflatten(1, self.in_shape),
        ]
        for c_in, c_out in ((channels, 128), (128, 64), (64, 32)):
            decoder += [nn.ConvTranspose2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        decoder.append(nn.ConvTranspose2d(32, channels, 3, padding=1))
        self.decoder = nn.Sequential(*decoder)


class ArticleBasicAutoencoder(BasicAutoencoder):
    """Article D's basic model as its Keras code built it: :class:`BasicAutoencoder`, initialised
    the Keras way (Glorot-uniform weights, zero biases).

    Flatten, dense to ``latent``, dense to ``C*H*W``, reshape; no activation anywhere. Parameters:
    ``2 * C*H*W * latent + latent + C*H*W`` (50,992 for MNIST at latent 32). The "Reproducing the
    article" page trains it on the article's protocol (:mod:`imgen.article`).
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32):
        super().__init__(in_shape, latent)
        _keras_init(self)


class ArticleDeepAutoencoder(Autoencoder):
    """Article D's deep model as its Keras code built it (not as its text describes it).

    Encoder: four 5x5 'same' convolutions with 32, 64, 128 and 256 channels, each followed by the
    ``activation`` and 2x2 max pooling that rounds down (28 -> 14 -> 7 -> 3 -> 1, 45 -> 22 -> 11
    -> 5 -> 2), then flatten and dense to ``latent``, linear. Decoder: dense to ``C*H*W``, linear,
    reshape to ``(C, H, W)``, then four 5x5 stride-1 'same' transposed convolutions with 128, 64,
    32 and ``out_channels`` channels, the ``activation`` on the first three: the dense layer makes
    the full-size image and the transposed convolutions only filter it. ``activation`` is
    ``"relu"`` (the MNIST and CIFAR notebooks) or ``"elu"`` (LFW). ``out_channels`` is 3 in all
    three notebooks, even for 1-channel MNIST, whose 1-channel targets the loss then compares with
    each of the 3 output channels (:func:`imgen.train.fit` does the same). Keras initialisers
    (Glorot-uniform weights, zero biases). Images of at least 16x16.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32, activation="relu", out_channels=3):
        super().__init__(in_shape, latent)
        if activation not in ARTICLE_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ARTICLE_ACTIVATIONS)}, got {activation!r}"
            )
        out_channels = _check_positive_int(out_channels, "out_channels")
        self.config = dict(
            in_shape=self.in_shape,
            latent=self.latent,
            activation=activation,
            out_channels=out_channels,
        )
        self.encoder, self.decoder = _article_conv_stack(
            self.in_shape, self.latent, (32, 64, 128, 256), 5, activation, out_channels
        )
        _keras_init(self)


class ArticleThreeLayerAutoencoder(Autoencoder):
    """The smaller model of article D's LFW notebook ("MODEL 3"), behind its "LFW deep 16" cell.

    Encoder: three 3x3 'same' convolutions with 32, 64 and 128 channels, each with ReLU and 2x2
    max pooling that rounds down (45 -> 22 -> 11 -> 5), flatten, dense to ``latent``. Decoder:
    dense to ``C*H*W``, reshape, 3x3 stride-1 'same' transposed convolutions with 64 and 32
    channels (ReLU) and a last one with ``out_channels`` = 3 (linear). Keras initialisers.
    268,862 parameters for 45x45 faces at latent 16. Images of at least 8x8.
    """

    def __init__(self, in_shape=(3, 45, 45), latent=16, out_channels=3):
        super().__init__(in_shape, latent)
        out_channels = _check_positive_int(out_channels, "out_channels")
        self.config = dict(in_shape=self.in_shape, latent=self.latent, out_channels=out_channels)
        self.encoder, self.decoder = _article_conv_stack(
            self.in_shape, self.latent, (32, 64, 128), 3, "relu", out_channels
        )
        _keras_init(self)


ARTICLE_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU}


def _article_conv_stack(in_shape, latent, widths, kernel, activation, out_channels):
    """The encoder and decoder of the article's convolutional models (see the classes above)."""
    channels, height, width = in_shape
    smallest = 2 ** len(widths)
    if min(height, width) < smallest:
        raise ValueError(
            f"this model pools {len(widths)} times and needs images of at least "
            f"{smallest}x{smallest}, got {height}x{width}"
        )
    act, pad = ARTICLE_ACTIVATIONS[activation], kernel // 2
    encoder = []
    for c_in, c_out in itertools.pairwise((channels, *widths)):
        encoder += [nn.Conv2d(c_in, c_out, kernel, padding=pad), act(), nn.MaxPool2d(2)]
    code_map = widths[-1] * (height // smallest) * (width // smallest)
    encoder += [nn.Flatten(), nn.Linear(code_map, latent)]
    decoder = [nn.Linear(latent, channels * height * width), nn.Unflatten(1, in_shape)]
    hidden = widths[-2::-1]  # (128, 64, 32) or (64, 32)
    for c_in, c_out in itertools.pairwise((channels, *hidden)):
        decoder += [nn.ConvTranspose2d(c_in, c_out, kernel, padding=pad), act()]
    decoder.append(nn.ConvTranspose2d(hidden[-1], out_channels, kernel, padding=pad))
    return nn.Sequential(*encoder), nn.Sequential(*decoder)


def _keras_init(model):
    """Keras' default initialisers: Glorot-uniform weights, zero biases, for every layer.

    (PyTorch's own defaults draw smaller weights; the article's runs started from these.)
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


class ConvAutoencoder(Autoencoder):
    """Our own convolutional autoencoder: the deep model's job done better and many times faster.

    Same interface, code size and MSE objective as :class:`DeepConvAutoencoder`, built the way
    DCGAN (Radford et al. 2016) builds its networks. Encoder: pad the image with zeros to a
    multiple of 8 (28x28 becomes 32x32), three 4x4 convolutions of stride 2 with ``width``,
    ``2*width`` and ``4*width`` channels, each with batch normalisation and ReLU, then dense to
    ``latent``. Decoder: the mirror image, three 4x4 transposed convolutions of stride 2 that
    double the size, a sigmoid so that pixels lie in 0..1, and a crop back to ``(C, H, W)``.

    Strided convolutions downsample as they compute, so no layer works at full resolution with
    many channels; that is where the deep model spends its time. The default ``width=24`` keeps
    training on a 2-core CPU over 10x faster than the deep model (``benchmarks/model_speed.py``);
    ``width=32`` reconstructs a little better at about 1.6x the cost. ``code_activation="sigmoid"``
    keeps the code in 0..1, for the fruit chapter's sliders. Taught in the encoder-decoder
    chapter, as the model that improves on the article's.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32, width=24, code_activation=None):
        super().__init__(in_shape, latent)
        self.width = _check_positive_int(width, "width")
        if code_activation not in (None, "sigmoid"):
            raise ValueError(f"code_activation must be None or 'sigmoid', got {code_activation!r}")
        self.config = dict(
            in_shape=self.in_shape,
            latent=self.latent,
            width=self.width,
            code_activation=code_activation,
        )
        channels, height, image_width = self.in_shape
        w = self.width
        # Pad evenly on both sides, so the network sees the image centred.
        pad_h, pad_w = -height % 8, -image_width % 8
        padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        code_map = (4 * w, (height + pad_h) // 8, (image_width + pad_w) // 8)

        encoder = [nn.ZeroPad2d(padding)]
        for c_in, c_out in ((channels, w), (w, 2 * w), (2 * w, 4 * w)):
            encoder += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        encoder += [nn.Flatten(), nn.Linear(math.prod(code_map), self.latent)]
        if code_activation == "sigmoid":
            encoder.append(nn.Sigmoid())
        self.encoder = nn.Sequential(*encoder)

        decoder = [nn.Linear(self.latent, math.prod(code_map)), nn.Unflatten(1, code_map)]
        for c_in, c_out in ((4 * w, 2 * w), (2 * w, w), (w, channels)):
            decoder += [
                nn.BatchNorm2d(c_in),
                nn.ReLU(),
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1),
            ]
        # Negative padding crops the padded border away.
        decoder += [nn.Sigmoid(), nn.ZeroPad2d(tuple(-p for p in padding))]
        self.decoder = nn.Sequential(*decoder)


class _Sum(nn.Module):
    """``first(x) + second(x)``: a path and a learned correction beside it."""

    def __init__(self, first, second):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x):
        return self.first(x) + self.second(x)


class LinearStartAutoencoder(Autoencoder):
    """A linear autoencoder with a convolutional correction beside each half, zero at the start.

    Encoder: a dense map of the flattened image to the code, plus :class:`ConvAutoencoder`'s
    encoder (strided convolutions of ``width``, ``2*width``, ``4*width`` channels, then dense to
    the code) whose last layer starts at zero. Decoder: a dense map of the code to the image,
    plus the mirror image of that correction, its last layer again at zero. Everything the
    decoder knows passes through the code of ``latent`` numbers.

    :meth:`start_from` sets the two dense maps to a closed-form linear solution (a
    :class:`imgen.baselines.LinearMap`: PCA for reconstruction, reduced-rank ridge regression for
    completion), so training starts at the linear baseline's error and the corrections can only
    learn what a straight line cannot. A plain network trained from scratch starts far above it.
    No sigmoid: the output is the linear part's pixels plus a correction.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=32, width=32):
        super().__init__(in_shape, latent)
        self.width = _check_positive_int(width, "width")
        self.config = dict(in_shape=self.in_shape, latent=self.latent, width=self.width)
        pixels = math.prod(self.in_shape)
        conv = ConvAutoencoder(self.in_shape, self.latent, self.width)
        # ConvAutoencoder's halves without its sigmoid; the last layer of each correction at 0.
        decoder = list(conv.decoder)
        del decoder[-2]
        for last in (conv.encoder[-1], decoder[-2]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.encoder = _Sum(
            nn.Sequential(nn.Flatten(), nn.Linear(pixels, self.latent)), conv.encoder
        )
        self.decoder = _Sum(
            nn.Sequential(nn.Linear(self.latent, pixels), nn.Unflatten(1, self.in_shape)),
            nn.Sequential(*decoder),
        )

    def linear_part(self, x):
        """The image the two dense maps alone paint from ``x``: the linear baseline the model
        started from (training keeps those maps fixed), without the corrections."""
        return self.decoder.first(self.encoder.first(x))

    @torch.no_grad()
    def start_from(self, linear_map):
        """Set the dense maps to ``linear_map`` (an :class:`imgen.baselines.LinearMap` between
        flattened images of this model's shape, its code of this model's size); returns self."""
        pixels = math.prod(self.in_shape)
        encode, decode = linear_map.encode, linear_map.decode
        if encode.shape[1] != self.latent or decode.shape != (self.latent, pixels):
            raise ValueError(
                f"the linear map has a code of {encode.shape[1]} and {decode.shape[1]} outputs; "
                f"this model needs a code of {self.latent} and {pixels} outputs"
            )
        into, out = self.encoder.first[1], self.decoder.first[0]
        weight = torch.zeros(self.latent, pixels, dtype=torch.float64)
        weight[:, linear_map.inputs] = encode.T
        into.weight.copy_(weight)
        into.bias.copy_(-(linear_map.mean_in @ encode))
        out.weight.copy_(decode.T)
        out.bias.copy_(linear_map.mean_out)
        return self


class VariationalAutoencoder(Autoencoder):
    """What the VAEs share: an encoder that gives a Gaussian per image, a decoder, sampling.

    ``encode(x)`` returns ``(mu, logvar)``, each ``(N, latent)``: the mean and the log-variance of
    the Gaussian ``q(z | x)`` over codes. ``forward(x)`` returns ``(reconstruction, mu, logvar)``;
    in training mode the code it decodes is drawn from ``q(z | x)`` by the reparameterisation
    trick (``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)``), in eval mode it is the mean
    ``mu``, so that scores and pictures do not change from one call to the next. Subclasses
    build ``self.encoder`` (images to ``(N, features)``), the heads ``self.to_mu`` and
    ``self.to_logvar`` (``features`` to ``latent``) and ``self.decoder``. Taught in the
    variational autoencoder chapter; the loss is :func:`imgen.vae.elbo_loss`.
    """

    def encode(self, x):
        """Images ``(N, C, H, W)`` to ``(mu, logvar)``, each ``(N, latent)``."""
        _check_batch(x, self.in_shape, "images")
        features = self.encoder(x)
        return self.to_mu(features), self.to_logvar(features)

    def forward(self, x):
        """Images ``(N, C, H, W)`` to ``(reconstruction (N, C, H, W), mu, logvar (N, latent))``."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar


def reparameterize(mu, logvar, generator=None):
    """A code drawn from ``N(mu, exp(logvar))``, as ``mu + exp(logvar / 2) * eps``.

    ``eps ~ N(0, I)`` carries all the randomness, so gradients flow through ``mu`` and ``logvar``
    (the reparameterisation trick of Kingma and Welling 2014). Shapes ``(N, latent)`` in and out.
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class DenseVAE(VariationalAutoencoder):
    """The fruit autoencoder made variational: 768-256-16, two heads 16-4, then 4-16-256-768.

    The same sizes as :class:`DenseAutoencoder`, but the encoder ends in two dense heads, the
    mean and the log-variance of the code (no sigmoid: the code is unbounded and the prior is
    ``N(0, I)``). The decoder is :class:`DenseAutoencoder`'s, so the page's JavaScript sliders
    (:mod:`imgen.sliders`) run it too. Images ``(N, 3, 16, 16)`` in 0..1.
    """

    def __init__(self, in_shape=(3, 16, 16), hidden=(256, 16), latent=4):
        super().__init__(in_shape, latent)
        hidden = tuple(_check_positive_int(h, "hidden sizes") for h in hidden)
        self.config = dict(in_shape=self.in_shape, hidden=hidden, latent=self.latent)
        sizes = [math.prod(self.in_shape), *hidden]
        self.encoder = nn.Sequential(nn.Flatten(), *_dense_stack(sizes), nn.ReLU())
        self.to_mu = nn.Linear(hidden[-1], self.latent)
        self.to_logvar = nn.Linear(hidden[-1], self.latent)
        self.decoder = nn.Sequential(
            *_dense_stack([self.latent, *sizes[::-1]]), nn.Sigmoid(), nn.Unflatten(1, self.in_shape)
        )


class ConvVAE(VariationalAutoencoder):
    """A small convolutional VAE for digits and faces: :class:`ConvAutoencoder` with two heads.

    The encoder is :class:`ConvAutoencoder`'s up to its last dense layer (three 4x4 stride-2
    convolutions with batch normalisation and ReLU, then flatten), followed by two dense heads
    to the code's mean and log-variance; the decoder is :class:`ConvAutoencoder`'s (dense, three
    4x4 stride-2 transposed convolutions, sigmoid, crop). Images ``(N, C, H, W)`` in 0..1, for
    example MNIST ``(1, 28, 28)`` or LFW ``(3, 32, 32)``.
    """

    def __init__(self, in_shape=(1, 28, 28), latent=16, width=24):
        super().__init__(in_shape, latent)
        plain = ConvAutoencoder(in_shape, latent, width)
        self.config = dict(in_shape=self.in_shape, latent=self.latent, width=plain.width)
        features = plain.encoder[-1].in_features
        self.encoder = plain.encoder[:-1]  # all but the dense layer to the code
        self.to_mu = nn.Linear(features, self.latent)
        self.to_logvar = nn.Linear(features, self.latent)
        self.decoder = plain.decoder


class ConvClassifier(nn.Module):
    """A small VGG-style image classifier, for the CNN-basics chapter (MNIST, CIFAR).

    Two blocks of conv-conv-pool (3x3 'same' convolutions with ReLU, ``width`` then ``2*width``
    channels, 2x2 max pooling), dropout, a dense layer of 128 with ReLU, dropout, and a dense
    layer to ``n_classes`` logits. ``forward`` maps images ``(N, C, H, W)`` to logits
    ``(N, n_classes)``; :meth:`feature_maps` returns what each layer of ``features`` computes, and
    ``features[0].weight`` holds the learned first-layer filters ``(width, C, 3, 3)``.
    """

    def __init__(self, in_shape=(1, 28, 28), n_classes=10, width=32):
        super().__init__()
        self.in_shape = _check_in_shape(in_shape)
        n_classes = _check_positive_int(n_classes, "n_classes")
        width = _check_positive_int(width, "width")
        self.config = dict(in_shape=self.in_shape, n_classes=n_classes, width=width)
        channels, height, image_width = self.in_shape
        if min(height, image_width) < 4:
            raise ValueError(
                f"ConvClassifier needs images of at least 4x4, got {height}x{image_width}"
            )
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )  # fmt: skip
        flat = 2 * width * (height // 4) * (image_width // 4)
        self.classifier = nn.Sequential(
            nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(flat, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, n_classes),
        )

    def forward(self, x):
        """Images ``(N, C, H, W)`` to class logits ``(N, n_classes)``."""
        _check_batch(x, self.in_shape, "images")
        return self.classifier(self.features(x))

    def feature_maps(self, x):
        """The output of every layer in ``features``, by name: ``{"conv1": (N, width, H, W), ...}``.

        Names are ``conv1`` to ``conv4`` (after the ReLU), ``pool1`` and ``pool2``.
        """
        _check_batch(x, self.in_shape, "images")
        maps, convs, pools = {}, 0, 0
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                convs += 1
                maps[f"conv{convs}"] = x
            elif isinstance(layer, nn.MaxPool2d):
                pools += 1
                maps[f"pool{pools}"] = x
        return maps


class DCGANGenerator(nn.Module):
    """The generator of DCGAN (Radford, Metz and Chintala 2016), sized for 28x28 and 32x32 images.

    A code ``z`` of ``latent`` numbers ``(N, latent)`` goes through a dense layer to a small map
    (``4*width`` channels at 4x4 for 32x32 images, ``2*width`` at 7x7 for 28x28), then 4x4
    transposed convolutions of stride 2 that double the size and halve the channels, each
    followed by batch normalisation and ReLU, the last one to ``C`` channels and tanh, as in the
    paper. The output is mapped from tanh's -1..1 to 0..1, so it returns images
    ``(N, C, H, W)`` in 0..1 like the rest of the course. ``batch_norm=False`` drops the batch
    normalisation (the chapter's ablation). Taught in the GAN chapter.
    """

    def __init__(self, out_shape=(1, 28, 28), latent=64, width=32, batch_norm=True):
        super().__init__()
        self.out_shape = _check_in_shape(out_shape)
        self.latent = _check_positive_int(latent, "latent")
        width = _check_positive_int(width, "width")
        self.config = dict(
            out_shape=self.out_shape, latent=self.latent, width=width, batch_norm=bool(batch_norm)
        )
        channels, start, doublings = _dcgan_layout(self.out_shape)
        widths = [width * 2 ** (doublings - 1 - i) for i in range(doublings)] + [channels]
        norm = nn.BatchNorm2d if batch_norm else (lambda _: nn.Identity())
        layers = [
            nn.Linear(self.latent, widths[0] * start * start),
            nn.Unflatten(1, (widths[0], start, start)),
            norm(widths[0]),
            nn.ReLU(),
        ]
        for c_in, c_out in itertools.pairwise(widths):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            layers += [norm(c_out), nn.ReLU()] if c_out != channels else [nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, z):
        """Codes ``(N, latent)`` to images ``(N, C, H, W)`` in 0..1."""
        _check_batch(z, (self.latent,), "codes")
        return (self.net(z) + 1) / 2


class DCGANDiscriminator(nn.Module):
    """The discriminator of DCGAN, the generator's mirror image: images to one logit each.

    Images ``(N, C, H, W)`` in 0..1 are mapped to -1..1, then 4x4 convolutions of stride 2 halve
    the size and double the channels (``width``, ``2*width``, ...), with LeakyReLU(0.2) and batch
    normalisation on all but the first, as in the paper; a dense layer gives the logit
    ``(N,)``: high for "real", low for "generated" (``sigmoid(logit)`` is D's probability that
    the image is real). ``batch_norm=False`` drops the batch normalisation. GAN chapter.
    """

    def __init__(self, in_shape=(1, 28, 28), width=32, batch_norm=True):
        super().__init__()
        self.in_shape = _check_in_shape(in_shape)
        width = _check_positive_int(width, "width")
        self.config = dict(in_shape=self.in_shape, width=width, batch_norm=bool(batch_norm))
        channels, start, doublings = _dcgan_layout(self.in_shape)
        widths = [channels] + [width * 2**i for i in range(doublings)]
        layers = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
        layers += [nn.Flatten(), nn.Linear(widths[-1] * start * start, 1)]
        self.net = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, x):
        """Images ``(N, C, H, W)`` in 0..1 to logits ``(N,)``."""
        _check_batch(x, self.in_shape, "images")
        return self.net(x * 2 - 1).squeeze(1)


class MLPGenerator(nn.Module):
    """A small generator of points for the GAN chapter's toy data: codes ``(N, latent)`` through
    dense layers of ``hidden`` units with ReLU to points ``(N, dim)``."""

    def __init__(self, latent=8, hidden=128, layers=3, dim=2):
        super().__init__()
        self.latent = _check_positive_int(latent, "latent")
        self.dim = _check_positive_int(dim, "dim")
        hidden = _check_positive_int(hidden, "hidden")
        layers = _check_positive_int(layers, "layers")
        self.out_shape = (self.dim,)
        self.config = dict(latent=self.latent, hidden=hidden, layers=layers, dim=self.dim)
        self.net = nn.Sequential(*_dense_stack([self.latent] + [hidden] * layers + [self.dim]))

    def forward(self, z):
        """Codes ``(N, latent)`` to points ``(N, dim)``."""
        _check_batch(z, (self.latent,), "codes")
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """The toy data's discriminator: points ``(N, dim)`` through dense layers of ``hidden`` units
    with ReLU to one logit each ``(N,)``."""

    def __init__(self, dim=2, hidden=128, layers=3):
        super().__init__()
        self.dim = _check_positive_int(dim, "dim")
        hidden = _check_positive_int(hidden, "hidden")
        layers = _check_positive_int(layers, "layers")
        self.in_shape = (self.dim,)
        self.config = dict(dim=self.dim, hidden=hidden, layers=layers)
        self.net = nn.Sequential(*_dense_stack([self.dim] + [hidden] * layers + [1]))

    def forward(self, x):
        """Points ``(N, dim)`` to logits ``(N,)``."""
        _check_batch(x, (self.dim,), "points")
        return self.net(x).squeeze(1)


def _dcgan_layout(shape):
    """(channels, side of the smallest map, number of stride-2 layers) for square images whose
    side is 28 (7 -> 14 -> 28) or a multiple of 8 (4 -> 8 -> ... for 32)."""
    channels, height, width = shape
    if height != width or height % 4 or height < 8:
        raise ValueError(
            f"the DCGAN networks need square images whose side is a multiple of 4 (28, 32, 64), "
            f"got {height}x{width}"
        )
    doublings = 2 if height % 8 else max(1, int(math.log2(height // 4)))
    start = height // 2**doublings
    return channels, start, doublings


def _dcgan_init(model):
    # The paper's initialisation: weights from N(0, 0.02), batch-norm scales from N(1, 0.02).
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


MODELS = {
    "dense": DenseAutoencoder,
    "basic": BasicAutoencoder,
    "deep": DeepConvAutoencoder,
    "conv": ConvAutoencoder,
    "linear-start": LinearStartAutoencoder,
    "classifier": ConvClassifier,
    "dense-vae": DenseVAE,
    "conv-vae": ConvVAE,
    "article-basic": ArticleBasicAutoencoder,
    "article-deep": ArticleDeepAutoencoder,
    "article-3layer": ArticleThreeLayerAutoencoder,
    "dcgan-generator": DCGANGenerator,
    "dcgan-discriminator": DCGANDiscriminator,
    "mlp-generator": MLPGenerator,
    "mlp-discriminator": MLPDiscriminator,
}


def build_model(name, **kwargs):
    """Build the model registered as ``name`` in :data:`MODELS` with constructor ``kwargs``.

    ``build_model(name, **model.config)`` rebuilds a model's architecture, for example from a
    checkpoint.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def _dense_stack(sizes):
    """Linear layers through ``sizes`` with ReLU between them (none after the last)."""
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers[:-1]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_in_shape(in_shape):
    """``in_shape`` as a tuple ``(C, H, W)`` of positive ints (a list from JSON works too)."""
    shape = tuple(in_shape) if isinstance(in_shape, (tuple, list, torch.Size)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise ValueError(f"in_shape must be (C, H, W), three positive ints, got {in_shape!r}")
    return shape


def _check_batch(x, shape, what):
    """Refuse anything but a float tensor ``(N, *shape)``, in one sentence."""
    expected = "(N, " + ", ".join(str(n) for n in shape) + ")"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected {what} as a tensor of shape {expected}, got {type(x).__name__}")
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"expected {what} of shape {expected}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected {what} as a float tensor, got {x.dtype}")
