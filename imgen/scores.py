"""Scores for generated images that run offline: FID, KID, an Inception-Score-style score, and
class coverage, all measured by one of the course's own classifiers (the "judge").

The usual FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018) compare real and generated
images in the feature space of an Inception network trained on ImageNet, and the Inception Score
(Salimans et al. 2016) reads that network's class probabilities. Its weights would have to be
downloaded, and 28x28 digits or 32x32 faces would have to be blown up to 299x299 for it. Here
the judge is a small network the course trains itself (:class:`imgen.models.ConvClassifier`):

- digits: ``mnist-classifier``, which knows the ten digits;
- faces: ``cifar-classifier``, the one course network trained on natural colour photos at
  32x32 (CIFAR-100, which has classes for people: baby, boy, girl, man, woman). LFW's labels
  name 5,749 people, most with one or two photos, too few to train a judge on.

Its features are the 128 numbers of its last hidden layer. Scores in different judges' feature
spaces cannot be compared with each other nor with published FIDs; the real-vs-real baseline
(:func:`score_generator`: two disjoint halves of the real test images) says what "as good as
real" reads on each scale. FID and KID come from torchmetrics (imported only when they are
used). Taught in the GAN chapter.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from imgen.models import ConvClassifier

# The course classifier that judges each data set's generated images (see the module docstring).
JUDGES = {"mnist": "mnist-classifier", "lfw": "cifar-classifier"}


class ClassifierFeatures(nn.Module):
    """A :class:`~imgen.models.ConvClassifier` cut before its last layer, as a feature extractor:
    images ``(N, C, H, W)`` floats in 0..1 to its last hidden layer's activations ``(N, 128)``.

    ``num_features`` tells torchmetrics the size.
    """

    def __init__(self, classifier):
        super().__init__()
        if not isinstance(classifier, ConvClassifier):
            raise TypeError(
                "the judge must be an imgen.models.ConvClassifier (for example "
                f"pretrained.load('mnist-classifier')), got {type(classifier).__name__}"
            )
        self.classifier = classifier.eval()
        self.in_shape = classifier.in_shape
        self.num_features = classifier.classifier[-1].in_features

    @torch.no_grad()
    def forward(self, x):
        """Images ``(N, C, H, W)`` in 0..1 to features ``(N, num_features)``."""
        head = self.classifier.classifier[:-1]
        return head(self.classifier.features(x.float()))


@torch.no_grad()
def judge_features(images, judge, *, batch_size=500):
    """The judge's features ``(N, 128)`` of images ``(N, C, H, W)`` (uint8 or floats in 0..1)."""
    features = _features(judge)
    _check_images(images, features.in_shape, "images")
    return torch.cat(
        [features(_floats(images[i : i + batch_size])) for i in _starts(images, batch_size)]
    )


def fid(real, fake, judge):
    """The Fréchet distance between the Gaussians fitted to the judge's features of ``real`` and
    of ``fake`` images (each ``(N, C, H, W)``, uint8 or floats in 0..1; ``judge`` a
    ConvClassifier). 0 for identical feature statistics; lower is better."""
    return _fid(judge_features(real, judge), judge_features(fake, judge))


def kid(real, fake, judge, *, subsets=100, subset_size=1000, seed=0):
    """The kernel inception distance in the judge's feature space: ``(mean, std)`` of the
    unbiased squared MMD with a cubic polynomial kernel over ``subsets`` random subsets of
    ``subset_size`` (at most the smaller set's size), drawn with ``seed``. Near 0 (it can dip
    below) when the two sets come from one distribution; lower is better."""
    return _kid(
        judge_features(real, judge), judge_features(fake, judge), subsets, subset_size, seed
    )


@torch.no_grad()
def class_probabilities(images, judge, *, batch_size=500):
    """The judge's class probabilities ``(N, classes)`` for images ``(N, C, H, W)``."""
    return _probabilities(judge_features(images, judge, batch_size=batch_size), judge)


def inception_score(images, judge):
    """An Inception-Score-style score: ``exp(mean KL(p(y|x) || p(y)))`` with the judge's class
    probabilities. High when each image is confidently one class and the classes are spread
    evenly; at most the number of classes (10 for digits)."""
    return _inception_score(class_probabilities(images, judge))


def class_coverage(images, judge, *, min_share=0.01):
    """Which classes the judge sees in ``images``: a dict with ``counts`` (images predicted as
    each class), ``shares`` (the same as fractions) and ``covered`` (classes with at least
    ``min_share`` of the images). A generator that collapsed onto a few digits covers few."""
    return _coverage(class_probabilities(images, judge), min_share)


