"""The linear baselines: PCA and reduced-rank ridge, in closed form, scored as the article scored.

The first tests use tiny images made here; the last ones reproduce, on the real data sets in
``$IMGEN_DATA``, the baseline values quoted in issue 14 (skipped without the data, failing under
``IMGEN_REQUIRE_DATA``).
"""

from __future__ import annotations

import pytest
import torch
from conftest import missing_data

from imgen import article, baselines, settings
from imgen.baselines import Moments, RidgeFit, pca_reconstruction, ridge_completion


def low_rank_images(n=200, shape=(1, 6, 5), rank=3, seed=0):
    """Images in 0..1 that are an affine function of ``rank`` hidden numbers each."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.rand(n, rank, generator=g, dtype=torch.float64)
    mix = torch.rand(rank, torch.Size(shape).numel(), generator=g, dtype=torch.float64) / rank
    return (0.1 + 0.8 * codes @ mix).reshape(n, *shape)


def noisy_images(n=300, shape=(1, 6, 5), seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g, dtype=torch.float64)


def test_moments_of_uint8_images_are_those_of_the_images_over_255():
    images = torch.randint(0, 256, (10, 1, 3, 3), dtype=torch.uint8)
    a, b = Moments.of(images), Moments.of(images.double() / 255)
    assert a.n == b.n == 10
    assert torch.allclose(a.total, b.total) and torch.allclose(a.scatter, b.scatter)


def test_moments_add_up_over_parts():
    images = noisy_images(50)
    whole = Moments.of(images, chunk=7)
    parts = Moments.of(images[:20]) + Moments.of(images[20:])
    # Each block is multiplied in float32: equal to about 7 digits.
    assert torch.allclose(whole.scatter, parts.scatter, rtol=1e-6, atol=1e-6)
    assert torch.allclose(whole.mean, parts.mean)


def test_pca_with_enough_components_reconstructs_low_rank_images_exactly():
    images = low_rank_images()
    assert pca_reconstruction(images[:150], images[150:], 3) < 1e-12
    assert pca_reconstruction(images[:150], images[150:], 2) > 1e-6


def test_pca_error_on_its_training_images_is_the_discarded_variance():
    images = noisy_images()
    flat = images.reshape(len(images), -1)
    values = torch.linalg.eigvalsh(Moments.of(images).scatter)
    expected = values[:-4].sum().item() / flat.numel()
    assert pca_reconstruction(images, images, 4) == pytest.approx(expected, rel=1e-6)


def test_subspace_iteration_finds_the_leading_eigenvectors_a_full_eigh_finds():
    g = torch.Generator().manual_seed(3)
    factor = torch.randn(1200, 1100, generator=g, dtype=torch.float64)
    matrix = factor.T @ torch.diag(torch.linspace(0.1, 3, 1200, dtype=torch.float64)) @ factor
    fast = baselines.leading_eigenvectors(matrix, 20)
    exact = torch.linalg.eigh(matrix)[1][:, -20:]
    assert torch.trace(fast.T @ matrix @ fast) == pytest.approx(
        torch.trace(exact.T @ matrix @ exact).item(), rel=1e-9
    )
    assert torch.allclose(fast.T @ fast, torch.eye(20, dtype=torch.float64), atol=1e-10)


def test_pca_error_falls_as_the_latent_grows():
    train, held = noisy_images(), noisy_images(seed=2)
    errors = [pca_reconstruction(train, held, k) for k in (1, 5, 15, 30)]
    assert errors == sorted(errors, reverse=True)


def test_ridge_completes_images_whose_hidden_rows_follow_from_the_visible_ones():
    images = low_rank_images(shape=(1, 8, 5), rank=3)
    result = ridge_completion(images[:150], images[150:], visible_rows=4, rank=3)
    assert result.mse < 1e-8
    assert result.strength in baselines.RIDGE_GRID
    assert set(result.held_out_mse) == set(baselines.RIDGE_GRID)


def test_the_ridge_map_cut_to_a_rank_has_that_rank():
    images = noisy_images(shape=(1, 8, 5))
    visible = torch.arange(40)[:20]
    fit = RidgeFit(Moments.of(images), visible)
    for rank in (1, 4, 10):
        assert torch.linalg.matrix_rank(fit.map(1e-3, rank).weight).item() == rank
    assert fit.map(1e-3, 4).encode.shape == (20, 4)  # through a code of 4 numbers


def test_a_rank_beyond_the_visible_pixels_cuts_nothing():
    images = noisy_images(shape=(1, 8, 5))
    fit = RidgeFit(Moments.of(images), torch.arange(20))
    assert torch.allclose(fit.map(1e-2, 20).weight, fit.map(1e-2, 40).weight)


def test_the_held_out_score_of_each_strength_is_that_of_the_full_rank_map():
    images = noisy_images(shape=(1, 8, 5))
    fit = RidgeFit(Moments.of(images[:200]), torch.arange(20))
    held = images[200:].reshape(100, -1)
    scores = fit.held_out_mse(held, (1e-3, 1.0))
    for lam, score in scores.items():
        assert score == pytest.approx(fit.map(lam, 20).mse(held), rel=1e-9)


def test_the_completion_error_covers_the_visible_rows_too():
    images = noisy_images(shape=(1, 8, 5))
    result = ridge_completion(images[:250], images[250:], visible_rows=4, rank=2)
    # At rank 2 the map cannot even copy the 20 visible pixels, so the error exceeds what the
    # hidden rows alone could give: the whole image's variance is at stake.
    assert result.mse > 0.5 * images.var().item()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: pca_reconstruction(x, x, 0), "latent must be a whole number in 1..30"),
        (lambda x: pca_reconstruction(x, x, 31), "latent must be a whole number in 1..30"),
        (lambda x: ridge_completion(x, x, 6, 2), "visible_rows must be in 1..5"),
        (lambda x: ridge_completion(x, x, 3, 0), "latent must be a whole number in 1..30"),
        (lambda x: pca_reconstruction(x[0], x, 2), r"expected images \(N, C, H, W\)"),
        (lambda x: pca_reconstruction(x.numpy(), x, 2), "got ndarray"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call(noisy_images(20))


def test_article_baselines_refuse_images_of_another_shape():
    images = noisy_images(20)
    splits = article.ArticleSplits(images, images, images)
    with pytest.raises(ValueError, match=r"needs images shaped \(1, 28, 28\)"):
        baselines.article_baselines(article.CELLS[:1], splits)


# On the real data (issue 14's figures, to the digits it gives)

ISSUE_14 = {
    "mnist": {("reconstruct", 32): 0.0168, ("complete", 64): 0.0229},
    "lfw": {
        ("reconstruct", 32): 0.00517,
        ("reconstruct", 64): 0.00341,
        ("complete", 64): 0.0069,
        ("complete", 128): 0.0063,
        ("complete", 512): 0.0058,
    },
    "cifar": {("reconstruct", 32): 0.0129, ("complete", 64): 0.0221, ("complete", 128): 0.0206},
}
FOLDERS = {"mnist": "MNIST/raw", "lfw": "lfw/lfw-deepfunneled", "cifar": "cifar-100-python"}
# (train, val, evaluation) here: CIFAR-100's offline copy holds 20,000 of the 50,000 training
# images; LFW is all 13,233 images (the code kept ~13,143), split by image.
SIZES = {
    "mnist": (48_000, 12_000, 10_000),
    "lfw": (10_586, 2_647, 2_647),
    "cifar": (16_000, 4_000, 10_000),
}


@pytest.mark.parametrize("name", list(ISSUE_14))
def test_the_baselines_reproduce_issue_14_on_the_real_data(name):
    """Within 1%: the issue's LFW split was "a random 80/20 split by image", ours is the
    article's (seed 42 over the images sorted by name; seeds 0 and 1 move PCA at 32 by 0.7%
    and 2.8%), and how the issue chose its ridge strengths is not said. Most figures agree to
    every digit given."""
    root = settings.data_root()
    if not (root / FOLDERS[name]).is_dir():
        missing_data(f"{root / FOLDERS[name]} not found; set IMGEN_DATA to a folder that has it")
    splits = article.load_splits(name, root=root, download=False)
    assert tuple(map(len, splits)) == SIZES[name]
    assert splits.train.shape == article.PROTOCOLS[name].shape
    cells = {
        (cell.task, cell.latent): cell
        for cell in article.CELLS
        if cell.data == name and (cell.task, cell.latent) in ISSUE_14[name]
    }
    assert set(cells) == set(ISSUE_14[name])
    found = {
        (b.cell.task, b.latent): b.mse for b in baselines.article_baselines(cells.values(), splits)
    }
    for key, quoted in ISSUE_14[name].items():
        assert found[key] == pytest.approx(quoted, rel=0.01), (name, key, found[key])
