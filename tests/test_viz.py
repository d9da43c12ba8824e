import io

import numpy as np
import pytest
import torch
from PIL import Image

from imgen.viz import compare_rows, image_grid, show_images, to_png


def test_grid_of_uint8_rgb_images_has_padding_and_scaled_pixels():
    images = torch.full((5, 3, 4, 6), 255, dtype=torch.uint8)
    grid = image_grid(images, nrow=3, padding=1, pad_value=0.0)
    assert grid.shape == (2 * 5 + 1, 3 * 7 + 1, 3)
    assert grid[1, 1, 0] == 1.0 and grid[0, 0, 0] == 0.0


def test_grid_of_gray_float_images_is_two_dimensional():
    grid = image_grid(torch.rand(4, 1, 5, 5), nrow=4)
    assert grid.shape == (7, 25)
    assert 0.0 <= grid.min() and grid.max() <= 1.0


def test_single_image_is_accepted():
    assert image_grid(torch.zeros(3, 8, 8)).shape == (10, 10, 3)


@pytest.mark.parametrize(
    "bad, error",
    [(np.zeros((2, 3, 4, 4)), TypeError), (torch.zeros(2, 4, 4, 4), ValueError),
     (torch.zeros(2, 3, 4, 4, dtype=torch.int32), TypeError)],
)
def test_bad_images_are_refused_with_the_shape_or_type(bad, error):
    with pytest.raises(error, match="images must"):
        image_grid(bad)


def test_show_images_and_compare_rows_draw():
    ax = show_images(torch.rand(6, 3, 8, 8), nrow=3, title="x")
    assert ax.get_title() == "x"
    rows = {"original": torch.rand(4, 1, 8, 8), "reconstruction": torch.rand(4, 1, 8, 8)}
    fig = compare_rows(rows)
    assert [a.get_ylabel() for a in fig.axes] == ["original", "reconstruction"]


def test_to_png_enlarges_with_square_pixels():
    image = torch.zeros(1, 2, 3)
    image[0, 1, 2] = 1.0
    png = Image.open(io.BytesIO(to_png(image, scale=4)))
    assert png.size == (12, 8)
    assert png.getpixel((11, 7)) == 255 and png.getpixel((7, 3)) == 0


def test_to_png_refuses_a_batch():
    with pytest.raises(ValueError, match=r"one image \(C, H, W\).*\(2, 3, 4, 4\)"):
        to_png(torch.zeros(2, 3, 4, 4))
