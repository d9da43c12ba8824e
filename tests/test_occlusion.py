"""What occluding an image must do: hide exactly the asked-for pixels and nothing else."""

import pytest
import torch

from imgen.occlusion import (
    KINDS,
    SIDES,
    occlude,
    occlude_any_side,
    occlude_below_middle,
    occlude_fraction,
    occlude_half,
    occlude_pixels,
    occlude_rectangle,
)


def images(*shape, dtype=torch.float32):
    """Distinct, non-zero pixel values so that a hidden pixel is easy to tell apart."""
    values = torch.arange(1, torch.Size(shape).numel() + 1).reshape(shape)
    return (values % 250 + 1).to(dtype) if dtype == torch.uint8 else values.to(dtype) / 1000


def rows_hidden(mask):
    """Indices of the rows that are hidden in every column of a (1, H, W) mask."""
    return mask[0].all(dim=1).nonzero().flatten().tolist()


def cols_hidden(mask):
    return mask[0].all(dim=0).nonzero().flatten().tolist()


# Shapes and masks


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 5, 7)])
def test_one_image_gives_an_image_and_a_one_channel_mask(shape):
    occluded, mask = occlude_half(images(*shape))
    assert occluded.shape == shape
    assert mask.shape == (1, *shape[1:])
    assert mask.dtype == torch.bool


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (2, 3, 32, 32)])
@pytest.mark.parametrize(
    "occluder",
    [
        lambda x: occlude_half(x),
        lambda x: occlude_fraction(x, 0.25, "left"),
        lambda x: occlude_rectangle(x, height=3, width=4),
        lambda x: occlude_pixels(x, 0.3),
        lambda x: occlude_any_side(x),
    ],
    ids=["half", "fraction", "rectangle", "pixels", "any-side"],
)
def test_batch_gives_a_batch_and_a_mask_per_image(shape, occluder):
    occluded, mask = occluder(images(*shape))
    assert occluded.shape == shape
    assert mask.shape == (shape[0], 1, *shape[2:])


def test_hidden_pixels_hold_fill_in_every_channel_and_the_rest_is_unchanged():
    x = images(2, 3, 6, 6)
    occluded, mask = occlude_rectangle(x, height=2, width=3, top=1, left=2, fill=-1.0)
    hidden = mask.expand_as(x)
    assert (occluded[hidden] == -1.0).all()
    assert torch.equal(occluded[~hidden], x[~hidden])


# Exactly which pixels each side hides


@pytest.mark.parametrize(
    "side, size, expected",
    [
        ("top", 6, [0, 1, 2]),
        ("bottom", 6, [3, 4, 5]),
        ("top", 5, [0, 1, 2]),
        ("bottom", 5, [2, 3, 4]),
    ],
)
def test_half_hides_rows_from_the_side_and_the_middle_row_when_odd(side, size, expected):
    _, mask = occlude_half(images(1, size, 4), side)
    assert rows_hidden(mask) == expected
    assert mask.sum() == len(expected) * 4


@pytest.mark.parametrize(
    "side, size, expected",
    [
        ("left", 6, [0, 1, 2]),
        ("right", 6, [3, 4, 5]),
        ("left", 7, [0, 1, 2, 3]),
        ("right", 7, [3, 4, 5, 6]),
    ],
)
def test_half_hides_columns_from_the_side_and_the_middle_column_when_odd(side, size, expected):
    _, mask = occlude_half(images(1, 4, size), side)
    assert cols_hidden(mask) == expected
    assert mask.sum() == len(expected) * 4


def test_half_of_mnist_hides_the_bottom_14_rows():
    _, mask = occlude_half(images(1, 28, 28))
    assert rows_hidden(mask) == list(range(14, 28))


@pytest.mark.parametrize("size, first, hidden", [(28, 15, 13), (45, 23, 22), (32, 17, 15)])
def test_below_middle_hides_the_rows_after_the_middle_one_as_the_articles_code_did(
    size, first, hidden
):
    occluded, mask = occlude_below_middle(images(2, 3, size, size))
    assert rows_hidden(mask[0]) == list(range(first, size)) and len(rows_hidden(mask[0])) == hidden
    assert (occluded[:, :, first:] == 0).all() and (occluded[:, :, :first] > 0).all()
    assert torch.equal(occlude(images(2, 3, size, size), "below-middle")[1], mask)


@pytest.mark.parametrize(
    "fraction, size, hidden", [(0.25, 8, 2), (0.3, 10, 3), (0.1, 5, 1), (0.75, 28, 21)]
)
def test_fraction_hides_ceil_of_fraction_times_size(fraction, size, hidden):
    _, mask = occlude_fraction(images(1, size, 3), fraction, "top")
    assert rows_hidden(mask) == list(range(hidden))


def test_fraction_from_the_right_hides_the_last_columns():
    _, mask = occlude_fraction(images(1, 3, 8), 0.25, "right")
    assert cols_hidden(mask) == [6, 7]


