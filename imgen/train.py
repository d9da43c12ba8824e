"""Train a model with one loop read top to bottom (:func:`fit`) and score it (:func:`evaluate`).

Batches come straight from the in-memory image tensor (``(N, C, H, W)``, ``uint8`` or float in
0..1): shuffle the indices, index the tensor, convert to floats in 0..1, move to the device. The
loss is the mean squared error over all pixels for the autoencoder tasks and cross-entropy for a
classifier; the optimiser is Adam. On a CUDA GPU the loop uses mixed precision.

For a variational autoencoder (``task="vae"``) the loss is the negative ELBO of
:func:`imgen.vae.elbo_loss`, with ``beta`` weighing its KL term.

The autoencoder chapter teaches :func:`fit`; the CNN-basics chapter trains its classifier with it,
the variational autoencoder chapter its VAEs.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from imgen.checkpoint import (
    CheckpointError,
    describe,
    load_checkpoint,
    load_weights,
    model_spec,
    save_checkpoint,
)
from imgen.occlusion import KINDS, occlude
from imgen.vae import elbo_loss

TASKS = ("reconstruct", "complete", "classify", "vae")
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
SCHEDULES = ("constant", "cosine", "onecycle")
# "flip" mirrors a random half of every training batch left to right: right for faces, photos
# and fruit, wrong for digits (a mirrored 3 is no digit).
AUGMENTS = ("none", "flip")
# "adam" (AdamW when weight_decay > 0) or "adamax" (Adam with the infinity norm, which article D's
# code used for its latent-32 reconstructions, with Keras' epsilon). Adam keeps torch's epsilon.
OPTIMIZERS = ("adam", "adamax")
KERAS_EPSILON = 1e-7
# The random occlusions need a size; these hide half (any side, pixels) or a quarter (rectangle).
RANDOM_OCCLUSIONS = {
    "any-side": {"fraction": 0.5},
    "rectangle": {"height": 0.5, "width": 0.5},
    "pixels": {"fraction": 0.5},
}
# Settings that must not change when a run is resumed, or it would not be the same run.
SAME_ON_RESUME = (
    "task",
    "batch_size",
    "lr",
    "seed",
    "occlusion",
    "weight_decay",
    "schedule",
    "augment",
    "optimizer",
    "train_images",
    "precision",
    "beta",
)


@dataclass
class History:
    """What :func:`fit` did: one entry per completed epoch in each list.

    ``train_loss`` is the mean loss over the epoch's batches, ``val_loss`` (and, for a
    classifier, ``val_accuracy``) the score on ``val`` after the epoch, ``seconds`` the epoch's
    wall time, ``lr`` the learning rate at its end. ``interrupted`` is True when Ctrl-C stopped
    training early.
    """

    task: str = "reconstruct"
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epochs_done: int = 0
    interrupted: bool = False

    def plot(self, ax=None):
        """Draw the training and validation loss per epoch (log scale); returns the axes."""
        import matplotlib.pyplot as plt  # only plotting needs it: importing imgen stays light

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        epochs = range(1, len(self.train_loss) + 1)
        ax.plot(epochs, self.train_loss, marker=".", label="training")
        if self.val_loss:
            ax.plot(epochs, self.val_loss, marker=".", label="validation")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ylabels = {"classify": "cross-entropy", "vae": "negative ELBO per image"}
        ax.set_ylabel(ylabels.get(self.task, "mean squared error"))
        ax.legend()
        return ax

    def to_dict(self):
        """The history as plain lists and numbers (for checkpoints and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """The inverse of :meth:`to_dict`."""
        return cls(**data)


class AmpSettings(NamedTuple):
    """Mixed precision: whether it is on, the autocast dtype, and whether to scale the loss."""

    enabled: bool
    dtype: torch.dtype | None
    use_scaler: bool


def select_device(device="auto"):
    """The ``torch.device`` to train on: ``"auto"`` picks CUDA, then Apple MPS, then the CPU.

    ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or a ``torch.device`` ask for one; asking for a
    device this machine does not have raises ``RuntimeError``.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cuda", "mps", "cpu"):
        raise ValueError(
            f"device must be 'auto', 'cuda', 'mps', 'cpu' or a torch.device, got {device!r}"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {str(device)!r} was asked for, but PyTorch finds no CUDA GPU on this "
            "machine; use device='auto' or 'cpu'"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(
            "device 'mps' was asked for, but Apple's MPS is not available on this machine; "
            "use device='auto' or 'cpu'"
        )
    return device


def amp_settings(device, amp=None, *, bf16_supported=None):
    """Decide mixed precision for ``device``: returns :class:`AmpSettings`.

    ``amp=None`` turns it on for CUDA only; ``amp=False`` turns it off. On CUDA it autocasts to
    bfloat16 where the GPU supports it (``bf16_supported``, asked of the GPU when None), else to
    float16 with a gradient scaler. ``amp=True`` on the CPU autocasts to bfloat16, which only a
    CPU with bfloat16 instructions (AVX512-BF16 or AMX; ``bf16_supported``, asked of the CPU when
    None) runs fast: there the article's deep model trains about 1.8x faster
    (``benchmarks/model_speed.py --amp``). It is opt-in, because the numbers differ slightly from
    float32. Pure apart from those questions, so it is testable anywhere.
    """
    device = torch.device(device)
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return AmpSettings(enabled=False, dtype=None, use_scaler=False)
    if device.type == "cpu":
        if bf16_supported is None:
            bf16_supported = cpu_supports_bf16()
        if not bf16_supported:
            raise ValueError(
                "amp=True on the CPU needs bfloat16 instructions (AVX512-BF16 or AMX), which "
                "this CPU lacks; train in float32 (amp=None, or no --amp)"
            )
        return AmpSettings(enabled=True, dtype=torch.bfloat16, use_scaler=False)
    if device.type != "cuda":
        raise ValueError(
            f"amp=True needs a CUDA device or a CPU, got {device}; leave amp=None for 'auto'"
        )
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if bf16_supported:
        return AmpSettings(enabled=True, dtype=torch.bfloat16, use_scaler=False)
    return AmpSettings(enabled=True, dtype=torch.float16, use_scaler=True)


def cpu_supports_bf16():
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), for ``amp=True``."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def fit(
    model,
    train,
    val=None,
    *,
    task="reconstruct",
    epochs=1,
    batch_size=128,
    lr=1e-3,
    device="auto",
    seed=0,
    occlusion="bottom",
    checkpoint=None,
    resume=False,
    weight_decay=0.0,
    schedule="constant",
    progress=True,
    amp=None,
    max_steps=None,
    augment="none",
    beta=1.0,
    optimizer="adam",
):
    """Train ``model`` on ``train`` and return its :class:`History`.

    ``train`` and ``val`` are :class:`imgen.data.ImageData` or image tensors ``(N, C, H, W)``,
    ``uint8`` (0..255) or float (0..1). Tasks: ``"reconstruct"`` (input = target = the image),
    ``"complete"`` (input = the image hidden by :func:`imgen.occlusion.occlude` with ``occlusion``,
    a kind or a dict ``{"kind": ..., **options}``; target = the whole image), both scored by the
    mean squared error; ``"classify"`` (cross-entropy on the labels; ``val`` gives accuracy);
    ``"vae"`` (a variational autoencoder that returns ``(reconstruction, mu, logvar)``, scored by
    :func:`imgen.vae.elbo_loss` with ``beta``: the negative ELBO per image, reconstruction plus
    ``beta`` times KL; ``val`` is scored with the codes' means).

    ``optimizer`` "adam" (AdamW when ``weight_decay`` > 0) or "adamax" at ``lr``, kept
    ``"constant"`` or annealed per step by ``"cosine"`` or ``"onecycle"``. Each epoch's
    shuffling, occlusion and dropout depend only on ``(seed, epoch)``: the loop reseeds torch's
    global generator at every epoch. ``max_steps``
    stops after that many optimiser steps in all (for smoke tests). ``augment="flip"`` mirrors
    a random half of each training batch left to right (drawn from the same per-epoch seed): a
    second, equally likely view of a face or a photo, which slows overfitting on small sets.

    ``checkpoint``: a path written atomically after every epoch (see :mod:`imgen.checkpoint`).
    ``resume=True`` continues from it to ``epochs`` epochs in all, exactly as if never stopped;
    with no file there yet it starts afresh. Ctrl-C stops cleanly: the model keeps the weights of
    its last step, the history of the completed epochs comes back with ``interrupted=True``, and
    the checkpoint holds the last completed epoch (resuming repeats the interrupted one).

    ``amp``: mixed precision, see :func:`amp_settings` (None: on for CUDA, off on the CPU).
    The model moves to the device (see :func:`select_device`) and ends in eval mode.
    """
    _check_choice("task", task, TASKS)
    _check_choice("schedule", schedule, SCHEDULES)
    _check_choice("augment", augment, AUGMENTS)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    if optimizer == "adamax" and weight_decay:
        raise ValueError("weight_decay is for optimizer='adam' (AdamW); adamax takes none")
    for name, value in [("epochs", epochs), ("batch_size", batch_size), ("max_steps", max_steps)]:
        _check_count(name, value, allow_none=name == "max_steps")
    _check_seed(seed)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    if not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}")
    if beta != 1.0 and task != "vae":
        raise ValueError(f"beta weighs the KL term of task='vae', not of task={task!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH, the file to resume from")
    occlusion = _occlusion_spec(occlusion) if task == "complete" else None
    images, labels = _unpack(train, "train", task)
    val_images, val_labels = _unpack(val, "val", task) if val is not None else (None, None)
    if val is not None and val_images.shape[1:] != images.shape[1:]:
        raise ValueError(
            f"val images are {tuple(val_images.shape[1:])} (C, H, W) but train images are "
            f"{tuple(images.shape[1:])}"
        )
    device = select_device(device)
    precision = amp_settings(device, amp)

    layout = memory_format(device, model)
    model.to(device, memory_format=layout)
    optimizer_name = optimizer
    optimizer = _make_optimizer(optimizer_name, model.parameters(), lr, weight_decay)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    total_steps = epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    scheduler = _make_scheduler(optimizer, schedule, lr, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)
    settings = {
        "task": task,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "occlusion": occlusion,
        "weight_decay": weight_decay,
        "schedule": schedule,
        "augment": augment,
        "beta": float(beta),
        "optimizer": optimizer_name,
        "max_steps": max_steps,
        "train_images": len(images),
        "val_images": 0 if val is None else len(val_images),
        "device": str(device),
        "precision": str(precision.dtype if precision.enabled else torch.float32).split(".")[-1],
    }
    history, start = History(task=task), 0
    if resume and Path(checkpoint).exists():
        history, start = _resume(checkpoint, model, optimizer, scheduler, scaler, settings)

    step = start * steps_per_epoch
    try:
        for epoch in range(start, epochs):
            began = time.perf_counter()
            generator = _epoch_generator(seed, epoch)
            order = torch.randperm(len(images), generator=generator)
            model.train()
            loss_sum, seen = torch.zeros((), device=device), 0
            with tqdm(
                total=steps_per_epoch,
                desc=f"epoch {epoch + 1}/{epochs}",
                unit="batch",
                disable=not progress,
            ) as bar:
                for x, y in _batches(images, labels, order, batch_size, device, layout):
                    if augment == "flip":
                        x = _mirror_half(x, generator)
                    inputs, targets = inputs_and_targets(x, y, task, occlusion, generator)
                    with _autocast(device, precision):
                        outputs = model(inputs)
                    loss = _loss(outputs, targets, task, beta=beta)
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    if scheduler is not None:
                        scheduler.step()
                    loss_sum += loss.detach() * len(x)
                    seen += len(x)
                    step += 1
                    bar.update()
                    if bar.n % 20 == 0 or bar.n == steps_per_epoch:
                        bar.set_postfix(loss=f"{loss_sum.item() / seen:.4g}")
                    if step >= total_steps:
                        break
                history.train_loss.append(loss_sum.item() / seen)
                if val is not None:
                    val_loss, val_accuracy = _score(
                        model, val_images, val_labels, task, occlusion, batch_size, device, seed,
                        beta,
                    )
                    history.val_loss.append(val_loss)
                    if task == "classify":
                        history.val_accuracy.append(val_accuracy)
                    bar.set_postfix(loss=f"{history.train_loss[-1]:.4g}", val=f"{val_loss:.4g}")
            history.seconds.append(time.perf_counter() - began)
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.epochs_done = epoch + 1
            if checkpoint is not None:
                state = _training_state(model, optimizer, scheduler, scaler, history, settings)
                save_checkpoint(state, checkpoint)
            if step >= total_steps:
                break
    except KeyboardInterrupt:
        history.interrupted = True
    model.eval()
    return history


def evaluate(
    model, data, *, task="reconstruct", occlusion="bottom", batch_size=512, device="auto", seed=0
):
    """Score ``model`` on all of ``data``: the mean squared error over every pixel, or accuracy.

    For ``task="vae"`` it is the mean squared error of the reconstructions decoded from the
    codes' means, comparable with a plain autoencoder's (:func:`imgen.vae.score` gives the ELBO's
    terms).

    ``data`` is an :class:`imgen.data.ImageData` or an image tensor ``(N, C, H, W)``. For
    ``task="complete"`` the inputs are occluded as in :func:`fit` (random kinds drawn from
    ``seed``) and scored against the originals; for ``"classify"`` it returns the accuracy. The
    mean is exact, not a mean of batch means. The model moves to the device and ends in eval mode.
    """
    _check_choice("task", task, TASKS)
    _check_count("batch_size", batch_size)
    _check_seed(seed)
    occlusion = _occlusion_spec(occlusion) if task == "complete" else None
    images, labels = _unpack(data, "data", task)
    device = select_device(device)
    model.to(device, memory_format=memory_format(device, model))
    if task == "vae":
        model = _Reconstruction(model)
        task = "reconstruct"
    loss, accuracy = _score(model, images, labels, task, occlusion, batch_size, device, seed)
    return accuracy if task == "classify" else loss


class _Reconstruction(nn.Module):
    """A VAE seen as an autoencoder: images to the reconstruction of the code's mean."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, x):
        return self.vae(x)[0]


@torch.no_grad()
def _score(model, images, labels, task, occlusion, batch_size, device, seed, beta=1.0):
    """(mean loss, accuracy or None) over all of ``images``, in full precision."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    loss_sum, correct, values = 0.0, 0, 0
    layout = memory_format(device, model)
    for x, y in _batches(images, labels, None, batch_size, device, layout):
        inputs, targets = inputs_and_targets(x, y, task, occlusion, generator)
        outputs = model(inputs)
        loss_sum += _loss(outputs, targets, task, reduction="sum", beta=beta).item()
        values += outputs.numel() if isinstance(outputs, torch.Tensor) else 0
        if task == "classify":
            correct += (outputs.argmax(dim=1) == targets).sum().item()
    if task == "classify":
        return loss_sum / len(images), correct / len(images)
    if task == "vae":
        return loss_sum / len(images), None
    return loss_sum / values, None  # per value the model gave (3 per pixel for grey, see _loss)


def _batches(images, labels, order, batch_size, device, layout):
    """Yield ``(x, labels or None)`` in ``order`` (None: as stored), ``x`` as floats in 0..1 on
    ``device`` in memory format ``layout``."""
    pin = device.type == "cuda" and images.device.type == "cpu"
    for start in range(0, len(images), batch_size):
        if order is None:
            x = images[start : start + batch_size]
            y = None if labels is None else labels[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            x = images[index]
            y = None if labels is None else labels[index]
        if pin:
            x = x.pin_memory()
            y = None if y is None else y.pin_memory()
        # uint8 travels to the GPU (4x fewer bytes) and becomes float there.
        x = x.to(device, non_blocking=True)
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        x = x.contiguous(memory_format=layout)
        yield x, None if y is None else y.to(device, non_blocking=True)


def _mirror_half(x, generator):
    """``x`` with a random half of its images (drawn from ``generator``) mirrored left-right."""
    mirror = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mirror[:, None, None, None], x.flip(-1), x)


def memory_format(device, model):
    """The memory format :func:`fit` keeps ``model`` and its batches in on ``device``.

    Channels-last ("NHWC") makes convolutions 1.1-1.5x faster on the CPU (oneDNN) and lets
    CUDA use tensor cores; the numbers are the same either way. MPS keeps the default, and so
    does a model without convolutions (the basic autoencoder ran 1.28x slower on CIFAR in
    channels-last: flattening an NHWC batch costs a copy)."""
    if device.type == "mps" or not any(isinstance(m, _CONVOLUTIONS) for m in model.modules()):
        return torch.contiguous_format
    return torch.channels_last


def inputs_and_targets(x, y, task, occlusion, generator):
    """What the model sees and what its output is scored against, for one batch.

    ``x``: images ``(N, C, H, W)`` in 0..1; ``y``: their labels (classifiers only). Reconstruction
    scores ``x`` against itself, a classifier ``x`` against ``y``; completion hides part of each
    image (``occlusion``: a dict with a ``kind`` and its options, random kinds drawn from
    ``generator``) and scores against the whole image. Shown in the inpainting chapter.
    """
    if task == "classify":
        return x, y
    if task == "complete":
        options = dict(occlusion)
        kind = options.pop("kind")
        if kind in RANDOM_OCCLUSIONS:
            options["generator"] = generator
        return occlude(x, kind, **options)[0], x
    return x, x


def _loss(outputs, targets, task, reduction="mean", beta=1.0):
    if task == "vae":
        if not (isinstance(outputs, tuple) and len(outputs) == 3):
            raise ValueError(
                "task='vae' needs a model that returns (reconstruction, mu, logvar), such as "
                f"imgen.models.DenseVAE; the model returned {type(outputs).__name__}"
            )
        recon, mu, logvar = (t.float() for t in outputs)
        total = elbo_loss(recon, targets, mu, logvar, beta).total
        return total * len(targets) if reduction == "sum" else total
    if task == "classify":
        if outputs.ndim != 2 or len(outputs) != len(targets):
            raise ValueError(
                f"a classifier must return scores shaped (N, classes), here N={len(targets)}; "
                f"the model returned {tuple(outputs.shape)}"
            )
        return F.cross_entropy(outputs.float(), targets, reduction=reduction)
    if _grey_against_colour(outputs, targets):
        # Article D's deep model gives 3 channels for 1-channel MNIST; Keras compared the target
        # with each of them, and so do we (the "Reproducing the article" page).
        targets = targets.expand_as(outputs)
    if outputs.shape != targets.shape:
        raise ValueError(
            f"the model returned {tuple(outputs.shape)} but the target images are "
            f"{tuple(targets.shape)}; for task={task!r} it must return images shaped like its input"
        )
    return F.mse_loss(outputs.float(), targets, reduction=reduction)


def _grey_against_colour(outputs, targets):
    """True for 3-channel outputs scored against 1-channel targets of the same size."""
    return (
        outputs.ndim == targets.ndim == 4
        and outputs.shape[1] == 3
        and targets.shape[1] == 1
        and outputs.shape[2:] == targets.shape[2:]
        and len(outputs) == len(targets)
    )


def _autocast(device, precision):
    if not precision.enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=precision.dtype)


def _epoch_generator(seed, epoch):
    """The generator for one epoch's shuffling and occlusion, seeded from (seed, epoch).

    It also reseeds torch's global generator (dropout), so that an epoch's randomness depends
    on nothing else and a resumed run repeats the uninterrupted one exactly.
    """
    epoch_seed = (seed * 1_000_003 + epoch) % 2**63
    torch.manual_seed(epoch_seed)
    return torch.Generator().manual_seed(epoch_seed)


def _make_optimizer(name, parameters, lr, weight_decay):
    if name == "adamax":
        return torch.optim.Adamax(parameters, lr=lr, eps=KERAS_EPSILON)
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)


def _make_scheduler(optimizer, schedule, lr, total_steps):
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    return None


def _training_state(model, optimizer, scheduler, scaler, history, settings):
    """What a checkpoint holds: plain tensors and containers only, for ``weights_only`` loading.

    No random generator state is needed: every epoch reseeds from ``(seed, epoch)``.
    """
    return {
        "format": "imgen-fit-1",
        "epoch": history.epochs_done,
        "model": model.state_dict(),
        "model_spec": model_spec(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        "history": history.to_dict(),
        "fit_args": settings,
        "torch_version": str(torch.__version__),
    }


def _resume(path, model, optimizer, scheduler, scaler, settings):
    """Load the state saved at ``path`` into the training objects; returns (history, epoch)."""
    saved = load_checkpoint(path)
    must_match = SAME_ON_RESUME + (("epochs",) if settings["schedule"] != "constant" else ())
    # Checkpoints written before fit had ``augment`` (``beta``, ``optimizer``) trained without it
    # (at 1, with Adam).
    fit_args = {"augment": "none", "beta": 1.0, "optimizer": "adam", **saved["fit_args"]}
    changed = [
        f"{name}={fit_args.get(name)!r} there but {settings[name]!r} here"
        for name in must_match
        if fit_args.get(name) != settings[name]
    ]
    if changed:
        raise ValueError(
            f"cannot resume from {path} with other settings than it was trained with: "
            + "; ".join(changed)
        )
    spec = model_spec(model)
    if saved["model_spec"] is not None and spec is not None and saved["model_spec"] != spec:
        raise CheckpointError(
            f"checkpoint {path} is for {describe(saved['model_spec'])}, not {describe(spec)}"
        )
    load_weights(model, saved["model"], source=path)
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(saved["scheduler"])
    if saved["scaler"] is not None and scaler.is_enabled():
        scaler.load_state_dict(saved["scaler"])
    return History.from_dict(saved["history"]), saved["epoch"]


def _unpack(data, name, task):
    """The image tensor (and labels, for a classifier) of an ImageData or a tensor, checked."""
    images = getattr(data, "images", data)
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be an ImageData or an image tensor (N, C, H, W), "
            f"got {type(data).__name__}"
        )
    if images.ndim != 4:
        raise ValueError(f"{name} images must be shaped (N, C, H, W), got {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError(f"{name} holds no images (shape {tuple(images.shape)})")
    check_pixels(images, name)
    if task != "classify":
        return images, None
    labels = getattr(data, "labels", None)
    if labels is None:
        raise ValueError(f"task='classify' needs labels: pass {name} as an ImageData with labels")
    if labels.shape != (len(images),) or labels.dtype != torch.int64:
        raise ValueError(
            f"{name} labels must be int64 shaped ({len(images)},), "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )
    return images, labels


def _occlusion_spec(occlusion):
    """``"bottom"`` or ``{"kind": "rectangle", "height": 8, ...}`` as a dict with a ``kind``."""
    spec = {"kind": occlusion} if isinstance(occlusion, str) else occlusion
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in KINDS:
        raise ValueError(
            f"occlusion must be one of {KINDS} (or a dict with a 'kind'), got {occlusion!r}"
        )
    if len(spec) == 1 and kind in RANDOM_OCCLUSIONS:
        return {**spec, **RANDOM_OCCLUSIONS[kind]}
    return dict(spec)


def check_pixels(images, name="data"):
    """Raise unless ``images`` are uint8 (0..255) or floats in 0..1, naming ``name``.

    A strided sample of 256 images catches 0..255 floats without a pass over all the data.
    """
    if images.is_floating_point():
        sample = images[:: max(1, len(images) // 256)]
        low, high = sample.min().item(), sample.max().item()
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} images are floats outside 0..1 (a sample spans {low:.3g}..{high:.3g}); "
                "pass uint8 pixels or floats in 0..1"
            )
    elif images.dtype != torch.uint8:
        raise TypeError(f"{name} images must be uint8 (0..255) or float (0..1), got {images.dtype}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_count(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
