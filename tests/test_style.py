"""Style transfer: the losses, the networks that feed them, and the checks on a reader's image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from imgen import features, style


@pytest.fixture(scope="module")
def random_net():
    return features.random_multiscale(seed=0, sizes=(3,), filters=4, scales=(1, 2))


def test_gram_matrix_has_one_row_and_column_per_channel():
    assert style.gram_matrix(torch.rand(2, 5, 7, 3)).shape == (2, 5, 5)


def test_gram_matrix_of_a_map_of_ones_is_one_over_channels():
    gram = style.gram_matrix(torch.ones(1, 4, 6, 9))
    assert torch.allclose(gram, torch.full((1, 4, 4), 1 / 4))


def test_gram_matrix_is_symmetric_and_forgets_where():
    x = torch.rand(1, 3, 8, 8)
    gram = style.gram_matrix(x)
    assert torch.allclose(gram, gram.transpose(1, 2))
    shuffled = x.flatten(2)[..., torch.randperm(64)].view(1, 3, 8, 8)
    assert torch.allclose(style.gram_matrix(shuffled), gram, atol=1e-6)


def test_content_loss_is_zero_for_the_content_itself():
    maps = torch.rand(1, 8, 5, 5)
    assert style.content_loss(maps, maps.clone()).item() == 0.0


def test_style_loss_is_zero_for_the_style_image_itself(random_net):
    image = torch.rand(1, 3, 32, 32)
    maps = random_net(image)
    grams = {k: style.gram_matrix(v) for k, v in maps.items()}
    assert style.style_loss(maps, grams).item() == 0.0


def test_total_variation_of_a_flat_image_is_zero():
    assert style.total_variation(torch.full((2, 3, 9, 9), 0.3)).tolist() == [0.0, 0.0]


def test_a_few_steps_of_stylise_lower_the_loss(random_net):
    torch.manual_seed(0)
    content, painting = torch.rand(3, 32, 32), torch.rand(3, 32, 32)
    for optimizer in ("lbfgs", "adam"):
        image, history = style.stylise(content, painting, backbone=random_net, size=32, steps=6,
                                       optimizer=optimizer, progress=False, device="cpu")
        assert image.shape == (3, 32, 32) and 0 <= image.min() <= image.max() <= 1
        assert len(history["total"]) == 6
        assert min(history["total"]) < history["total"][0]  # L-BFGS also tries worse points


def test_synthesise_texture_starts_from_noise_and_matches_the_style(random_net):
    torch.manual_seed(0)
    image, history = style.synthesise_texture(torch.rand(3, 32, 32), backbone=random_net,
                                              size=32, steps=5, progress=False, device="cpu")
    assert image.shape == (3, 32, 32)
    assert history["content"] == [0.0] * 5 and min(history["style"]) < history["style"][0]


def test_vgg19_loaded_from_a_saved_state_dict_matches_the_model_it_came_from(tmp_path):
    from torchvision.models import vgg19

    with torch.device("meta"):
        model = vgg19(weights=None)
    model = model.to_empty(device="cpu").eval()
    generator = torch.Generator().manual_seed(1)
    for name, tensor in model.state_dict().items():  # random, but cheaper than VGG19's init
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.05 if "features" in name
                     else torch.zeros(tensor.shape))
    path = tmp_path / "vgg19.pt"
    torch.save(model.state_dict(), path)
    net = features.vgg19_features(path)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = model.features[:4]((x - net.mean) / net.std)  # up to relu1_2
        got = net(x, ["relu1_2", "relu4_2"])
    assert torch.equal(got["relu1_2"], expected)
    assert got["relu4_2"].shape == (1, 512, 4, 4)
    assert "vgg19.pt" in net.name


def test_auto_backbone_falls_back_offline_and_says_which_it_took(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: no VGG19 weights
    net = features.backbone("auto", download=False)
    assert "course" in net.name and "VGG19" in net.note
    assert set(net(torch.rand(1, 3, 32, 32), net.content_layers)) == set(net.content_layers)


def test_a_layer_name_with_a_scale_reads_the_shrunken_image():
    net = features.course_features()
    maps = net(torch.rand(1, 3, 64, 64), ["conv2", "conv2@4"])
    assert maps["conv2"].shape[-1] == 64 and maps["conv2@4"].shape[-1] == 16


def test_load_image_takes_paths_pil_arrays_and_tensors(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "photo.png")
    for image in (tmp_path / "photo.png", str(tmp_path / "photo.png"), Image.fromarray(array),
                  array, array / 255.0, torch.from_numpy(array).permute(2, 0, 1)):
        x = style.load_image(image)
        assert x.shape == (3, 40, 60) and x.dtype == torch.float32
        assert torch.allclose(x * 255, torch.from_numpy(array).permute(2, 0, 1).float(),
                              atol=1e-3)
    assert style.load_image(array, size=120).shape == (3, 80, 120)


def test_load_image_refuses_a_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match=r"notes\.txt is not an image file"):
        style.load_image(path)


def test_load_image_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file"):
        style.load_image(tmp_path / "missing.jpg")


def test_load_image_refuses_a_grey_array_and_says_how_to_convert():
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(H, W, 3\), got "
                                         r"shape \(50, 50\) \(a grey image.*gray2rgb"):
        style.load_image(np.zeros((50, 50), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"shape \(3, H, W\), got shape \(1, 50, 50\)"):
        style.load_image(torch.zeros(1, 50, 50))


def test_load_image_refuses_four_channels():
    with pytest.raises(ValueError, match=r"got shape \(50, 50, 4\) \(4 channels"):
        style.load_image(np.zeros((50, 50, 4), dtype=np.uint8))


def test_load_image_refuses_an_image_too_small_for_the_network():
    with pytest.raises(ValueError, match="16 x 16 pixels; style transfer needs at least 32"):
        style.load_image(np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="needs at least 32"):
        style.load_image(np.zeros((64, 64, 3), dtype=np.uint8), size=20)


@pytest.mark.parametrize("size", [0, -5, 2.5, "big", True])
def test_load_image_refuses_a_nonsense_size(size):
    with pytest.raises(ValueError, match="size must be a positive int"):
        style.load_image(np.zeros((64, 64, 3), dtype=np.uint8), size=size)


def test_load_image_refuses_floats_outside_zero_to_one():
    with pytest.raises(ValueError, match="in 0..1, got values from 0 to 255"):
        style.load_image(np.linspace(0, 255, 40 * 40 * 3).reshape(40, 40, 3))
