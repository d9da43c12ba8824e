"""What the GANs must do: shapes, a game whose two losses each fall, resumable training,
honest scores, and clear errors."""

import pytest
import torch

from imgen import gan, scores
from imgen.checkpoint import CheckpointError
from imgen.models import (
    ConvClassifier,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    build_model,
)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_generator_makes_images_in_0_1_that_its_discriminator_scores(shape):
    torch.manual_seed(0)
    generator = DCGANGenerator(shape, latent=16, width=8)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, *shape)
    assert 0 <= images.min() and images.max() <= 1
    assert DCGANDiscriminator(shape, width=8)(images).shape == (5,)


def test_gan_networks_rebuild_from_their_config():
    for model in (
        DCGANGenerator((3, 32, 32), latent=8, width=4, batch_norm=False),
        DCGANDiscriminator((1, 28, 28), width=4),
        MLPGenerator(latent=3, hidden=5),
        MLPDiscriminator(hidden=5, layers=2),
    ):
        name = {
            DCGANGenerator: "dcgan-generator",
            DCGANDiscriminator: "dcgan-discriminator",
            MLPGenerator: "mlp-generator",
            MLPDiscriminator: "mlp-discriminator",
        }[type(model)]
        assert build_model(name, **model.config).load_state_dict(model.state_dict())


def test_without_batch_norm_the_networks_have_none():
    for model in (DCGANGenerator(batch_norm=False), DCGANDiscriminator(batch_norm=False)):
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_dcgan_refuses_image_sizes_it_cannot_build():
    with pytest.raises(ValueError, match="square images whose side is a multiple of 4"):
        DCGANGenerator((3, 30, 30))
    with pytest.raises(ValueError, match="square"):
        DCGANDiscriminator((1, 28, 32))


def test_discriminator_loss_falls_after_a_few_discriminator_steps():
    torch.manual_seed(0)
    generator, discriminator = MLPGenerator(latent=2), MLPDiscriminator()
    real, fake = gan.toy_mixture(256), generator(torch.randn(256, 2)).detach()
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(20):
        loss = gan.discriminator_loss(discriminator(real), discriminator(fake))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("loss", gan.LOSSES)
def test_generator_loss_falls_after_generator_steps_with_the_discriminator_fixed(loss):
    torch.manual_seed(0)
    generator, discriminator = MLPGenerator(latent=2), MLPDiscriminator()
    discriminator.requires_grad_(False)
    codes = torch.randn(256, 2)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(20):
        value = gan.generator_loss(discriminator(generator(codes)), loss)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(value.item())
    assert losses[-1] < losses[0]


def test_the_two_generator_losses_share_their_gradient_direction_but_not_its_size():
    # With D sure the image is fake (logit -6), the minimax loss barely moves G: it saturates.
    logits = torch.tensor([-6.0], requires_grad=True)
    grads = {}
    for loss in gan.LOSSES:
        (grad,) = torch.autograd.grad(gan.generator_loss(logits, loss), logits)
        grads[loss] = grad.item()
    assert grads["non-saturating"] < 0 and grads["minimax"] < 0
    assert abs(grads["non-saturating"]) > 100 * abs(grads["minimax"])


def _toy_run(**kwargs):
    torch.manual_seed(0)
    generator, discriminator = MLPGenerator(latent=2, hidden=16), MLPDiscriminator(hidden=16)
    settings = dict(steps=12, batch_size=32, progress=False, log_every=4, snapshot_every=4)
    history = gan.train_gan(generator, discriminator, gan.toy_mixture(256), **settings | kwargs)
    return generator, discriminator, history


def test_train_gan_keeps_a_history_and_fixed_noise_snapshots():
    _, _, history = _toy_run(snapshot_count=5)
    assert history.step == [4, 8, 12] and history.steps_done == 12
    for name in ("loss_d", "loss_g", "d_real", "d_fake"):
        assert len(getattr(history, name)) == 3
    assert all(0 <= p <= 1 for p in history.d_real + history.d_fake)
    assert history.snapshot_steps == [4, 8, 12]
    assert history.snapshots.shape == (3, 5, 2)
    assert history.seconds > 0 and not history.interrupted


