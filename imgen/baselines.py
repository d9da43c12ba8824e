"""Linear baselines in closed form: the floor every learned model of the article's table must beat.

- Reconstruction: principal component analysis at the cell's latent, fitted on the training
  images (:func:`pca_reconstruction`). A linear autoencoder with biases (the article's basic model)
  can do no better on its training images.
- Completion: ridge regression from the visible pixels to the whole image, its fitted map cut to
  the cell's latent as rank (reduced-rank ridge regression, :func:`ridge_completion`): the best a
  linear map through a code of that size can do; the ridge strength is chosen on images held out
  of the training split, never on the evaluation images.

Both are scored as the article scored: the mean squared error over every pixel and channel of the
whole image (the visible rows too), pixels in 0..1, nothing clipped. Everything is computed from
the images' first and second moments, in float64, in seconds. :func:`article_baseline` scores one
cell of :data:`imgen.article.CELLS`. Taught in the encoder-decoder chapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imgen import article
from imgen.data import ImageData

# Ridge strengths tried, times the mean variance of a visible pixel (four per decade, 1e-5..10);
# the one chosen is the best of the full-rank ridge on images held out of the training split.
RIDGE_GRID = tuple(10 ** (k / 4) for k in range(-20, 5))
HELD_OUT_FRACTION, HELD_OUT_SEED = 0.1, 0


SHIFT = 0.5  # moments are summed about mid-grey, so that float32 blocks lose nothing that matters


@dataclass(frozen=True)
class Moments:
    """The count, sum and sum of outer products of ``n`` flattened images ``(D,)`` minus
    :data:`SHIFT`, in float64 (each block of images is multiplied in float32)."""

    n: int
    total: torch.Tensor  # (D,)
    outer: torch.Tensor  # (D, D)

    @classmethod
    def of(cls, images, chunk: int = 2048) -> Moments:
        """The moments of images ``(N, C, H, W)`` or flattened ``(N, D)`` (uint8 0..255, or float
        0..1), or of an ImageData."""
        flat = _flat(images)
        n, d = flat.shape
        total = torch.zeros(d, dtype=torch.float64)
        outer = torch.zeros(d, d, dtype=torch.float64)
        for start in range(0, n, chunk):
            block = _as_unit(flat[start : start + chunk]) - SHIFT
            total += block.sum(0)
            small = block.to(torch.float32)
            outer += (small.T @ small).to(torch.float64)
        return cls(n, total, outer)

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.outer + other.outer)

    @property
    def mean(self) -> torch.Tensor:
        return SHIFT + self.total / self.n

    @property
    def scatter(self) -> torch.Tensor:
        """The centred sum of outer products, ``sum (x - mean)(x - mean)^T``."""
        return self.outer - torch.outer(self.total, self.total) / self.n


class LinearMap:
    """``x -> mean_out + ((x[inputs] - mean_in) @ encode) @ decode``: a fitted affine map between
    flattened images through a code of ``encode.shape[1]`` numbers (a linear autoencoder)."""

    def __init__(self, inputs, mean_in, mean_out, encode, decode):
        self.inputs, self.mean_in, self.mean_out = inputs, mean_in, mean_out
        self.encode, self.decode = encode, decode

    @property
    def weight(self) -> torch.Tensor:
        """The whole linear part, ``encode @ decode``: ``(inputs, D)``."""
        return self.encode @ self.decode

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        """Flattened images ``(N, D)`` in 0..1 (float64) to predicted images ``(N, D)``."""
        return self.mean_out + ((flat[:, self.inputs] - self.mean_in) @ self.encode) @ self.decode

    def padded(self, latent: int) -> LinearMap:
        """The same map through a code of ``latent`` numbers: the unused ones (a rank-limited map
        may have fewer than asked for) get zero weights in and out."""
        extra = latent - self.encode.shape[1]
        if extra < 0:
            raise ValueError(
                f"latent must be at least the map's code, {self.encode.shape[1]}, got {latent}"
            )
        encode = torch.cat([self.encode, self.encode.new_zeros(len(self.encode), extra)], 1)
        decode = torch.cat([self.decode, self.decode.new_zeros(extra, self.decode.shape[1])])
        return LinearMap(self.inputs, self.mean_in, self.mean_out, encode, decode)

    def mse(self, images, chunk: int = 2048) -> float:
        """Mean squared error of the prediction against the whole images, over every value."""
        flat = _flat(images)
        total = 0.0
        for start in range(0, len(flat), chunk):
            block = _as_unit(flat[start : start + chunk])
            total += (self(block) - block).pow(2).sum().item()
        return total / flat.numel()


def leading_eigenvectors(matrix: torch.Tensor, k: int, *, tolerance: float = 1e-12):
    """The ``k`` eigenvectors of the symmetric ``matrix`` with the largest eigenvalues, ``(D, k)``.

    A full ``eigh`` when ``k`` is a large share of ``D`` (or ``D`` is small); otherwise block
    subspace iteration with ``2k + 16`` vectors (seeded, so the same every time) until the sum of
    the ``k`` leading Ritz values changes by less than ``tolerance`` of itself: the subspace
    PCA needs, in a fraction of a full decomposition's time on a 6,075-pixel LFW image.
    """
    d = len(matrix)
    block = 2 * k + 16
    if d <= 1024 or block * 3 > d:
        return torch.linalg.eigh(matrix)[1][:, -k:]
    generator = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(d, block, generator=generator, dtype=matrix.dtype))[0]
    captured = None
    for _ in range(200):
        basis = torch.linalg.qr(matrix @ basis)[0]
        values, vectors = torch.linalg.eigh(basis.T @ matrix @ basis)
        now = values[-k:].sum().item()
        if captured is not None and abs(now - captured) <= tolerance * abs(now):
            break
        captured = now
    return basis @ vectors[:, -k:]


def pca_map(moments: Moments, latent: int) -> LinearMap:
    """Projection onto the ``latent`` leading principal components of the training images."""
    _check_latent(latent, len(moments.total))
    top = leading_eigenvectors(moments.scatter, latent)
    everything = torch.arange(len(moments.total))
    return LinearMap(everything, moments.mean, moments.mean, top, top.T)


def pca_reconstruction(train, evaluation, latent: int) -> float:
    """The MSE on ``evaluation`` of PCA at ``latent`` components fitted on ``train`` (images
    ``(N, C, H, W)`` or ImageData of the same shape)."""
    return pca_map(Moments.of(train), latent).mse(evaluation)


class RidgeFit:
    """Ridge regression from the pixels ``visible`` to all pixels, for any strength and rank.

    Built once from the training moments; :meth:`map` gives the fitted map for a strength
    ``lam`` (times the mean visible-pixel variance) cut to ``rank``: the projection of the ridge
    predictions onto their ``rank`` leading principal directions on the training images
    (reduced-rank ridge regression), so that the map factors through a code of ``rank`` numbers.
    """

    def __init__(self, moments: Moments, visible: torch.Tensor):
        scatter = moments.scatter
        self.moments, self.visible = moments, visible
        self.eigenvalues, self.eigenvectors = torch.linalg.eigh(scatter[visible][:, visible])
        self.eigenvalues = self.eigenvalues.clamp(min=0)
        # The visible pixels' scatter with every pixel, in the eigenbasis: (V, D).
        self.projected = self.eigenvectors.T @ scatter[visible]
        self.gram = self.projected @ self.projected.T  # (V, V)
        self.scale = self.eigenvalues.mean()
        self._directions = {}  # strength -> eigen-decomposition of the fitted values' scatter

    def held_out_mse(self, held: torch.Tensor, strengths) -> dict:
        """The MSE of the full-rank ridge map at each strength on flattened images ``held``
        ``(N, D)`` (not in the fit), from a few products in the eigenbasis: no map is built."""
        held = _as_unit(held)
        mean = self.moments.mean
        targets = held - mean
        codes = (held[:, self.visible] - mean[self.visible]) @ self.eigenvectors  # (N, V)
        cross = ((codes.T @ targets) * self.projected).sum(1)  # (V,)
        products = (codes.T @ codes) * self.gram  # (V, V)
        base = targets.pow(2).sum().item()
        scores = {}
        for lam in strengths:
            shrink = 1 / (self.eigenvalues + lam * self.scale)
            error = base - 2 * (shrink * cross).sum() + shrink @ products @ shrink
            scores[lam] = error.item() / held.numel()
        return scores

    def map(self, lam: float, rank: int) -> LinearMap:
        s = self.eigenvalues
        shrink = 1 / (s + lam * self.scale)  # the ridge map is U diag(shrink) P (P: projected)
        # The fitted values' scatter is P^T diag(s * shrink^2) P; its leading directions are the
        # right singular vectors of diag(left) P, found from the small (V, V) side.
        left = torch.sqrt(s) * shrink
        if lam not in self._directions:
            small = left[:, None] * self.gram * left[None, :]
            self._directions[lam] = torch.linalg.eigh(small)
        values, vectors = self._directions[lam]
        # The fitted values have rank <= the number of visible pixels: a larger rank cuts nothing.
        rank = min(rank, int((values > values.max() * 1e-12).sum()))
        values, vectors = values[-rank:], vectors[:, -rank:]
        # Directions (D, r) = (diag(left) P)^T vectors / sqrt(values); the map is
        # U diag(shrink) P @ directions @ directions^T, with P P^T = gram kept small.
        code = (left[:, None] * vectors) / values.sqrt()  # (V, r)
        encode = self.eigenvectors @ (shrink[:, None] * (self.gram @ code))  # (V, r)
        decode = code.T @ self.projected  # (r, D)
        mean = self.moments.mean
        return LinearMap(self.visible, mean[self.visible], mean, encode, decode)


@dataclass(frozen=True)
class RidgeResult:
    mse: float
    strength: float  # the chosen ridge strength, times the mean visible-pixel variance
    held_out_mse: dict  # strength -> full-rank MSE on the images held out of the training split


def ridge_completion(train, evaluation, visible_rows: int, rank: int) -> RidgeResult:
    """Complete images whose rows from ``visible_rows`` down are hidden: reduced-rank ridge
    regression of the whole image on its first ``visible_rows`` rows, at ``rank``.

    The strength is the one of :data:`RIDGE_GRID` with which the full-rank ridge map, fitted on
    nine tenths of ``train``, has the lowest MSE on the tenth held out; the map is then refitted
    on all of ``train`` at that strength, cut to ``rank`` and scored on ``evaluation`` (images
    ``(N, C, H, W)`` or ImageData).
    """
    return _Fits(train).ridge(visible_rows, rank, evaluation)


class _Fits:
    """The training images' moments (a tenth held out for choosing strengths), computed once
    and shared by every baseline of a data set."""

    def __init__(self, train):
        self.flat, self.shape = _flat(train), _shape(train)
        order = np.random.RandomState(HELD_OUT_SEED).permutation(len(self.flat))
        n_held = max(1, round(HELD_OUT_FRACTION * len(self.flat)))
        self.held = self.flat[torch.from_numpy(order[:n_held])]
        self.rest = Moments.of(self.flat[torch.from_numpy(order[n_held:])])
        self.full = self.rest + Moments.of(self.held)
        self._ridge, self._components = {}, None

    def pca(self, latent, evaluation, most=None) -> float:
        """PCA at ``latent``; the components are found once, for ``most`` (>= ``latent``)."""
        _check_latent(latent, len(self.full.total))
        most = max(latent, most or latent)
        if self._components is None or self._components.shape[1] < latent:
            self._components = leading_eigenvectors(self.full.scatter, most)
        top = self._components[:, -latent:]
        everything = torch.arange(len(self.full.total))
        return LinearMap(everything, self.full.mean, self.full.mean, top, top.T).mse(evaluation)

    def ridge(self, visible_rows, rank, evaluation) -> RidgeResult:
        linear, best, scores = self._ridge_map(visible_rows, rank)
        return RidgeResult(linear.mse(evaluation), best, scores)

    def ridge_map(self, visible_rows, rank) -> LinearMap:
        """The map :meth:`ridge` scores (its strength chosen on the held-out tenth)."""
        return self._ridge_map(visible_rows, rank)[0]

    def _ridge_map(self, visible_rows, rank):
        """(map at ``rank``, chosen strength, held-out MSE per strength), the fits cached."""
        c, h, w = self.shape
        if isinstance(visible_rows, bool) or not isinstance(visible_rows, int):
            raise ValueError(f"visible_rows must be a whole number, got {visible_rows!r}")
        if not 0 < visible_rows < h:
            raise ValueError(
                f"visible_rows must be in 1..{h - 1} for {h}-row images, got {visible_rows}"
            )
        _check_latent(rank, c * h * w)
        if visible_rows not in self._ridge:
            visible = torch.arange(c * h * w).view(c, h, w)[:, :visible_rows].flatten()
            scores = RidgeFit(self.rest, visible).held_out_mse(self.held, RIDGE_GRID)
            self._ridge[visible_rows] = RidgeFit(self.full, visible), scores
        full, scores = self._ridge[visible_rows]
        best = min(scores, key=scores.get)
        return full.map(best, rank), best, scores


@dataclass(frozen=True)
class Baseline:
    """A cell's linear baseline: the method, its latent (components or rank) and its MSE."""

    cell: article.ArticleCell
    method: str  # "pca" or "ridge"
    latent: int
    mse: float
    strength: float | None = None  # the ridge strength chosen on held-out training images


