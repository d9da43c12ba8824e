"""What the variational autoencoders must do: shapes, the ELBO, training, sampling, errors."""

import math

import pytest
import torch

from imgen import sliders, vae
from imgen.models import ConvVAE, DenseVAE, build_model
from imgen.train import evaluate, fit

CASES = [
    (DenseVAE, dict(), (3, 16, 16), 4),
    (ConvVAE, dict(in_shape=(1, 28, 28), latent=16), (1, 28, 28), 16),
    (ConvVAE, dict(in_shape=(3, 32, 32), latent=64), (3, 32, 32), 64),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape", "latent"), CASES)
def test_each_vae_gives_a_reconstruction_and_a_gaussian_per_image(cls, kwargs, shape, latent):
    torch.manual_seed(0)
    model = cls(**kwargs)
    x = torch.rand(3, *shape)
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == (3, latent)
    assert 0 <= recon.min() and recon.max() <= 1
    assert model.decode(torch.zeros(2, latent)).shape == (2, *shape)


def test_vaes_rebuild_from_their_config():
    model = ConvVAE((3, 32, 32), latent=8, width=8)
    again = build_model("conv-vae", **model.config)
    assert again.load_state_dict(model.state_dict())
    assert build_model("dense-vae", **DenseVAE().config).config == DenseVAE().config


def test_the_fruit_vae_has_the_fruit_autoencoders_sizes():
    linears = [m for m in DenseVAE().modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (768, 256), (256, 16), (16, 4), (16, 4), (4, 16), (16, 256), (256, 768)
    ]  # fmt: skip


def test_eval_mode_decodes_the_mean_and_training_mode_samples():
    torch.manual_seed(0)
    model = DenseVAE()
    x = torch.rand(4, 3, 16, 16)
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    mu, _ = model.encode(x)
    assert torch.allclose(model(x)[0], model.decode(mu))
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])


def test_kl_is_zero_when_the_encoder_gives_the_prior():
    x = torch.rand(5, 1, 4, 4)
    terms = vae.elbo_loss(x.clone(), x, torch.zeros(5, 3), torch.zeros(5, 3))
    assert terms.kl.item() == 0
    assert terms.reconstruction.item() == 0
    assert terms.total.item() == 0


def test_kl_matches_the_closed_form_for_one_number():
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]])
    x = torch.zeros(1, 1, 1, 1)
    kl = vae.elbo_loss(x, x, mu, logvar).kl.item()
    # KL(N(1, 4) || N(0, 1)) = (4 + 1 - 1 - log 4) / 2
    assert kl == pytest.approx((4 + 1 - 1 - math.log(4)) / 2)


def test_reconstruction_is_the_squared_error_summed_per_image():
    x = torch.zeros(2, 1, 2, 2)
    recon = torch.full_like(x, 0.5)
    terms = vae.elbo_loss(recon, x, torch.zeros(2, 1), torch.zeros(2, 1))
    assert terms.reconstruction.item() == pytest.approx(4 * 0.25)


def test_beta_scales_only_the_kl_term():
    torch.manual_seed(0)
    x, recon = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    mu, logvar = torch.randn(3, 2), torch.randn(3, 2)
    one = vae.elbo_loss(recon, x, mu, logvar, beta=1)
    four = vae.elbo_loss(recon, x, mu, logvar, beta=4)
    assert torch.equal(one.reconstruction, four.reconstruction)
    assert torch.equal(one.kl, four.kl)
    assert four.total.item() == pytest.approx(one.reconstruction.item() + 4 * one.kl.item())


def test_a_few_training_steps_lower_the_negative_elbo():
    torch.manual_seed(0)
    images = torch.rand(64, 3, 16, 16) * 0.2 + torch.linspace(0, 0.8, 16)[None, None, :, None]
    model = DenseVAE()
    before = fit(model, images, images, task="vae", epochs=1, max_steps=1, progress=False)
    after = fit(model, images, images, task="vae", epochs=8, batch_size=16, progress=False)
    assert after.val_loss[-1] < before.val_loss[0]
    assert after.task == "vae"