def test_image_snapshots_are_uint8_images():
    torch.manual_seed(0)
    generator, discriminator = DCGANGenerator(latent=4, width=4), DCGANDiscriminator(width=4)
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    history = gan.train_gan(
        generator, discriminator, images, steps=2, batch_size=8, progress=False, snapshot_count=3
    )
    assert history.snapshots.dtype == torch.uint8 and history.snapshots.shape == (2, 3, 1, 28, 28)


def test_a_resumed_run_ends_exactly_where_the_uninterrupted_one_does(tmp_path):
    straight, _, history = _toy_run()
    _toy_run(steps=8, checkpoint=tmp_path / "run.pt", checkpoint_every=4)
    resumed, _, again = _toy_run(checkpoint=tmp_path / "run.pt", resume=True, checkpoint_every=4)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert again.step == history.step and again.loss_d == history.loss_d
    assert torch.equal(again.snapshots, history.snapshots)


class _StopAfter(MLPDiscriminator):
    """A discriminator that raises KeyboardInterrupt (as Ctrl-C does) on its n-th call."""

    def __init__(self, n):
        super().__init__(hidden=16)
        self.calls, self.n = 0, n

    def forward(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return super().forward(x)


def test_ctrl_c_keeps_what_was_learned_in_the_last_checkpoint(tmp_path):
    torch.manual_seed(0)
    generator = MLPGenerator(latent=2, hidden=16)
    path = tmp_path / "run.pt"
    history = gan.train_gan(
        generator, _StopAfter(3 * 7 + 1), gan.toy_mixture(256), steps=12, batch_size=32,
        checkpoint=path, checkpoint_every=5, progress=False,
    )  # fmt: skip
    assert history.interrupted and history.steps_done == 7
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 5 and saved["history"]["steps_done"] == 5


def test_resume_refuses_other_settings_or_other_networks(tmp_path):
    path = tmp_path / "run.pt"
    _toy_run(checkpoint=path)
    with pytest.raises(ValueError, match="lr=0.0002 there but 0.001 here"):
        _toy_run(checkpoint=path, resume=True, lr=1e-3)
    with pytest.raises(CheckpointError, match="generator that is model mlp-generator"):
        gan.train_gan(
            MLPGenerator(latent=2, hidden=32), MLPDiscriminator(hidden=16), gan.toy_mixture(64),
            steps=1, batch_size=32, checkpoint=path, resume=True, progress=False,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (torch.rand(64, 1, 32, 32), ValueError, r"shaped \(N, 1, 28, 28\)"),
        (torch.rand(64, 1, 28, 28) * 2, ValueError, "floats outside 0..1"),
        (torch.zeros(64, 1, 28, 28, dtype=torch.int16), TypeError, r"uint8 \(0..255\) or float"),
        ([1, 2, 3], TypeError, "ImageData or a tensor"),
        (torch.rand(4, 1, 28, 28), ValueError, "fewer than one batch"),
    ],
)
def test_train_gan_refuses_bad_data_in_one_sentence(data, error, message):
    generator, discriminator = DCGANGenerator(latent=4, width=4), DCGANDiscriminator(width=4)
    with pytest.raises(error, match=message):
        gan.train_gan(generator, discriminator, data, steps=1, batch_size=8, progress=False)


def test_train_gan_refuses_bad_settings():
    points = gan.toy_mixture(64)
    generator, discriminator = MLPGenerator(), MLPDiscriminator()
    for kwargs, message in [
        ({"loss": "wasserstein"}, "loss must be one of"),
        ({"lr": 0}, "lr must be a number > 0"),
        ({"betas": (0.5, 1.5)}, "betas must be two numbers"),
        ({"steps": 0}, "steps must be a whole number"),
        ({"resume": True}, "resume=True needs checkpoint"),
    ]:
        with pytest.raises(ValueError, match=message):
            gan.train_gan(generator, discriminator, points, progress=False, **kwargs)
    with pytest.raises(ValueError, match=r"makes \(2,\) but the discriminator judges \(3,\)"):
        gan.train_gan(generator, MLPDiscriminator(dim=3), points, progress=False)