# Rectangles


def test_rectangle_at_a_given_place_hides_exactly_that_rectangle():
    _, mask = occlude_rectangle(images(1, 6, 8), height=2, width=3, top=1, left=4)
    expected = torch.zeros(1, 6, 8, dtype=torch.bool)
    expected[:, 1:3, 4:7] = True
    assert torch.equal(mask, expected)


def test_rectangle_fractions_are_rounded_up_to_pixels():
    _, mask = occlude_rectangle(images(1, 10, 10), height=0.25, width=0.5, top=0, left=0)
    assert rows_hidden(mask[:, :, :5]) == [0, 1, 2]
    assert cols_hidden(mask[:, :3, :]) == [0, 1, 2, 3, 4]
    assert mask.sum() == 3 * 5


def test_random_rectangles_fit_inside_and_have_the_asked_size():
    _, mask = occlude_rectangle(images(50, 1, 7, 9), height=3, width=4)
    assert (mask.sum(dim=(1, 2, 3)) == 12).all()
    assert (mask.any(dim=3).sum(dim=2) == 3).all()


def test_random_rectangles_differ_between_images_of_a_batch():
    _, mask = occlude_rectangle(images(20, 1, 16, 16), height=4, width=4)
    assert len({tuple(m.flatten().tolist()) for m in mask}) > 1


def test_rectangle_with_only_top_given_keeps_top_and_draws_left():
    _, mask = occlude_rectangle(images(20, 1, 8, 8), height=2, width=2, top=5)
    assert mask[:, :, 5:7].sum() == 20 * 4


def test_rectangle_as_large_as_the_image_hides_it_all():
    _, mask = occlude_rectangle(images(1, 4, 5), height=4, width=5)
    assert mask.all()


# Scattered pixels


def test_pixels_hides_ceil_of_fraction_of_each_image_same_in_every_channel():
    occluded, mask = occlude_pixels(images(6, 3, 10, 10), 0.3)
    assert (mask.sum(dim=(1, 2, 3)) == 30).all()
    assert (occluded[mask.expand(-1, 3, -1, -1)] == 0).all()


def test_pixels_are_drawn_anew_for_each_image():
    _, mask = occlude_pixels(images(2, 1, 16, 16), 0.5)
    assert not torch.equal(mask[0], mask[1])


# Fill values and dtypes


def test_fill_defaults_to_zero():
    occluded, mask = occlude_half(images(1, 4, 4))
    assert (occluded[mask] == 0).all()


@pytest.mark.parametrize("fill", [0.5, 1.0, -1.0])
def test_float_fill_is_written_into_hidden_pixels(fill):
    occluded, mask = occlude_half(images(1, 4, 4), "top", fill=fill)
    assert (occluded[mask] == fill).all()


def test_uint8_images_stay_uint8_and_take_a_whole_fill():
    x = images(2, 3, 4, 4, dtype=torch.uint8)
    occluded, mask = occlude_pixels(x, 0.5, fill=255)
    assert occluded.dtype == torch.uint8
    assert (occluded[mask.expand_as(x)] == 255).all()
    assert torch.equal(occluded[~mask.expand_as(x)], x[~mask.expand_as(x)])


@pytest.mark.parametrize("fill", [256, -1, 0.5])
def test_uint8_images_reject_a_fill_they_cannot_hold(fill):
    with pytest.raises(ValueError, match=r"fill must be a whole number in 0\.\.255"):
        occlude_half(images(1, 4, 4, dtype=torch.uint8), fill=fill)


@pytest.mark.parametrize("fill", ["0", None, True])
def test_fill_must_be_a_number(fill):
    with pytest.raises(TypeError, match="fill must be a number"):
        occlude_half(images(1, 4, 4), fill=fill)


@pytest.mark.parametrize(
    "occluder",
    [
        lambda x: occlude_half(x),
        lambda x: occlude_rectangle(x, height=2, width=2),
        lambda x: occlude_pixels(x, 0.5),
    ],
    ids=["half", "rectangle", "pixels"],
)
def test_input_is_never_modified(occluder):
    x = images(3, 2, 6, 6)
    before = x.clone()
    occluded, _ = occluder(x)
    assert torch.equal(x, before)
    assert occluded.data_ptr() != x.data_ptr()


def test_occluded_images_keep_the_gradient_path_to_the_input():
    x = images(1, 4, 4).requires_grad_()
    occluded, mask = occlude_half(x)
    occluded.sum().backward()
    assert torch.equal(x.grad, (~mask).float().expand_as(x))


# Reproducibility


