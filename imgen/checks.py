"""Checks a learner runs on an exercise's answer: one sentence on what is wrong, or a pass.

Each check takes the learner's answer (and what it needs to judge it), raises
:class:`WrongAnswer` with a one-sentence hint when the answer is wrong, and prints one sentence
when it is right. The exercise that a check belongs to is named in its docstring; the chapters
call them right after each solution's code (``tools/student.py`` keeps that call in the student
edition).
"""

from __future__ import annotations

import torch
from torch import nn


class WrongAnswer(AssertionError):
    """An exercise's answer is wrong; the message says how, in one sentence."""


def _passed(message: str) -> None:
    print(f"Right: {message}")


def _sizes(shapes) -> list[int]:
    """Heights from a list of ints, (H, W) pairs or full shapes such as (1, 8, 28, 28)."""
    heights = []
    for shape in shapes:
        if isinstance(shape, int):
            heights.append(shape)
        else:
            shape = tuple(shape)
            heights.append(int(shape[-2] if len(shape) >= 2 else shape[0]))
    return heights


def output_sizes(shapes) -> None:
    """Exercise 1.1: the sizes after a 5x5 convolution, 2x2 max pooling and a 3x3 convolution
    with padding 1 and stride 2, on a 32 x 32 image.

    ``shapes`` lists the three outputs, as heights, ``(H, W)`` pairs or full shapes
    ``(N, C, H, W)``; the answer is 28, 14, 7.
    """
    expected = [28, 14, 7]
    got = _sizes(shapes)
    if len(got) != 3:
        raise WrongAnswer(f"give three sizes, one after each layer; you gave {len(got)}")
    first, pooled, last = got
    if first != 28:
        hint = ("a 5 x 5 kernel without padding fits 32 - 5 + 1 = 28 times along each side"
                if first in (32, 30) else "the first convolution gives 32 + 0 - 5 + 1 = 28")
        raise WrongAnswer(f"your first size is {first}; {hint}")
    if pooled != 14:
        raise WrongAnswer(f"your size after pooling is {pooled}; a 2 x 2 max pooling halves 28 "
                          "to 14")
    if last != 7:
        if last == 14:
            hint = "with stride 2 it would be 7: the kernel moves two pixels at a time"
        elif last in (6, 12):
            hint = "with padding 1 it would be 7: (14 + 2 - 3) // 2 + 1"
        else:
            hint = "(14 + 2 * 1 - 3) // 2 + 1 = 7"
        raise WrongAnswer(f"your last size is {last}; {hint}")
    _passed(f"the sizes are {expected[0]}, {expected[1]} and {expected[2]}.")


def cifar_params(first_conv: int, first_dense: int) -> None:
    """Exercise 1.6: parameters of the first convolution and the first dense layer of
    ``ConvClassifier(in_shape=(3, 32, 32), n_classes=20)`` (896 and 524,416)."""
    if first_conv != 896:
        hints = {
            320: "that is the MNIST model's count; with 3 input channels each of the 32 kernels "
                 "has 3 x 3 x 3 = 27 weights, so 32 * 27 + 32 = 896",
            864: "you left out the 32 biases: 32 * 27 + 32 = 896",
            288: "each kernel reads all 3 channels: 32 * (3 * 3 * 3) + 32 = 896",
        }
        hint = hints.get(first_conv, "32 kernels of 3 x 3 x 3 weights plus 32 biases make 896")
        raise WrongAnswer(f"you have {first_conv:,} for the first convolution; {hint}")
    if first_dense != 524_416:
        hints = {
            401_536: "that is the MNIST model's; 32 x 32 maps after two poolings are 8 x 8, "
                     "so 64 * 8 * 8 * 128 + 128 = 524,416",
            524_288: "you left out the 128 biases: 4,096 * 128 + 128 = 524,416",
            2_097_280: "each 2 x 2 pooling halves the maps, so 32 x 32 becomes 8 x 8 after two, "
                       "not 16 x 16: 4,096 * 128 + 128 = 524,416",
        }
        hint = hints.get(first_dense, "64 channels of 8 x 8 go into 128 units: "
                                      "4,096 * 128 + 128 = 524,416")
        raise WrongAnswer(f"you have {first_dense:,} for the first dense layer; {hint}")
    _passed("896 in the first convolution, 524,416 in the first dense layer, the largest.")


