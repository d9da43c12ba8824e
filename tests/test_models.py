"""What the networks must be: the articles' layers, the right shapes, and clear errors."""

import json

import pytest
import torch
from torch import nn

from imgen.models import (
    MODELS,
    BasicAutoencoder,
    ConvAutoencoder,
    ConvClassifier,
    DeepConvAutoencoder,
    DenseAutoencoder,
    build_model,
)

AUTOENCODERS = ["dense", "basic", "deep", "conv", "linear-start"]
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 16, 16)]


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def layers(model, kind):
    return [m for m in model.modules() if type(m) is kind]


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


# Shapes


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", AUTOENCODERS)
def test_autoencoder_gives_back_images_of_the_input_shape(name, shape):
    model = build_model(name, in_shape=shape, latent=32)
    assert model(torch.rand(2, *shape)).shape == (2, *shape)


@pytest.mark.parametrize("latent", [4, 16, 32, 128, 512])
@pytest.mark.parametrize("name", AUTOENCODERS)
def test_encode_gives_latent_numbers_and_decode_gives_images(name, latent):
    model = build_model(name, in_shape=(1, 28, 28), latent=latent)
    codes = model.encode(torch.rand(3, 1, 28, 28))
    assert codes.shape == (3, latent)
    assert model.decode(codes).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("name", ["deep", "conv"])
def test_convolutional_autoencoders_handle_64x64_colour_images(name):
    model = build_model(name, in_shape=(3, 64, 64), latent=64)
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 3, 64, 64)


@pytest.mark.parametrize("shape", [(1, 30, 30), (3, 20, 24), (2, 8, 8)], ids=str)
def test_conv_autoencoder_pads_and_crops_sizes_that_are_not_multiples_of_8(shape):
    model = ConvAutoencoder(in_shape=shape, latent=8, width=4)
    assert model(torch.rand(2, *shape)).shape == (2, *shape)


def test_one_image_batch_works_in_eval_mode():
    model = ConvAutoencoder(latent=8, width=8).eval()
    assert model(torch.rand(1, 1, 28, 28)).shape == (1, 1, 28, 28)


# The article's layers, exactly


def test_dense_autoencoder_layers_are_768_256_16_4_16_256_768():
    model = DenseAutoencoder()
    sizes = [layer.in_features for layer in layers(model, nn.Linear)]
    sizes.append(layers(model, nn.Linear)[-1].out_features)
    assert sizes == [768, 256, 16, 4, 16, 256, 768]


def test_dense_autoencoder_code_and_pixels_lie_in_0_to_1():
    model = DenseAutoencoder()
    codes = model.encode(torch.rand(16, 3, 16, 16) * 4 - 2)
    images = model.decode(torch.randn(16, 4) * 10)
    assert codes.min() >= 0 and codes.max() <= 1
    assert images.min() >= 0 and images.max() <= 1


def test_basic_autoencoder_is_one_dense_layer_each_way_without_activations():
    model = BasicAutoencoder(in_shape=(3, 32, 32), latent=32)
    linears = [(m.in_features, m.out_features) for m in layers(model, nn.Linear)]
    assert linears == [(3072, 32), (32, 3072)]
    assert not [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.Sigmoid))]


@pytest.mark.parametrize("channels", [1, 3])
def test_deep_autoencoder_convolutions_are_32_64_128_256_then_128_64_32_c(channels):
    model = DeepConvAutoencoder(in_shape=(channels, 32, 32), latent=32)
    convs = layers(model, nn.Conv2d)
    transposed = layers(model, nn.ConvTranspose2d)
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert [c.out_channels for c in transposed] == [128, 64, 32, channels]
    assert all(c.kernel_size == (3, 3) for c in convs + transposed)
    assert len(layers(model, nn.MaxPool2d)) == 4


def test_deep_autoencoder_decoder_has_relu_after_three_transposed_convolutions_not_the_last():
    kinds = [type(m).__name__ for m in DeepConvAutoencoder().decoder]
    assert kinds == [
        "Linear", "Unflatten",
        "ConvTranspose2d", "ReLU",
        "ConvTranspose2d", "ReLU",
        "ConvTranspose2d", "ReLU",
        "ConvTranspose2d",
    ]  # fmt: skip


def test_deep_autoencoder_decodes_through_a_dense_layer_of_the_image_size():
    model = DeepConvAutoencoder(in_shape=(1, 28, 28), latent=32)
    dense_in, dense_out = layers(model, nn.Linear)
    assert (dense_in.in_features, dense_in.out_features) == (256, 32)  # 28 pools down to 1x1
    assert (dense_out.in_features, dense_out.out_features) == (32, 784)