@pytest.mark.parametrize(
    "occluder",
    [
        lambda x, g: occlude_rectangle(x, height=3, width=3, generator=g),
        lambda x, g: occlude_pixels(x, 0.2, generator=g),
        lambda x, g: occlude_any_side(x, generator=g),
    ],
    ids=["rectangle", "pixels", "any-side"],
)
def test_a_seeded_generator_gives_the_same_mask(occluder):
    x = images(8, 1, 12, 12)
    _, first = occluder(x, torch.Generator().manual_seed(7))
    _, again = occluder(x, torch.Generator().manual_seed(7))
    _, other = occluder(x, torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


# The dispatcher


@pytest.mark.parametrize("side", SIDES)
def test_occlude_with_a_side_hides_that_half(side):
    x = images(2, 1, 6, 6)
    assert torch.equal(occlude(x, side)[1], occlude_half(x, side)[1])


def test_occlude_with_a_side_and_a_fraction_hides_that_fraction():
    x = images(2, 1, 8, 8)
    assert torch.equal(occlude(x, "top", fraction=0.25)[1], occlude_fraction(x, 0.25, "top")[1])


def test_occlude_passes_options_to_rectangle_and_pixels():
    x = images(2, 1, 8, 8)
    _, rectangle = occlude(x, "rectangle", height=2, width=3, top=0, left=0)
    _, pixels = occlude(x, "pixels", fraction=0.25, generator=torch.Generator().manual_seed(0))
    assert rectangle.sum() == 2 * 6
    assert pixels.sum() == 2 * 16


def test_occlude_defaults_to_the_bottom_half():
    x = images(1, 6, 6)
    assert torch.equal(occlude(x)[1], occlude_half(x, "bottom")[1])


def test_kinds_name_every_side_the_articles_rows_and_the_random_occluders():
    assert KINDS == (
        "top", "bottom", "left", "right", "below-middle", "any-side", "rectangle", "pixels"
    )  # fmt: skip


def test_any_side_hides_one_whole_side_per_image_and_uses_all_four():
    x = images(64, 3, 6, 6)
    occluded, mask = occlude_any_side(x, generator=torch.Generator().manual_seed(0))
    halves = {side: occlude_half(x[:1], side)[1][0] for side in SIDES}
    seen = set()
    for image_mask in mask:
        side = [name for name, half in halves.items() if torch.equal(image_mask, half)]
        assert len(side) == 1
        seen.add(side[0])
    assert seen == set(SIDES)
    assert torch.equal(occluded, x.masked_fill(mask, 0.0))


def test_any_side_of_one_image_hides_a_quarter_when_asked():
    occluded, mask = occlude(images(1, 8, 8), "any-side", fraction=0.25)
    assert mask.shape == (1, 8, 8) and mask.sum() == 16


# Errors say what was expected and what came


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"kind must be one of .*'rectangle'.*got 'middle'"):
        occlude(images(1, 4, 4), "middle")


def test_unknown_side_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"side must be one of \('top', .*got 'up'"):
        occlude_half(images(1, 4, 4), "up")


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.5", None])
def test_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\), got"):
        occlude_fraction(images(1, 4, 4), fraction)
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\), got"):
        occlude_pixels(images(1, 4, 4), fraction)


@pytest.mark.parametrize("shape", [(4, 4), (1, 1, 1, 4, 4), (4,)])
def test_wrong_number_of_dimensions_is_refused(shape):
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\), got"):
        occlude_half(torch.zeros(shape))


@pytest.mark.parametrize("value", [[[0.0]], 0.5, None])
def test_non_tensor_input_is_refused(value):
    with pytest.raises(TypeError, match="images must be a torch.Tensor, got"):
        occlude_half(value)


def test_bool_images_are_refused():
    with pytest.raises(TypeError, match="float or integer tensor, got torch.bool"):
        occlude_half(torch.zeros(1, 4, 4, dtype=torch.bool))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(height=5, width=2), r"height must be 1\.\.4 pixels for this image, got 5"),
        (dict(height=2, width=7), r"width must be 1\.\.6 pixels for this image, got 7"),
        (dict(height=0, width=2), r"height must be 1\.\.4 pixels"),
        (dict(height=1.0, width=2), r"height must be a number in \(0, 1\), got 1\.0"),
    ],
)
def test_rectangle_larger_than_the_image_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        occlude_rectangle(images(1, 4, 6), **kwargs)


def test_rectangle_placed_past_the_edge_is_refused():
    with pytest.raises(ValueError, match=r"fits at top 0\.\.2 .* height 4, got top=3"):
        occlude_rectangle(images(1, 4, 6), height=2, width=2, top=3, left=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(height="2", width=2), "height must be an int"),
        (dict(height=2, width=2, left=1.5), "left must be an int or None"),
        (dict(height=2, width=2, generator=7), "generator must be a torch.Generator"),
    ],
)
def test_rectangle_arguments_of_the_wrong_type_are_refused(kwargs, message):
    with pytest.raises(TypeError, match=message):
        occlude_rectangle(images(1, 4, 6), **kwargs)


def test_pixels_generator_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        occlude_pixels(images(1, 4, 4), 0.5, generator=1)