def test_evaluate_gives_a_vaes_pixel_mse():
    torch.manual_seed(0)
    model = DenseVAE().eval()
    x = torch.rand(6, 3, 16, 16)
    with torch.no_grad():
        expected = ((model.decode(model.encode(x)[0]) - x) ** 2).mean().item()
    assert evaluate(model, x, task="vae") == pytest.approx(expected, rel=1e-5)
    assert vae.score(model, x)["mse"] == pytest.approx(expected, rel=1e-5)


def test_sampling_is_reproducible_with_a_seeded_generator():
    torch.manual_seed(0)
    model = ConvVAE(latent=4, width=4).eval()
    first = vae.sample(model, 5, torch.Generator().manual_seed(1))
    second = vae.sample(model, 5, torch.Generator().manual_seed(1))
    other = vae.sample(model, 5, torch.Generator().manual_seed(2))
    assert first.shape == (5, 1, 28, 28)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_the_fruit_vaes_decoder_runs_in_the_page_with_a_wide_slider_range():
    torch.manual_seed(0)
    model = DenseVAE().eval()
    payload = sliders.export_decoder(model)
    codes = torch.randn(10, 4)
    with torch.no_grad():
        exact = model.decode(codes).numpy()
    assert abs(sliders.decode_payload(payload, codes.numpy()) - exact).max() < 1e-3
    page = sliders.slider_html(payload, low=-2.5, high=2.5, presets={"a": [-2, 0, 1, 2.5]})
    assert 'min="-2.5" max="2.5"' in page
    with pytest.raises(ValueError, match=r"4 numbers in -2.5..2.5"):
        sliders.slider_html(payload, low=-2.5, high=2.5, initial=[3, 0, 0, 0])
    with pytest.raises(ValueError, match="low < high"):
        sliders.slider_html(payload, low=1, high=-1)


def test_wrong_image_shape_is_refused_naming_both_shapes():
    with pytest.raises(
        ValueError, match=r"expected images of shape \(N, 3, 16, 16\), got \(2, 1, 28, 28\)"
    ):
        DenseVAE()(torch.rand(2, 1, 28, 28))


def test_wrong_code_size_is_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"expected codes of shape \(N, 16\), got \(2, 4\)"):
        ConvVAE(latent=16, width=4).decode(torch.zeros(2, 4))


@pytest.mark.parametrize("beta", [-1, float("nan"), "1", True])
def test_a_bad_beta_is_refused(beta):
    x = torch.rand(2, 1, 2, 2)
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        vae.elbo_loss(x, x, torch.zeros(2, 1), torch.zeros(2, 1), beta=beta)
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        fit(DenseVAE(), torch.rand(4, 3, 16, 16), task="vae", beta=beta, progress=False)


def test_elbo_loss_refuses_mismatched_shapes():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"recon \(2, 1, 4, 5\) and x \(2, 1, 4, 4\)"):
        vae.elbo_loss(torch.rand(2, 1, 4, 5), x, torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"mu \(2, 3\) and logvar \(2, 2\)"):
        vae.elbo_loss(x, x, torch.zeros(2, 3), torch.zeros(2, 2))


def test_task_vae_needs_a_vae_and_beta_needs_task_vae():
    from imgen.models import DenseAutoencoder

    images = torch.rand(4, 3, 16, 16)
    with pytest.raises(ValueError, match=r"returns \(reconstruction, mu, logvar\)"):
        fit(DenseAutoencoder(), images, task="vae", progress=False)
    with pytest.raises(ValueError, match="beta weighs the KL term of task='vae'"):
        fit(DenseAutoencoder(), images, beta=2.0, progress=False)


def test_sample_refuses_a_plain_autoencoder_and_a_bad_count():
    from imgen.models import DenseAutoencoder

    with pytest.raises(TypeError, match="got DenseAutoencoder"):
        vae.sample(DenseAutoencoder(), 3)
    with pytest.raises(ValueError, match="n must be a whole number >= 1, got 0"):
        vae.sample(DenseVAE(), 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "dense-vae"], "--model dense-vae or conv-vae goes with --task vae"),
        (
            ["--model", "dense", "--task", "vae"],
            "--model dense-vae or conv-vae goes with --task vae",
        ),
        (["--model", "dense", "--beta", "2"], "--beta weighs the KL term of --task vae"),
    ],
)
def test_the_command_line_pairs_vae_models_with_task_vae(argv, message, tmp_path, capsys):
    from imgen.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["train", "--data", "fruits", "--out", tmp_path, *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