def combined_kernel(kernel: torch.Tensor, two: nn.Module) -> None:
    """Exercise 1.4: ``kernel`` (5 x 5) makes one convolution equal to the two 3 x 3 ones of
    ``two`` (an ``nn.Sequential`` of two ``Conv2d(1, 1, 3, padding=1, bias=False)``)."""
    kernel = torch.as_tensor(kernel).detach().float()
    if kernel.dim() > 2 and kernel.shape[:-2].numel() == 1:
        kernel = kernel.reshape(kernel.shape[-2:])  # (1, 1, 5, 5) is a 5 x 5 kernel too
    if tuple(kernel.shape) != (5, 5):
        raise WrongAnswer(f"your kernel is {tuple(kernel.shape)}; two 3 x 3 kernels in a row "
                          "reach 5 x 5 pixels, so it must be 5 x 5")
    with torch.no_grad():
        x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
        want = two(x)[..., 2:-2, 2:-2]

        def one(k):
            return nn.functional.conv2d(x, k[None, None], padding=2)[..., 2:-2, 2:-2]

        scale = want.abs().max().clamp_min(1e-12)
        if ((one(kernel) - want).abs().max() / scale) < 1e-4:
            _passed("one 5 x 5 convolution computes what the two 3 x 3 ones do, away from the "
                    "border.")
            return
        if ((one(kernel.flip(0, 1)) - want).abs().max() / scale) < 1e-4:
            raise WrongAnswer("your kernel is upside down and mirrored: PyTorch's layers "
                              "cross-correlate, so flip the impulse response with .flip(0, 1)")
    raise WrongAnswer("your kernel does not give the two layers' output; push a single bright "
                      "pixel through both layers and read the 5 x 5 patch around it")