def article_baselines(cells, splits: article.ArticleSplits) -> list[Baseline]:
    """The linear baseline of each article cell (of one data set) at the latent its code used:
    PCA for reconstruction, reduced-rank ridge from the visible rows for completion, fitted on
    ``splits.train`` and scored on ``splits.evaluation`` (:func:`imgen.article.load_splits`)."""
    cells = list(cells)
    for cell in cells:
        if not isinstance(cell, article.ArticleCell):
            raise TypeError(f"cells must be imgen.article.ArticleCell, got {type(cell).__name__}")
        if _shape(splits.train) != cell.protocol.shape:
            raise ValueError(
                f"{cell.id} needs images shaped {cell.protocol.shape}, got {_shape(splits.train)}"
            )
    fits, out = _Fits(splits.train), []
    most = max((cell.latent for cell in cells if cell.task == "reconstruct"), default=None)
    for cell in cells:
        if cell.task == "reconstruct":
            mse = fits.pca(cell.latent, splits.evaluation, most)
            out.append(Baseline(cell, "pca", cell.latent, mse))
        else:
            result = fits.ridge(cell.occluded_rows.start, cell.latent, splits.evaluation)
            out.append(Baseline(cell, "ridge", cell.latent, result.mse, result.strength))
    return out


def article_map(cell, train) -> LinearMap:
    """The fitted linear map behind ``cell``'s baseline (an :class:`imgen.article.ArticleCell`),
    fitted on ``train``: PCA at the cell's latent for reconstruction, reduced-rank ridge from the
    visible rows for completion. What :class:`imgen.models.LinearStartAutoencoder` starts from.

    Its code has the cell's latent size even where the ridge map's rank is lower (MNIST at 512:
    its visible rows have fewer pixels that ever light up): the rest of the code starts unused."""
    if not isinstance(cell, article.ArticleCell):
        raise TypeError(f"cell must be an imgen.article.ArticleCell, got {type(cell).__name__}")
    if _shape(train) != cell.protocol.shape:
        raise ValueError(
            f"{cell.id} needs images shaped {cell.protocol.shape}, got {_shape(train)}"
        )
    if cell.task == "reconstruct":
        return pca_map(Moments.of(train), cell.latent)
    return _Fits(train).ridge_map(cell.occluded_rows.start, cell.latent).padded(cell.latent)


