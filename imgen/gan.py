"""Generative adversarial networks: the two-player game, its training loop, a toy data set.

A generator ``G`` turns random codes ``z ~ N(0, I)`` into images; a discriminator ``D`` gives
each image a logit, high for "real", low for "generated". They play a game (Goodfellow et al.
2014): ``D`` is trained to tell the training images from ``G``'s, by the binary cross-entropy

    loss_D = -log D(x) - log(1 - D(G(z)))        (D(.) = sigmoid of the logit)

and ``G`` to fool it. The game's own loss for ``G`` is ``log(1 - D(G(z)))`` ("minimax"), which
gives ``G`` almost no gradient while ``D`` easily spots its images, as it does at the start; so
GANs use the "non-saturating" loss ``-log D(G(z))`` instead, which has the same fixed point.

:func:`train_gan` alternates one step of each (Adam at 2e-4 with betas 0.5, 0.999, as in DCGAN,
Radford et al. 2016), with fixed-noise snapshots, a history of the losses and of ``D``'s mean
probabilities, and resumable atomic checkpoints. :func:`toy_mixture` and :func:`mode_coverage`
give the chapter's toy problem (eight Gaussians on a ring) on which mode collapse can be counted.
The networks are :class:`imgen.models.DCGANGenerator`, :class:`imgen.models.DCGANDiscriminator`
and the toy's :class:`imgen.models.MLPGenerator` / :class:`imgen.models.MLPDiscriminator`.
Taught in the GAN chapter; :mod:`imgen.scores` scores the generators.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from imgen.checkpoint import (
    CheckpointError,
    describe,
    load_checkpoint,
    load_weights,
    model_spec,
    save_checkpoint,
)
from imgen.train import amp_settings, check_pixels, select_device

LOSSES = ("non-saturating", "minimax")
# Settings that must not change when a run is resumed, or it would not be the same run.
SAME_ON_RESUME = (
    "batch_size",
    "lr",
    "lr_d",
    "betas",
    "seed",
    "loss",
    "d_steps",
    "train_images",
    "precision",
)


@dataclass
class GanHistory:
    """What :func:`train_gan` did, one entry per ``log_every`` generator steps in each list.

    ``step``: the number of generator steps done at the entry; ``loss_d``, ``loss_g``: the mean
    losses over those steps; ``d_real``, ``d_fake``: the mean probability ``D`` gave the real
    and the generated images (before its update). ``snapshot_steps``: when the fixed-noise
    snapshots (:attr:`snapshots`, ``(S, n, *shape)``, uint8 images or float points) were taken.
    ``seconds``: training wall time; ``interrupted``: Ctrl-C stopped training early.
    """

    step: list[int] = field(default_factory=list)
    loss_d: list[float] = field(default_factory=list)
    loss_g: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    seconds: float = 0.0
    steps_done: int = 0
    interrupted: bool = False
    task: str = "gan"
    snapshots: torch.Tensor | None = field(default=None, repr=False)

    def plot(self, axes=None):
        """The losses (left) and D's mean probabilities (right) against steps; returns the axes."""
        import matplotlib.pyplot as plt  # only plotting needs it: importing imgen stays light

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        axes[0].plot(self.step, self.loss_d, label="D")
        axes[0].plot(self.step, self.loss_g, label="G")
        axes[0].set_ylabel("loss")
        axes[1].plot(self.step, self.d_real, label="D(x), real")
        axes[1].plot(self.step, self.d_fake, label="D(G(z)), generated")
        axes[1].set_ylabel("D's probability of 'real'")
        axes[1].set_ylim(-0.02, 1.02)
        for ax in axes:
            ax.set_xlabel("generator step")
            ax.legend()
        return axes

    def to_dict(self):
        """The history as plain lists and numbers (for checkpoints and JSON), without snapshots."""
        return {k: v for k, v in asdict(self).items() if k != "snapshots"}

    @classmethod
    def from_dict(cls, data, snapshots=None):
        """The inverse of :meth:`to_dict` (``snapshots``, a tensor, come separately)."""
        return cls(**data, snapshots=snapshots)