def kl_terms(by_hand: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Exercise 2b.2: the KL divergence of ``N(mu, exp(logvar))`` from ``N(0, I)``, one term per
    code number: ``0.5 * (mu**2 + exp(logvar) - 1 - logvar)``."""
    by_hand = torch.as_tensor(by_hand).detach().float()
    mu, logvar = mu.detach().float(), logvar.detach().float()
    want = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    if by_hand.numel() == 1 and want.numel() > 1:
        if torch.isclose(by_hand.sum(), want.sum(), rtol=1e-4, atol=1e-6):
            _passed(f"the KL term is {want.sum().item():.4f} (one term per code number adds "
                    "up to it).")
            return
        by_hand = by_hand.expand_as(want)
    if by_hand.shape != want.shape:
        raise WrongAnswer(f"your terms have shape {tuple(by_hand.shape)}; give one per code "
                          f"number, shape {tuple(want.shape)}, or their sum")

    def close(a):
        return torch.allclose(by_hand, a, rtol=1e-4, atol=1e-6)

    if close(want):
        _passed(f"the KL term is {want.sum().item():.4f}, summed over the code numbers.")
        return
    if close(2 * want):
        raise WrongAnswer("your terms are twice too large: the formula starts with a factor 0.5")
    std = (0.5 * logvar).exp()
    if close(0.5 * (mu**2 + std - 1 - logvar)):
        raise WrongAnswer("you used the standard deviation where the variance belongs: "
                          "exp(logvar) is sigma squared")
    if close(-want):
        raise WrongAnswer("your terms have the wrong sign: the KL divergence is never negative")
    raise WrongAnswer("your terms differ from 0.5 * (mu**2 + exp(logvar) - 1 - logvar)")


def pca_autoencoder(net: nn.Module, images: torch.Tensor, k: int) -> None:
    """Exercise 3.2: a ``BasicAutoencoder`` whose weights were set to PCA's ``k`` directions of
    the flat training ``images`` ``(N, C, H, W)``: its reconstructions must be PCA's."""
    flat = images.detach().float().flatten(1)
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    directions = vh[:k].T
    pca = (flat - mean) @ directions @ directions.T + mean
    with torch.no_grad():
        out = net(images.float()).flatten(1)
    pca_error = ((pca - flat) ** 2).mean().item()
    error = ((out - flat) ** 2).mean().item()
    if error <= pca_error * 1.005 + 1e-9:
        _passed(f"your model reconstructs with PCA's error, {error:.5f}, without training.")
        return
    encode, decode = net.encoder[1], net.decoder[0]
    if not torch.allclose(decode.bias, mean, atol=1e-4):
        raise WrongAnswer("your decoder's bias is not the mean image: the decoder must paint "
                          "the mean plus the directions weighted by the code")
    if not torch.allclose(encode.weight, decode.weight.T, atol=1e-4):
        raise WrongAnswer("your encoder's weight is not the transpose of your decoder's: with "
                          "orthonormal directions, the code is directions.T @ (x - mean)")
    if not torch.allclose(encode.bias, -encode.weight @ mean, atol=1e-4):
        raise WrongAnswer("your encoder does not subtract the mean: set its bias to "
                          "-directions.T @ mean")
    raise WrongAnswer(f"your model's error is {error:.5f}, PCA's is {pca_error:.5f}: its "
                      f"directions are not the first {k} principal directions")


def dead_pixels(never_lit: int, rarely_lit: int, images: torch.Tensor) -> None:
    """Exercise 3.6: the pixels that are 0 in every image of ``images`` ``(N, C, H, W)``
    (``never_lit``), and those lit (above 0) in fewer than 1 % of them (``rarely_lit``)."""
    pixels = images.flatten(1)
    lit = (pixels > 0).float().mean(0)
    want_never = int((pixels.amax(0) == 0).sum())
    want_rare = int((lit < 0.01).sum())
    if never_lit != want_never:
        if never_lit == int((pixels.amin(0) == 0).sum()):
            hint = "you counted pixels that are black in some image; count those black in all"
        elif never_lit == int((lit > 0).sum()):
            hint = "you counted the pixels lit at least once; count the others"
        else:
            hint = "a pixel is never lit when its largest value over all images is 0"
        raise WrongAnswer(f"you counted {never_lit} never-lit pixels; {hint}")
    if rarely_lit != want_rare:
        if rarely_lit == int((lit < 0.01).sum()) - want_never or rarely_lit == int(
                ((lit > 0) & (lit < 0.01)).sum()):
            hint = "the pixels lit in fewer than 1 % include the never-lit ones"
        elif rarely_lit == int((lit < 1).sum()):
            hint = "1 % is 0.01 when you average a boolean per pixel, not 1"
        else:
            hint = "average (pixels > 0) over the images and count the pixels below 0.01"
        raise WrongAnswer(f"you counted {rarely_lit} rarely-lit pixels; {hint}")
    _passed(f"{want_never} pixels are never lit and {want_rare} are lit in fewer than 1 % of "
            "the images.")


def fid_sample_sizes(halves, fids) -> None:
    """Exercise 6.3: real-vs-real FIDs (``fids``) of two halves of ``halves`` test digits each,
    for halves of 250, 1,000 and 5,000 images in that order."""
    halves, fids = [int(n) for n in halves], [float(f) for f in fids]
    if halves != [250, 1000, 5000]:
        if sorted(halves) == [500, 2000, 10000]:
            hint = "give the size of one half, not of the images you split"
        else:
            hint = "split 500, 2,000 and 10,000 test digits into halves of 250, 1,000 and 5,000"
        raise WrongAnswer(f"your halves hold {halves} images; {hint}")
    if len(fids) != 3 or min(fids) < 0:
        raise WrongAnswer("give one FID per size, each a distance, so 0 or more")
    if not fids[0] > fids[1] > fids[2]:
        shown = [round(f, 2) for f in fids]
        raise WrongAnswer(f"your FIDs {shown} do not fall as the halves grow; split the first n "
                          "test digits each time and score one half against the other")
    _passed(f"the real-vs-real FID falls from {fids[0]:.2f} to {fids[2]:.2f} as the halves "
            "grow from 250 to 5,000: small samples inflate FID.")