def test_interpolate_walks_from_one_code_to_the_other():
    torch.manual_seed(0)
    generator = DCGANGenerator(latent=4, width=4).eval()
    z0, z1 = torch.randn(4), torch.randn(4)
    path = gan.interpolate(generator, z0, z1, steps=5)
    assert path.shape == (5, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(path[0], generator(z0[None])[0], atol=1e-6)
        assert torch.allclose(path[-1], generator(z1[None])[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"one code of shape \(4,\), got \(1, 4\)"):
        gan.interpolate(generator, z0[None], z1)


def test_sample_is_reproducible_by_seed():
    generator = MLPGenerator()
    assert torch.equal(gan.sample(generator, 7, seed=3), gan.sample(generator, 7, seed=3))
    assert gan.sample(generator, 7).shape == (7, 2)


def test_mode_coverage_counts_the_modes_a_sample_reaches():
    assert gan.mode_coverage(gan.toy_mixture(4000))["covered"] == 8
    collapsed = gan.mode_centres()[[2]] + 0.01 * torch.randn(500, 2)
    found = gan.mode_coverage(collapsed)
    assert found["covered"] == 1 and found["counts"][2] == 500 and found["quality"] == 1
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        gan.mode_coverage(torch.zeros(5, 3))


def _bars(n, kinds, seed):
    """16x16 images of one bright bar each (row or column ``kinds``), at random positions."""
    rng = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, 16, 16)
    kind = torch.randint(len(kinds), (n,), generator=rng)
    where = torch.randint(2, 14, (n,), generator=rng)
    for i in range(n):
        if kinds[kind[i]] == "row":
            images[i, 0, where[i], :] = 1
        else:
            images[i, 0, :, where[i]] = 1
    return images


@pytest.fixture
def judge():
    torch.manual_seed(0)
    return ConvClassifier((1, 16, 16), n_classes=4, width=4).eval()


def test_real_vs_real_scores_near_zero_and_a_collapsed_generator_worse(judge):
    real = _bars(400, ["row", "column"], seed=0)
    reference, other = scores.split_real(real)
    collapsed = _bars(200, ["row"], seed=1)
    honest = scores.score_images(reference, other, judge)
    worse = scores.score_images(reference, collapsed, judge)
    assert worse["fid"] > 5 * honest["fid"]
    assert abs(honest["kid"]) < 3 * honest["kid_std"] + 1e-6 < worse["kid"]
    assert scores.fid(real, real, judge) == pytest.approx(0, abs=1e-3)


def test_class_coverage_of_identical_images_is_one_class(judge):
    found = scores.class_coverage(_bars(1, ["row"], 0).expand(50, -1, -1, -1), judge)
    assert found["covered"] == 1 and sum(found["counts"]) == 50
    assert 1 <= scores.inception_score(_bars(50, ["row", "column"], 0), judge) <= 4


def test_scores_refuse_bad_inputs_in_one_sentence(judge):
    with pytest.raises(TypeError, match="must be an imgen.models.ConvClassifier"):
        scores.fid(torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16), MLPDiscriminator())
    with pytest.raises(ValueError, match=r"shaped \(N, 1, 16, 16\) for this judge"):
        scores.fid(torch.rand(4, 3, 16, 16), torch.rand(4, 1, 16, 16), judge)
    with pytest.raises(ValueError, match="floats in 0..1"):
        scores.kid(torch.rand(4, 1, 16, 16) - 1, torch.rand(4, 1, 16, 16), judge)
    with pytest.raises(ValueError, match="at least 4 real images"):
        scores.split_real(torch.rand(3, 1, 16, 16))


def test_the_command_line_sends_a_generator_to_gan_score(capsys):
    from imgen import cli, pretrained

    if "mnist-dcgan" not in pretrained.available():
        pytest.skip("no shipped mnist-dcgan")
    with pytest.raises(SystemExit) as stop:
        cli.main(["evaluate", "--checkpoint", "mnist-dcgan", "--data", "mnist"])
    assert stop.value.code == 2
    assert "python -m imgen gan score --checkpoint mnist-dcgan" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["gan", "score", "--checkpoint", "mnist-classifier", "--data", "mnist"])
    assert "not a GAN generator" in capsys.readouterr().err
