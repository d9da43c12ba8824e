"""The variational autoencoder's loss, its scores and sampling from its prior.

A VAE (:class:`imgen.models.DenseVAE`, :class:`imgen.models.ConvVAE`) is trained to minimise the
negative evidence lower bound (ELBO) of Kingma and Welling (2014), per image:

- **reconstruction**: the squared error summed over the pixels of the image, the negative
  log-likelihood (up to a constant) of a Gaussian decoder with variance 1/2;
- **KL**: the Kullback-Leibler divergence from the encoder's Gaussian ``N(mu, exp(logvar))`` to
  the prior ``N(0, I)``, summed over the code's numbers, in closed form.

``beta`` weighs the KL term (beta-VAE, Higgins et al. 2017). :func:`imgen.train.fit` trains a VAE
with ``task="vae"``. Taught in the variational autoencoder chapter.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from imgen.models import VariationalAutoencoder, reparameterize


class ElboTerms(NamedTuple):
    """The terms of the negative ELBO, each a mean over the batch's images (scalars)."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def elbo_loss(recon, x, mu, logvar, beta=1.0):
    """The negative ELBO of a batch and its two terms: ``ElboTerms(total, reconstruction, kl)``.

    ``recon`` and ``x``: images ``(N, C, H, W)``; ``mu`` and ``logvar``: codes ``(N, latent)``.
    ``reconstruction`` is the squared error summed over each image's pixels, ``kl`` the KL
    divergence ``KL(N(mu, exp(logvar)) || N(0, I))`` summed over each code, both averaged over
    the ``N`` images; ``total = reconstruction + beta * kl``. ``beta`` >= 0 (1: the ELBO).
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}")
    for name, value in (("recon", recon), ("x", x), ("mu", mu), ("logvar", logvar)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(value).__name__}")
    if recon.shape != x.shape or x.ndim != 4:
        raise ValueError(
            f"recon and x must be images of the same shape (N, C, H, W), "
            f"got recon {tuple(recon.shape)} and x {tuple(x.shape)}"
        )
    if mu.shape != logvar.shape or mu.ndim != 2 or len(mu) != len(x):
        raise ValueError(
            f"mu and logvar must both be shaped (N, latent) with N={len(x)} images, "
            f"got mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)}"
        )
    n = len(x)
    reconstruction = (recon - x).pow(2).sum() / n
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / n
    return ElboTerms(reconstruction + beta * kl, reconstruction, kl)


@torch.no_grad()
def sample(model, n, generator=None):
    """``n`` new images ``(n, C, H, W)`` from ``model``: codes drawn from the prior ``N(0, I)``,
    decoded. ``generator`` (a ``torch.Generator``) makes the draw reproducible."""
    if not isinstance(model, VariationalAutoencoder):
        raise TypeError(
            "sample needs a variational autoencoder (DenseVAE, ConvVAE), "
            f"got {type(model).__name__}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    device = next(model.parameters()).device
    z = torch.randn(n, model.latent, generator=generator).to(device)
    return model.decode(z)


@torch.no_grad()
def score(model, data, *, beta=1.0, batch_size=512, seed=0):
    """The model's scores on all images of ``data`` (an ImageData or ``(N, C, H, W)`` tensor).

    Returns a dict of floats: ``reconstruction`` and ``kl`` (per image, as in :func:`elbo_loss`,
    the code drawn from ``q(z | x)`` with a generator seeded by ``seed``), ``total`` (with
    ``beta``), and ``mse``: the mean squared error per pixel of the reconstruction decoded from
    the code's mean, comparable with the plain autoencoders' test MSE.
    """
    images = getattr(data, "images", data)
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    sums = {"reconstruction": 0.0, "kl": 0.0, "squared_error": 0.0}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        x = (x.float() / 255 if x.dtype == torch.uint8 else x.float()).to(device)
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator).to(device)
        terms = elbo_loss(model.decode(z), x, mu, logvar)
        sums["reconstruction"] += terms.reconstruction.item() * len(x)
        sums["kl"] += terms.kl.item() * len(x)
        sums["squared_error"] += (model.decode(mu) - x).pow(2).sum().item()
    n = len(images)
    result = {"reconstruction": sums["reconstruction"] / n, "kl": sums["kl"] / n}
    result["total"] = result["reconstruction"] + beta * result["kl"]
    result["mse"] = sums["squared_error"] / images.numel()
    return result


__all__ = ["ElboTerms", "elbo_loss", "reparameterize", "sample", "score"]
