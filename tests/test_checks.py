"""imgen.checks: each check accepts the solution's answer and names the typical mistake."""

import pytest
import torch
from torch import nn

from imgen import checks
from imgen.models import BasicAutoencoder, ConvClassifier


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_output_sizes_accepts_the_shapes_pytorch_computes(capsys):
    layers = nn.Sequential(nn.Conv2d(3, 8, 5), nn.MaxPool2d(2),
                           nn.Conv2d(8, 8, 3, stride=2, padding=1))
    x, shapes = torch.zeros(1, 3, 32, 32), []
    for layer in layers:
        x = layer(x)
        shapes.append(tuple(x.shape))
    checks.output_sizes(shapes)
    assert capsys.readouterr().out.startswith("Right:")


def test_output_sizes_accepts_plain_heights():
    checks.output_sizes([28, 14, 7])


@pytest.mark.parametrize(
    ("shapes", "hint"),
    [
        ([(1, 8, 28, 28), (1, 8, 14, 14), (1, 8, 14, 14)], "with stride 2 it would be 7"),
        ([28, 14, 6], "with padding 1 it would be 7"),
        ([32, 16, 8], "without padding fits"),
        ([28, 28, 14], "halves 28 to 14"),
        ([28, 14], "give three sizes"),
    ],
)
def test_output_sizes_names_the_mistake(shapes, hint):
    with pytest.raises(checks.WrongAnswer, match=hint):
        checks.output_sizes(shapes)


def test_cifar_params_accepts_the_models_own_counts():
    model = ConvClassifier(in_shape=(3, 32, 32), n_classes=20)
    checks.cifar_params(n_params(model.features[0]), n_params(model.classifier[2]))


@pytest.mark.parametrize(
    ("first_conv", "first_dense", "hint"),
    [
        (320, 524_416, "the MNIST model's count"),
        (864, 524_416, "left out the 32 biases"),
        (896, 401_536, "that is the MNIST model's"),
        (896, 524_288, "left out the 128 biases"),
        (896, 2_097_280, "8 x 8 after two"),
    ],
)
def test_cifar_params_names_the_mistake(first_conv, first_dense, hint):
    with pytest.raises(checks.WrongAnswer, match=hint):
        checks.cifar_params(first_conv, first_dense)


def _two_convolutions():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False),
                         nn.Conv2d(1, 1, 3, padding=1, bias=False))


def _impulse_response(two):
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1
    with torch.no_grad():
        return two(impulse)[0, 0, 2:7, 2:7]


def test_combined_kernel_accepts_the_flipped_impulse_response():
    two = _two_convolutions()
    checks.combined_kernel(_impulse_response(two).flip(0, 1), two)


def test_combined_kernel_says_when_the_response_is_not_flipped():
    two = _two_convolutions()
    with pytest.raises(checks.WrongAnswer, match=r"flip the impulse response"):
        checks.combined_kernel(_impulse_response(two), two)


def test_combined_kernel_wants_five_by_five():
    two = _two_convolutions()
    with pytest.raises(checks.WrongAnswer, match=r"must be 5 x 5"):
        checks.combined_kernel(torch.zeros(3, 3), two)


def test_combined_kernel_rejects_a_kernel_that_is_not_the_product():
    with pytest.raises(checks.WrongAnswer, match="does not give the two layers' output"):
        checks.combined_kernel(torch.ones(5, 5), _two_convolutions())


def _codes():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)


def test_kl_terms_accepts_the_terms_and_their_sum():
    mu, logvar = _codes()
    terms = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    checks.kl_terms(terms, mu, logvar)
    checks.kl_terms(terms.sum(), mu, logvar)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda mu, lv: mu**2 + lv.exp() - 1 - lv, "twice too large"),
        (lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - 1 - lv), "standard deviation"),
        (lambda mu, lv: -0.5 * (mu**2 + lv.exp() - 1 - lv), "wrong sign"),
    ],
)
def test_kl_terms_names_the_mistake(wrong, hint):
    mu, logvar = _codes()
    with pytest.raises(checks.WrongAnswer, match=hint):
        checks.kl_terms(wrong(mu, logvar), mu, logvar)


def _pca_model(images, k, *, encoder_bias=True, transpose=True):
    flat = images.flatten(1)
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    directions = vh[:k].T
    net = BasicAutoencoder(in_shape=tuple(images.shape[1:]), latent=k)
    encode, decode = net.encoder[1], net.decoder[0]
    with torch.no_grad():
        encode.weight.copy_(directions.T if transpose else directions.T * 2)
        if encoder_bias:
            encode.bias.copy_(-directions.T @ mean)
        decode.weight.copy_(directions)
        decode.bias.copy_(mean)
    return net


@pytest.fixture
def tiny_images():
    return torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))


def test_pca_autoencoder_accepts_pca_weights(tiny_images):
    checks.pca_autoencoder(_pca_model(tiny_images, 3), tiny_images, 3)


def test_pca_autoencoder_says_the_encoder_must_subtract_the_mean(tiny_images):
    with pytest.raises(checks.WrongAnswer, match="does not subtract the mean"):
        checks.pca_autoencoder(_pca_model(tiny_images, 3, encoder_bias=False), tiny_images, 3)


def test_pca_autoencoder_says_the_encoder_must_be_the_transpose(tiny_images):
    with pytest.raises(checks.WrongAnswer, match="not the transpose"):
        checks.pca_autoencoder(_pca_model(tiny_images, 3, transpose=False), tiny_images, 3)


def test_pca_autoencoder_rejects_an_untrained_model(tiny_images):
    torch.manual_seed(0)
    with pytest.raises(checks.WrongAnswer, match="bias is not the mean image"):
        checks.pca_autoencoder(BasicAutoencoder(in_shape=(1, 4, 4), latent=3), tiny_images, 3)


@pytest.fixture
def digits():
    images = torch.zeros(200, 1, 3, 3, dtype=torch.uint8)
    images[:, 0, 1, 1] = 200  # lit in every image
    images[:1, 0, 0, 0] = 50  # lit in 1 of 200 images: 0.5 %
    images[:100, 0, 2, 2] = 9  # lit in half of them
    return images  # 6 pixels never lit, 7 lit in fewer than 1 %


def test_dead_pixels_accepts_the_counts(digits):
    checks.dead_pixels(6, 7, digits)


@pytest.mark.parametrize(
    ("never", "rare", "hint"),
    [
        (3, 7, "count the others"),
        (8, 7, "black in some image"),
        (6, 1, "include the never-lit ones"),
        (6, 8, "1 % is 0.01"),
    ],
)
def test_dead_pixels_names_the_mistake(digits, never, rare, hint):
    with pytest.raises(checks.WrongAnswer, match=hint):
        checks.dead_pixels(never, rare, digits)


def test_fid_sample_sizes_accepts_falling_fids(capsys):
    checks.fid_sample_sizes([250, 1000, 5000], [4.0, 1.2, 0.3])
    assert "falls from 4.00 to 0.30" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("halves", "fids", "hint"),
    [
        ([500, 2000, 10000], [4.0, 1.2, 0.3], "size of one half"),
        ([100, 1000, 5000], [4.0, 1.2, 0.3], "halves of 250, 1,000 and 5,000"),
        ([250, 1000, 5000], [4.0, 1.2], "one FID per size"),
        ([250, 1000, 5000], [0.3, 1.2, 4.0], "do not fall"),
    ],
)
def test_fid_sample_sizes_names_the_mistake(halves, fids, hint):
    with pytest.raises(checks.WrongAnswer, match=hint):
        checks.fid_sample_sizes(halves, fids)