def test_conv_autoencoder_pixels_lie_in_0_to_1():
    images = ConvAutoencoder(latent=8, width=8).decode(torch.randn(8, 8) * 10)
    assert images.min() >= 0 and images.max() <= 1


def test_conv_autoencoder_code_lies_in_0_to_1_with_a_sigmoid_code():
    model = ConvAutoencoder(in_shape=(3, 16, 16), latent=4, width=8, code_activation="sigmoid")
    codes = model.encode(torch.rand(8, 3, 16, 16))
    assert codes.shape == (8, 4)
    assert codes.min() >= 0 and codes.max() <= 1


def test_conv_autoencoder_width_sets_the_channels():
    model = ConvAutoencoder(latent=8, width=16)
    assert [c.out_channels for c in layers(model, nn.Conv2d)] == [16, 32, 64]


def test_parameter_counts():
    counts = {
        name: parameter_count(build_model(name, in_shape=(1, 28, 28), latent=32))
        for name in AUTOENCODERS
    }
    message = f"parameters at 1x28x28, latent 32: {counts}"
    assert counts["basic"] == 784 * 32 + 32 + 32 * 784 + 784, message
    assert counts["dense"] == parameter_count(DenseAutoencoder(in_shape=(1, 28, 28), latent=32))
    assert counts["conv"] < counts["deep"], message


# Learning


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_a_few_adam_steps_lower_the_reconstruction_error(name):
    model = build_model(name, in_shape=(1, 16, 16), latent=8)
    images = torch.rand(8, 1, 16, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(images), images)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], f"{name}: MSE {losses}"


# Article D's models as its Keras code built them (counts: shared/ARTICLE_CODE.md, section 1)

# (name, in_shape, latent, activation): (encoder, decoder) parameters, or the total alone.
ARTICLE_COUNTS = {
    ("article-deep", (1, 28, 28), 32, "relu"): (1_084_704, 287_699),
    ("article-deep", (1, 28, 28), 128, "relu"): 1_472_339,
    ("article-deep", (1, 28, 28), 512, "relu"): 1_872_083,
    ("article-deep", (3, 45, 45), 32, "elu"): 1_579_582,
    ("article-deep", (3, 45, 45), 64, "elu"): 1_806_782,
    ("article-deep", (3, 45, 45), 128, "elu"): 2_261_182,
    ("article-deep", (3, 45, 45), 512, "elu"): 4_987_582,
    ("article-deep", (3, 32, 32), 32, "relu"): 1_480_483,
    ("article-deep", (3, 32, 32), 64, "relu"): 1_611_587,
    ("article-deep", (3, 32, 32), 128, "relu"): 1_873_795,
    ("article-deep", (3, 32, 32), 512, "relu"): 3_447_043,
    ("article-3layer", (3, 45, 45), 16, None): 268_862,
    ("article-basic", (1, 28, 28), 32, None): 50_992,
    ("article-basic", (1, 28, 28), 64, None): 101_200,
    ("article-basic", (3, 45, 45), 32, None): 394_907,
    ("article-basic", (3, 45, 45), 64, None): (388_864, 394_875),  # printed by the notebook
    ("article-basic", (3, 32, 32), 32, None): 199_712,
    ("article-basic", (3, 32, 32), 64, None): 396_352,
}


def build_article(name, shape, latent, activation):
    options = {"activation": activation} if activation else {}
    return build_model(name, in_shape=shape, latent=latent, **options)


@pytest.mark.parametrize("key", ARTICLE_COUNTS, ids=str)
def test_the_articles_models_have_the_parameter_counts_of_its_code(key):
    model, expected = build_article(*key), ARTICLE_COUNTS[key]
    if isinstance(expected, tuple):
        assert (parameter_count(model.encoder), parameter_count(model.decoder)) == expected
    else:
        assert parameter_count(model) == expected


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 45, 45), (3, 32, 32)], ids=str)
def test_the_articles_deep_model_gives_three_channels_at_the_input_size(shape):
    model = build_model("article-deep", in_shape=shape, latent=8)
    assert model(torch.rand(2, *shape)).shape == (2, 3, *shape[1:])
    assert model.encode(torch.rand(2, *shape)).shape == (2, 8)


def test_the_articles_deep_model_has_5x5_kernels_stride_1_and_its_activation():
    model = build_model("article-deep", in_shape=(3, 45, 45), latent=8, activation="elu")
    convs = layers(model, nn.Conv2d) + layers(model, nn.ConvTranspose2d)
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 128, 64, 32, 3]
    assert {(c.kernel_size, c.stride) for c in convs} == {((5, 5), (1, 1))}
    assert len(layers(model, nn.ELU)) == 7 and not layers(model, nn.ReLU)
    assert isinstance(model.decoder[-1], nn.ConvTranspose2d)  # the output is linear
    assert layers(model.decoder, nn.Linear)[0].out_features == 3 * 45 * 45  # no upsampling


