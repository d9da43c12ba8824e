"""How fast the autoencoders train on this machine, and (with --mnist) how well.

    python benchmarks/model_speed.py                 # training images/s, side by side
    python benchmarks/model_speed.py --mnist         # also: a quick MNIST test MSE per model
    python benchmarks/model_speed.py --amp           # each model in float32 and bf16 autocast

Speed: one training step is forward + backward + Adam step on a batch of random images. Each of
``--repeats`` rounds times every model in turn for at least ``--seconds``; the table gives the
median images/s and the median of the per-round ratios to the deep model. The CPU may be shared,
so compare ratios within one run rather than absolute numbers across runs.

MNIST: reads the IDX files itself (gzip + numpy) from ``--mnist-dir``, trains each model from the
same seed on the first ``--train`` images for ``--epochs`` epochs and reports the MSE on the first
``--test`` test images.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from imgen.models import build_model
from imgen.train import memory_format

SHAPES = {"MNIST": (1, 28, 28), "CIFAR": (3, 32, 32)}


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def training_step(model, shape, batch, bf16=False):
    """One training step on a fixed batch of random images: forward, MSE, backward, Adam, in the
    memory layout :func:`imgen.train.fit` uses; ``bf16``: the forward pass under CPU bfloat16
    autocast, as ``fit(amp=True)`` runs it."""
    layout = memory_format(torch.device("cpu"), model)  # as fit lays them out
    model.to(memory_format=layout)
    images = torch.rand(batch, *shape).contiguous(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            outputs = model(images)
        nn.functional.mse_loss(outputs.float(), images).backward()
        optimizer.step()

    step()  # warm-up: allocations and kernel choice
    return step


def images_per_second(step, batch, min_seconds):
    """Run ``step`` for at least ``min_seconds`` (and at least once); return images/s."""
    steps, start = 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - start < min_seconds:
        step()
        steps += 1
    return batch * steps / (time.perf_counter() - start)


def read_idx_images(path, limit):
    """The first ``limit`` images of an IDX file as floats in 0..1, shaped (N, 1, 28, 28)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    count, rows, cols = np.frombuffer(data, dtype=">i4", count=3, offset=4)
    count = min(int(count), limit)
    pixels = np.frombuffer(data, dtype=np.uint8, count=count * rows * cols, offset=16)
    return torch.from_numpy(pixels.reshape(count, 1, rows, cols).astype(np.float32) / 255)


def mnist_test_mse(model, train, test, epochs, batch, seed):
    """Train with Adam on MSE, inputs = targets; return the mean test MSE and seconds taken."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(train), generator=generator).split(batch):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(train[index]), train[index]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        errors = [nn.functional.mse_loss(model(x), x, reduction="sum") for x in test.split(500)]
    return float(sum(errors)) / test.numel(), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["basic", "deep", "conv"])
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--width", type=int, help="width of the 'conv' model (default: its own)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=2.0, help="least time per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--amp", action="store_true", help="time each model in bf16 autocast too (NAME+bf16)"
    )
    parser.add_argument("--mnist", action="store_true", help="also train briefly on MNIST")
    parser.add_argument("--mnist-dir", type=Path, default=Path("/work/shared/data/MNIST/raw"))
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    def build(name, shape):
        torch.manual_seed(args.seed)
        extra = {"width": args.width} if name == "conv" and args.width else {}
        return build_model(name, in_shape=shape, latent=args.latent, **extra)

    print(f"training images/s: batch {args.batch}, latent {args.latent}, {args.threads} threads;")
    print(f"median of {args.repeats} rounds, each timing every model for >= {args.seconds} s")
    print(f"{'model':11} {'data':6} {'params':>10} {'images/s':>10} {'vs deep':>8}")
    variants = [(name, False) for name in args.models]
    variants += [(name, True) for name in args.models] if args.amp else []
    for data, shape in SHAPES.items():
        models = {name + ("+bf16" if bf16 else ""): build(name, shape) for name, bf16 in variants}
        steps = {
            label: training_step(model, shape, args.batch, bf16=label.endswith("+bf16"))
            for label, model in models.items()
        }
        # Rounds interleave the models, so a busy spell on a shared CPU hits them all alike.
        rates = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, step in steps.items():
                rates[name].append(images_per_second(step, args.batch, args.seconds))
        for name, model in models.items():
            ratio = ""
            if "deep" in rates:
                per_round = [a / b for a, b in zip(rates[name], rates["deep"], strict=True)]
                ratio = f"{statistics.median(per_round):.1f}x"
            rate = statistics.median(rates[name])
            print(f"{name:11} {data:6} {parameter_count(model):>10,} {rate:>10.0f} {ratio:>8}")

    if args.mnist:
        train = read_idx_images(args.mnist_dir / "train-images-idx3-ubyte.gz", args.train)
        test = read_idx_images(args.mnist_dir / "t10k-images-idx3-ubyte.gz", args.test)
        print(f"\nMNIST: {len(train)} train, {len(test)} test images, {args.epochs} epochs,")
        print(f"batch {args.batch}, Adam lr 1e-3, latent {args.latent}")
        print(f"{'model':8} {'test MSE':>10} {'seconds':>8}")
        for name in args.models:
            model = build(name, SHAPES["MNIST"])
            mse, seconds = mnist_test_mse(model, train, test, args.epochs, args.batch, args.seed)
            print(f"{name:8} {mse:>10.4f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