def _flat(images) -> torch.Tensor:
    images = images.images if isinstance(images, ImageData) else images
    if not isinstance(images, torch.Tensor) or images.ndim not in (2, 4):
        raise ValueError(
            f"expected images (N, C, H, W), flattened (N, D), or an ImageData, got {_what(images)}"
        )
    if len(images) < 2:
        raise ValueError(f"need at least 2 images, got {len(images)}")
    return images.reshape(len(images), -1)


def _shape(images) -> tuple[int, int, int]:
    images = images.images if isinstance(images, ImageData) else images
    return tuple(images.shape[1:])


def _as_unit(block: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 as float64 0..1; float as float64."""
    return block.to(torch.float64) / 255 if block.dtype == torch.uint8 else block.double()


def _check_latent(latent, size):
    if isinstance(latent, bool) or not isinstance(latent, int) or not 1 <= latent <= size:
        raise ValueError(f"latent must be a whole number in 1..{size}, got {latent!r}")


def _what(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def baseline_table(results) -> str:
    """A markdown table of :class:`Baseline` results beside the article's values."""
    lines = [
        "| # | cell (blog) | evaluated on | code's latent | baseline | baseline MSE | printed | "
        "blog | baseline / printed |",
        "|---:|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for result in results:
        cell = result.cell
        method = "PCA" if result.method == "pca" else f"ridge (strength {result.strength:.2g})"
        lines.append(
            f"| {cell.row} | {cell.id} | {cell.evaluated_on} | {cell.latent} | {method} | "
            f"{result.mse:.4g} | {cell.printed_mse:.4g} | {cell.blog_mse:g} | "
            f"{result.mse / cell.printed_mse:.2f} |"
        )
    return "\n".join(lines) + "\n"