def test_the_three_layer_model_has_3x3_kernels_and_a_flatten_of_3200_on_faces():
    model = build_model("article-3layer", in_shape=(3, 45, 45), latent=16)
    convs = layers(model, nn.Conv2d) + layers(model, nn.ConvTranspose2d)
    assert [c.out_channels for c in convs] == [32, 64, 128, 64, 32, 3]
    assert {c.kernel_size for c in convs} == {(3, 3)}
    assert layers(model.encoder, nn.Linear)[0].in_features == 5 * 5 * 128


def test_the_articles_models_start_from_keras_initial_weights():
    model = build_model("article-deep", in_shape=(3, 32, 32), latent=8)
    for layer in layers(model, nn.Conv2d) + layers(model, nn.Linear):
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        assert layer.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5
        assert not layer.bias.any()


def test_the_articles_deep_model_refuses_an_unknown_activation():
    expected = r"activation must be one of \['elu', 'relu'\], got 'tanh'"
    with pytest.raises(ValueError, match=expected):
        build_model("article-deep", activation="tanh")


# The classifier


def test_classifier_gives_one_logit_per_class():
    model = ConvClassifier(in_shape=(3, 32, 32), n_classes=100)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


def test_classifier_feature_maps_shrink_at_each_pooling():
    model = ConvClassifier(in_shape=(1, 28, 28), width=8)
    maps = {
        name: tuple(x.shape) for name, x in model.feature_maps(torch.rand(2, 1, 28, 28)).items()
    }
    assert maps == {
        "conv1": (2, 8, 28, 28),
        "conv2": (2, 8, 28, 28),
        "pool1": (2, 8, 14, 14),
        "conv3": (2, 16, 14, 14),
        "conv4": (2, 16, 14, 14),
        "pool2": (2, 16, 7, 7),
    }


def test_classifier_first_layer_filters_are_3x3_per_input_channel():
    assert ConvClassifier(in_shape=(3, 32, 32), width=16).features[0].weight.shape == (16, 3, 3, 3)


def test_classifier_refuses_images_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 28, 28\)"):
        ConvClassifier()(torch.rand(2, 3, 32, 32))


# Building from a name and a config


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("dense", dict(hidden=(64, 8), latent=3)),
        ("basic", dict(in_shape=(3, 32, 32), latent=16)),
        ("deep", dict(in_shape=(3, 32, 32), latent=64)),
        ("conv", dict(in_shape=(3, 16, 16), latent=4, width=8, code_activation="sigmoid")),
        ("classifier", dict(in_shape=(3, 32, 32), n_classes=100, width=8)),
        ("article-basic", dict(in_shape=(3, 45, 45), latent=64)),
        ("article-deep", dict(in_shape=(3, 45, 45), latent=32, activation="elu")),
        ("article-3layer", dict(in_shape=(3, 45, 45), latent=16)),
    ],
)
def test_build_model_from_config_gives_the_same_architecture(name, kwargs):
    model = build_model(name, **kwargs)
    again = build_model(name, **model.config)
    assert isinstance(model, MODELS[name])
    assert again.config == model.config
    assert str(again) == str(model)
    again.load_state_dict(model.state_dict())


def test_config_survives_a_json_round_trip():
    model = build_model("conv", in_shape=(3, 32, 32), latent=16, width=8)
    again = build_model("conv", **json.loads(json.dumps(model.config)))
    assert again.config == model.config


def test_registry_names_every_model():
    assert set(MODELS) == {
        *("dense", "basic", "deep", "conv", "classifier", "dense-vae", "conv-vae"),
        *("article-basic", "article-deep", "article-3layer", "linear-start"),
        *("dcgan-generator", "dcgan-discriminator", "mlp-generator", "mlp-discriminator"),
    }


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'vae'; choose one of \['article-3layer'"):
        build_model("vae")


# Errors say what was expected and what came


def test_images_of_the_wrong_shape_are_refused_with_both_shapes():
    model = DeepConvAutoencoder(in_shape=(1, 28, 28), latent=32)
    expected = r"expected images of shape \(N, 1, 28, 28\), got \(5, 3, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        model(torch.rand(5, 3, 28, 28))


def test_a_single_image_without_batch_dimension_is_refused():
    with pytest.raises(ValueError, match=r"got \(1, 28, 28\)"):
        BasicAutoencoder().encode(torch.rand(1, 28, 28))


def test_codes_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match=r"expected codes of shape \(N, 4\), got \(2, 5\)"):
        DenseAutoencoder().decode(torch.rand(2, 5))