def train_gan(
    generator,
    discriminator,
    data,
    *,
    steps=1000,
    batch_size=64,
    lr=2e-4,
    lr_d=None,
    betas=(0.5, 0.999),
    loss="non-saturating",
    d_steps=1,
    seed=0,
    device="auto",
    amp=None,
    checkpoint=None,
    resume=False,
    checkpoint_every=500,
    snapshot_every=None,
    snapshot_count=16,
    log_every=10,
    progress=True,
):
    """Train ``generator`` against ``discriminator`` on ``data``; returns a :class:`GanHistory`.

    ``data``: an :class:`imgen.data.ImageData` or a tensor shaped like the generator's output,
    ``(N, C, H, W)`` images (``uint8``, or floats in 0..1) or ``(N, dim)`` points. Each of the
    ``steps`` steps trains ``D`` ``d_steps`` times on a batch of ``batch_size`` real images and as
    many generated ones, then ``G`` once on a fresh batch of codes, by ``loss``
    (``"non-saturating"`` or ``"minimax"``, see the module's docstring). Adam with ``lr`` for
    ``G``, ``lr_d`` (default ``lr``) for ``D``, both with ``betas``. The real batches walk
    through the data in an order reshuffled every epoch; a last partial batch is skipped.

    Randomness depends only on ``(seed, step)``, so a resumed run repeats the uninterrupted one.
    ``checkpoint``: a path written atomically every ``checkpoint_every`` steps and at the end;
    ``resume=True`` continues from it up to ``steps`` in all (more than before is fine: train on).
    Ctrl-C stops cleanly, with ``interrupted=True``: the networks keep their last step, the
    checkpoint its last save. Every ``snapshot_every`` steps (default: 20 snapshots in all)
    ``G`` draws the same ``snapshot_count`` codes, in eval mode, into ``history.snapshots``.
    ``device`` and ``amp`` as in :func:`imgen.train.fit` (mixed precision on CUDA by default).
    Both networks end in eval mode on the device.
    """
    for name, value in [("steps", steps), ("batch_size", batch_size), ("d_steps", d_steps)]:
        _check_count(name, value)
    for name, value in [
        ("checkpoint_every", checkpoint_every),
        ("snapshot_count", snapshot_count),
        ("log_every", log_every),
    ]:
        _check_count(name, value)
    if snapshot_every is not None:
        _check_count("snapshot_every", snapshot_every)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    lr_d = lr if lr_d is None else lr_d
    for name, value in [("lr", lr), ("lr_d", lr_d)]:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        raise ValueError(f"betas must be two numbers in 0..1 (Adam's), got {betas!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH, the file to resume from")
    _check_pair(generator, discriminator)
    real = _unpack(data, tuple(generator.out_shape))
    if len(real) < batch_size:
        raise ValueError(
            f"data holds {len(real)} items, fewer than one batch of batch_size={batch_size}"
        )

    device = select_device(device)
    precision = amp_settings(device, amp)
    generator.to(device)
    discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=tuple(betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=tuple(betas))
    scaler_g = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)
    scaler_d = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)
    settings = {
        "task": "gan",
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "lr_d": lr_d,
        "betas": [float(b) for b in betas],
        "loss": loss,
        "d_steps": d_steps,
        "seed": seed,
        "train_images": len(real),
        "device": str(device),
        "precision": str(precision.dtype if precision.enabled else torch.float32).split(".")[-1],
    }
    snapshot_every = snapshot_every or max(1, steps // 20)
    fixed_codes = torch.randn(
        snapshot_count, generator.latent, generator=torch.Generator().manual_seed(seed)
    ).to(device)
    history, start = GanHistory(), 0
    if resume and Path(checkpoint).exists():
        history, start = _resume(
            checkpoint, generator, discriminator, opt_g, opt_d, scaler_g, scaler_d, settings
        )
    snapshots = [] if history.snapshots is None else list(history.snapshots)
    per_epoch = len(real) // batch_size
    sums = torch.zeros(4, device=device)  # loss_d, loss_g, d_real, d_fake since the last entry
    counted, order, order_epoch = 0, None, -1
    clock = time.perf_counter()

    def autocast():
        if not precision.enabled:
            return torch.autocast(device.type, enabled=False)
        return torch.autocast(device.type, dtype=precision.dtype)

    def save():
        nonlocal clock
        history.seconds += time.perf_counter() - clock
        clock = time.perf_counter()
        history.snapshots = torch.stack(snapshots) if snapshots else None
        if checkpoint is not None:
            state = _training_state(
                generator, discriminator, opt_g, opt_d, scaler_g, scaler_d, history, settings
            )
            save_checkpoint(state, checkpoint)

    step = start
    try:
        with tqdm(total=steps, initial=start, desc="GAN", unit="step", disable=not progress) as bar:
            for step in range(start, steps):
                rng = _step_generator(seed, step)
                for i in range(d_steps):
                    epoch, index = divmod(step * d_steps + i, per_epoch)
                    if epoch != order_epoch:
                        order = torch.randperm(len(real), generator=_epoch_generator(seed, epoch))
                        order_epoch = epoch
                    x = _batch(real, order[index * batch_size : (index + 1) * batch_size], device)
                    z = torch.randn(batch_size, generator.latent, generator=rng).to(device)
                    with torch.no_grad(), autocast():
                        fake = generator(z)
                    with autocast():
                        logits_real = discriminator(x).float()
                        logits_fake = discriminator(fake).float()
                    loss_d = discriminator_loss(logits_real, logits_fake)
                    opt_d.zero_grad(set_to_none=True)
                    scaler_d.scale(loss_d).backward()
                    scaler_d.step(opt_d)
                    scaler_d.update()

                z = torch.randn(batch_size, generator.latent, generator=rng).to(device)
                discriminator.requires_grad_(False)  # G's step needs no gradients for D
                with autocast():
                    logits = discriminator(generator(z)).float()
                discriminator.requires_grad_(True)
                loss_g = generator_loss(logits, loss)
                opt_g.zero_grad(set_to_none=True)
                scaler_g.scale(loss_g).backward()
                scaler_g.step(opt_g)
                scaler_g.update()

                with torch.no_grad():
                    sums += torch.stack(
                        [
                            loss_d.detach(),
                            loss_g.detach(),
                            torch.sigmoid(logits_real).mean(),
                            torch.sigmoid(logits_fake).mean(),
                        ]
                    )
                counted += 1
                history.steps_done = step + 1
                bar.update()
                if counted == log_every or step + 1 == steps:
                    means = (sums / counted).tolist()
                    history.step.append(step + 1)
                    for name, value in zip(
                        ("loss_d", "loss_g", "d_real", "d_fake"), means, strict=True
                    ):
                        getattr(history, name).append(value)
                    sums.zero_()
                    counted = 0
                    bar.set_postfix(loss_d=f"{means[0]:.3g}", loss_g=f"{means[1]:.3g}")
                if (step + 1) % snapshot_every == 0 or step + 1 == steps:
                    snapshots.append(_snapshot(generator, fixed_codes))
                    history.snapshot_steps.append(step + 1)
                if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                    save()
    except KeyboardInterrupt:
        history.interrupted = True
        history.steps_done = step
    history.seconds += time.perf_counter() - clock
    history.snapshots = torch.stack(snapshots) if snapshots else None
    generator.eval()
    discriminator.eval()
    return history


def discriminator_loss(logits_real, logits_fake):
    """D's loss from its logits on real and on generated images (each ``(N,)``): the binary
    cross-entropy ``-log D(x) - log(1 - D(G(z)))``, each term a batch mean."""
    ones, zeros = torch.ones_like(logits_real), torch.zeros_like(logits_fake)
    return F.binary_cross_entropy_with_logits(
        logits_real, ones
    ) + F.binary_cross_entropy_with_logits(logits_fake, zeros)


def generator_loss(logits, loss="non-saturating"):
    """G's loss from D's logits on generated images ``(N,)``: ``"non-saturating"`` is
    ``-log D(G(z))``, ``"minimax"`` the game's own ``log(1 - D(G(z)))``, each a batch mean."""
    if loss == "non-saturating":
        return F.softplus(-logits).mean()  # -log sigmoid(l)
    if loss == "minimax":
        return -F.softplus(logits).mean()  # log(1 - sigmoid(l))
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


@torch.no_grad()
def sample(generator, n, *, seed=0, batch_size=500):
    """``n`` outputs of ``generator`` (in eval mode) for codes drawn from ``N(0, I)`` with
    ``seed``: images ``(n, C, H, W)`` in 0..1 or points ``(n, dim)``, on the CPU."""
    _check_count("n", n)
    _check_generator(generator)
    generator.eval()
    device = next(generator.parameters()).device
    codes = torch.randn(n, generator.latent, generator=torch.Generator().manual_seed(seed))
    return torch.cat(
        [
            generator(codes[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, n, batch_size)
        ]
    )


@torch.no_grad()
def interpolate(generator, z0, z1, steps=8):
    """Walk in a straight line from code ``z0`` to code ``z1`` (each ``(latent,)``): the
    generator's outputs at ``steps`` evenly spaced points, ``(steps, C, H, W)``, both ends included.
    """
    _check_generator(generator)
    _check_count("steps", steps)
    for name, z in (("z0", z0), ("z1", z1)):
        if not isinstance(z, torch.Tensor) or not z.is_floating_point():
            raise TypeError(f"{name} must be a float tensor of shape ({generator.latent},)")
        if tuple(z.shape) != (generator.latent,):
            raise ValueError(
                f"{name} must be one code of shape ({generator.latent},), got {tuple(z.shape)}"
            )
    generator.eval()
    device = next(generator.parameters()).device
    t = torch.linspace(0, 1, steps)[:, None]
    codes = (1 - t) * z0.cpu().float() + t * z1.cpu().float()
    return generator(codes.to(device)).float().cpu()


def toy_mixture(n, *, modes=8, radius=2.0, std=0.05, seed=0):
    """``n`` points ``(n, 2)`` from a mixture of ``modes`` Gaussians (standard deviation ``std``)
    whose centres sit evenly on a circle of ``radius``, each equally likely: the toy data of the
    GAN chapter, on which a collapsed generator visibly covers only some of the modes."""
    _check_count("n", n)
    _check_count("modes", modes)
    for name, value in (("radius", radius), ("std", std)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    rng = torch.Generator().manual_seed(seed)
    which = torch.randint(modes, (n,), generator=rng)
    return mode_centres(modes, radius)[which] + std * torch.randn(n, 2, generator=rng)


def mode_centres(modes=8, radius=2.0):
    """The centres ``(modes, 2)`` of :func:`toy_mixture`'s Gaussians."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def mode_coverage(points, *, modes=8, radius=2.0, std=0.05, within=3.0, min_share=0.01):
    """Count which of :func:`toy_mixture`'s modes the ``points`` ``(N, 2)`` cover.

    A point belongs to a mode when it lies within ``within`` standard deviations of its centre;
    a mode is covered when at least ``min_share`` of all points belong to it. Returns a dict:
    ``counts`` (points per mode), ``covered`` (the number of modes covered) and ``quality``
    (the share of points that belong to some mode).
    """
    if not isinstance(points, torch.Tensor) or points.ndim != 2 or points.shape[1] != 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must be a tensor of shape (N, 2), got {shape}")
    centres = mode_centres(modes, radius)
    distances = torch.cdist(points.float().cpu(), centres)
    nearest = distances.argmin(dim=1)
    close = distances.min(dim=1).values <= within * std
    counts = torch.bincount(nearest[close], minlength=modes)
    return {
        "counts": counts.tolist(),
        "covered": int((counts >= min_share * len(points)).sum()),
        "quality": close.float().mean().item(),
    }


def _snapshot(generator, codes):
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = generator(codes).float().cpu()
    generator.train(was_training)
    return (out * 255).round().clamp(0, 255).to(torch.uint8) if out.ndim == 4 else out


def _batch(real, index, device):
    x = real[index].to(device, non_blocking=True)
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def _step_generator(seed, step):
    """The random generator of one step, from (seed, step); it reseeds the global one too."""
    step_seed = (seed * 1_000_003 + step) % 2**63
    torch.manual_seed(step_seed)
    return torch.Generator().manual_seed(step_seed)


def _epoch_generator(seed, epoch):
    return torch.Generator().manual_seed((seed * 999_983 + epoch + 7_919) % 2**63)


def _training_state(generator, discriminator, opt_g, opt_d, scaler_g, scaler_d, history, settings):
    """What a GAN checkpoint holds: plain tensors and containers only, for weights_only loading.

    ``model`` and ``model_spec`` are the generator's, so that :func:`imgen.pretrained.register`
    and :func:`imgen.checkpoint.model_from_checkpoint` see the generator as the model.
    """
    images_seen = history.steps_done * settings["batch_size"] * settings["d_steps"]
    return {
        "format": "imgen-gan-1",
        "step": history.steps_done,
        "epoch": round(images_seen / settings["train_images"], 3),
        "model": generator.state_dict(),
        "model_spec": model_spec(generator),
        "discriminator": discriminator.state_dict(),
        "discriminator_spec": model_spec(discriminator),
        "optimizer_g": opt_g.state_dict(),
        "optimizer_d": opt_d.state_dict(),
        "scaler_g": scaler_g.state_dict() if scaler_g.is_enabled() else None,
        "scaler_d": scaler_d.state_dict() if scaler_d.is_enabled() else None,
        "history": history.to_dict(),
        "snapshots": history.snapshots,
        "fit_args": settings,
        "torch_version": str(torch.__version__),
    }


def _resume(path, generator, discriminator, opt_g, opt_d, scaler_g, scaler_d, settings):
    """Load a GAN checkpoint into the training objects; returns (history, step)."""
    saved = load_checkpoint(path)
    if saved.get("format") != "imgen-gan-1":
        raise CheckpointError(
            f"{path} is not a GAN checkpoint of train_gan (format {saved.get('format')!r})"
        )
    for role, model, key in (
        ("generator", generator, "model_spec"),
        ("discriminator", discriminator, "discriminator_spec"),
    ):
        spec = model_spec(model)
        if saved[key] is not None and spec is not None and saved[key] != spec:
            raise CheckpointError(
                f"checkpoint {path} holds a {role} that is {describe(saved[key])}, "
                f"not {describe(spec)}"
            )
    changed = [
        f"{name}={saved['fit_args'].get(name)!r} there but {settings[name]!r} here"
        for name in SAME_ON_RESUME
        if saved["fit_args"].get(name) != settings[name]
    ]
    if changed:
        raise ValueError(
            f"cannot resume from {path} with other settings than it was trained with: "
            + "; ".join(changed)
        )
    load_weights(generator, saved["model"], source=path)
    load_weights(discriminator, saved["discriminator"], source=path)
    opt_g.load_state_dict(saved["optimizer_g"])
    opt_d.load_state_dict(saved["optimizer_d"])
    for scaler, key in ((scaler_g, "scaler_g"), (scaler_d, "scaler_d")):
        if saved[key] is not None and scaler.is_enabled():
            scaler.load_state_dict(saved[key])
    history = GanHistory.from_dict(saved["history"], saved.get("snapshots"))
    return history, saved["step"]


def _check_pair(generator, discriminator):
    _check_generator(generator)
    if not isinstance(discriminator, torch.nn.Module) or not hasattr(discriminator, "in_shape"):
        raise TypeError(
            "discriminator must be a network with an in_shape, such as "
            f"imgen.models.DCGANDiscriminator; got {type(discriminator).__name__}"
        )
    if tuple(discriminator.in_shape) != tuple(generator.out_shape):
        raise ValueError(
            f"the generator makes {tuple(generator.out_shape)} but the discriminator judges "
            f"{tuple(discriminator.in_shape)}"
        )


def _check_generator(generator):
    if not isinstance(generator, torch.nn.Module) or not hasattr(generator, "latent"):
        raise TypeError(
            "generator must be a network with a latent size and an out_shape, such as "
            f"imgen.models.DCGANGenerator; got {type(generator).__name__}"
        )


def _unpack(data, shape):
    """The data tensor of an ImageData or a tensor, checked against the generator's output."""
    items = getattr(data, "images", data)
    if not isinstance(items, torch.Tensor):
        raise TypeError(f"data must be an ImageData or a tensor, got {type(data).__name__}")
    if tuple(items.shape[1:]) != shape or len(items) == 0:
        raise ValueError(
            f"data must be shaped (N, {', '.join(map(str, shape))}) like the generator's output, "
            f"got {tuple(items.shape)}"
        )
    if len(shape) == 3:
        check_pixels(items, "data")
    elif not items.is_floating_point():
        raise TypeError(f"data points must be floats, got {items.dtype}")
    return items


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