def split_real(images, seed=0):
    """Two disjoint halves of ``images``, drawn at random with ``seed``: the real-vs-real
    baseline compares them, and generated images are compared with the first."""
    if len(images) < 4:
        raise ValueError(f"need at least 4 real images to split in two, got {len(images)}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    half = len(images) // 2
    return images[order[:half]], images[order[half : 2 * half]]


def score_images(real, fake, judge, *, seed=0, coverage=False):
    """FID, KID and the IS-style score of ``fake`` against ``real`` images, as a dict of floats
    (with ``coverage``, also :func:`class_coverage`'s ``covered`` and ``counts``). Each image
    goes through the judge once."""
    real_features, fake_features = judge_features(real, judge), judge_features(fake, judge)
    kid_mean, kid_std = _kid(real_features, fake_features, 100, 1000, seed)
    probabilities = _probabilities(fake_features, judge)
    scores = {
        "fid": _fid(real_features, fake_features),
        "kid": kid_mean,
        "kid_std": kid_std,
        "is": _inception_score(probabilities),
    }
    if coverage:
        found = _coverage(probabilities, 0.01)
        scores.update(covered=found["covered"], counts=found["counts"])
    return scores


def score_generator(generator, real, judge, *, seed=0, coverage=False):
    """Score ``generator`` on ``real`` images (an ImageData or ``(N, C, H, W)``) and give the
    real-vs-real baseline beside it, as ``{"generator": {...}, "real": {...}, "samples": n}``.

    The real images are split in two halves (:func:`split_real`); the generator draws as many
    images as a half holds (codes from ``seed``), scored against the first half, and the second
    half is scored against the first the same way: an honest generator cannot beat that row.
    """
    from imgen.gan import sample

    images = getattr(real, "images", real)
    reference, other = split_real(images, seed)
    fake = sample(generator, len(reference), seed=seed)
    return {
        "generator": score_images(reference, fake, judge, seed=seed, coverage=coverage),
        "real": score_images(reference, other, judge, seed=seed, coverage=coverage),
        "samples": len(reference),
    }


def _features(judge):
    return judge if isinstance(judge, ClassifierFeatures) else ClassifierFeatures(judge)


class _Given(nn.Module):
    """Features already computed, handed to torchmetrics as if it computed them."""

    def __init__(self, num_features):
        super().__init__()
        self.num_features = num_features

    def forward(self, features):
        return features


def _fid(real_features, fake_features):
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Given(real_features.shape[1]))
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    return metric.compute().item()


def _kid(real_features, fake_features, subsets, subset_size, seed):
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real_features), len(fake_features))
    with warnings.catch_warnings():  # that it keeps all features: here 128 numbers per image
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=_Given(real_features.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # torchmetrics draws the subsets from the global generator
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return mean.item(), std.item()


@torch.no_grad()
def _probabilities(features, judge):
    return torch.softmax(_features(judge).classifier.classifier[-1](features), dim=1)


def _inception_score(p):
    p = p.double()
    marginal = p.mean(dim=0, keepdim=True)
    kl = (p * (torch.log(p + 1e-12) - torch.log(marginal + 1e-12))).sum(dim=1)
    return math.exp(kl.mean().item())


def _coverage(p, min_share):
    predicted = p.argmax(dim=1)
    counts = torch.bincount(predicted, minlength=p.shape[1])
    return {
        "counts": counts.tolist(),
        "shares": (counts / len(p)).tolist(),
        "covered": int((counts >= min_share * len(p)).sum()),
    }


def _starts(images, batch_size):
    return range(0, len(images), batch_size)


def _floats(x):
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def _check_images(images, shape, what):
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{what} must be a tensor (N, C, H, W), got {type(images).__name__}")
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape) or len(images) < 2:
        raise ValueError(
            f"{what} must be at least 2 images shaped (N, {', '.join(map(str, shape))}) for "
            f"this judge, got {tuple(images.shape)}"
        )
    if images.dtype != torch.uint8:
        if not images.is_floating_point():
            raise TypeError(f"{what} must be uint8 or floats in 0..1, got {images.dtype}")
        low, high = images.min().item(), images.max().item()
        if low < 0 or high > 1:
            raise ValueError(f"{what} must be floats in 0..1, got values in {low:.3g}..{high:.3g}")