def test_integer_images_are_refused():
    with pytest.raises(TypeError, match="expected images as a float tensor, got torch.uint8"):
        BasicAutoencoder()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_non_tensor_images_are_refused():
    with pytest.raises(TypeError, match="expected images as a tensor of shape"):
        BasicAutoencoder()([[0.0]])


@pytest.mark.parametrize("in_shape", [(28, 28), (1, 0, 28), "1x28x28", (1, 28.0, 28)])
def test_bad_in_shape_is_refused(in_shape):
    with pytest.raises(ValueError, match=r"in_shape must be \(C, H, W\)"):
        BasicAutoencoder(in_shape=in_shape)


@pytest.mark.parametrize("latent", [0, -4, 2.5, True])
def test_bad_latent_is_refused(latent):
    with pytest.raises(ValueError, match="latent must be a positive int"):
        ConvAutoencoder(latent=latent)


def test_deep_autoencoder_refuses_images_too_small_for_four_poolings():
    with pytest.raises(ValueError, match="at least 16x16, got 8x8"):
        DeepConvAutoencoder(in_shape=(1, 8, 8))


def test_unknown_code_activation_is_refused():
    with pytest.raises(ValueError, match="code_activation must be None or 'sigmoid', got 'tanh'"):
        ConvAutoencoder(code_activation="tanh")


# Ours for the article's protocol: a linear solution plus corrections that start at zero


@pytest.mark.parametrize("task", ["reconstruct", "complete"])
def test_linear_start_begins_as_the_closed_form_linear_map(task):
    from imgen import article, baselines

    cell = next(c for c in article.CELLS if c.data == "cifar" and c.task == task)
    images = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8)
    linear = baselines.article_map(cell, images)
    model = build_model("linear-start", in_shape=(3, 32, 32), latent=cell.latent, width=4)
    model.start_from(linear).eval()
    x = images[:5].double() / 255
    if task == "complete":
        x[:, :, cell.occluded_rows.start:] = 0  # what the model sees: the rows below are hidden
    expected = linear(x.flatten(1)).view(5, 3, 32, 32).float()
    assert torch.allclose(model(x.float()), expected, atol=1e-4)
    assert model.encode(x.float()).shape == (5, cell.latent)
    with torch.no_grad():  # once the corrections have learned, the dense maps alone stay linear
        last = [m for m in model.decoder.second if isinstance(m, torch.nn.ConvTranspose2d)][-1]
        last.bias.fill_(0.5)
    assert torch.allclose(model.linear_part(x.float()), expected, atol=1e-4)
    assert not torch.allclose(model(x.float()), expected, atol=1e-2)
    rebuilt = build_model("linear-start", **model.config)
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt.eval()(x.float()), model(x.float()))


def test_linear_start_begins_as_a_ridge_map_of_lower_rank_than_its_code():
    """MNIST completion at 512: the visible rows support a ridge map of lower rank; the code keeps
    its 512 numbers, the ones the map does not use start at zero."""
    from imgen import article, baselines

    cell = article.cell("mnist/deep/512/complete")
    images = torch.zeros(200, 1, 28, 28, dtype=torch.uint8)
    images[:, :, 4:24, 4:24] = torch.randint(0, 256, (200, 1, 20, 20), dtype=torch.uint8)
    linear = baselines.article_map(cell, images)
    assert linear.encode.shape[1] == 512 and torch.linalg.matrix_rank(linear.weight) < 512
    model = build_model("linear-start", in_shape=(1, 28, 28), latent=512, width=4)
    model.start_from(linear).eval()
    x = images[:5].double() / 255
    x[:, :, cell.occluded_rows.start:] = 0
    expected = linear(x.flatten(1)).view(5, 1, 28, 28).float()
    assert torch.allclose(model(x.float()), expected, atol=1e-4)
    with pytest.raises(ValueError, match="at least the map's code, 512, got 64"):
        linear.padded(64)


def test_linear_start_refuses_a_map_of_another_size():
    from imgen import article, baselines

    cell = article.cell("cifar/basic/32/reconstruct")
    linear = baselines.article_map(cell, torch.randint(0, 256, (100, 3, 32, 32), dtype=torch.uint8))
    model = build_model("linear-start", in_shape=(3, 32, 32), latent=64, width=4)
    with pytest.raises(ValueError, match="a code of 32 .* needs a code of 64"):
        model.start_from(linear)
    with pytest.raises(ValueError, match=r"needs images shaped \(3, 32, 32\)"):
        baselines.article_map(cell, torch.zeros(10, 1, 28, 28))
