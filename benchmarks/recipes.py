"""Which training recipe lets our ``conv`` model learn faces and photos rather than memorise them?

    IMGEN_DATA=/path/to/data python benchmarks/recipes.py [--data lfw|cifar|mnist]
        [--task reconstruct] [--recipes plain flip-cosine ...] [--latent 32] [--threads 1]

The course's LFW copy has 2,126 training faces; trained on them for the sweep's 280 epochs with
a constant learning rate, ``conv`` overfits (its validation error turns upward long before the
end), and so it does on CIFAR completion. This script trains it with each recipe and prints the
validation error at the end and at its lowest. The validation images are carved from the
*training* split: every fifth person for LFW (labels % 5 == 0, so the faces are of other
people), every fifth image for CIFAR, every sixth digit for MNIST. No test image takes part in
choosing the recipes that the sweep then uses (``imgen.cli.SWEEP_RECIPES``). ``--epochs-scale``
shortens every recipe alike (CIFAR's 30 epochs and MNIST's 10 are 280 LFW epochs' worth of
steps). On MNIST, where ``conv`` does not overfit and was still improving at the end of the
sweep's budget, ``cosine-long`` (three times the steps) and ``wide`` (twice the channels) ask
how much lower a longer or a larger run would go. Not a test: a script that prints figures.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from imgen.cli import SWEEP_EPOCHS
from imgen.data import load_cifar, load_lfw, load_mnist
from imgen.models import ConvAutoencoder
from imgen.train import fit

# name: (epochs, fit options, model width)
RECIPES = {
    "plain": (280, {}, 24),
    "cosine": (280, {"schedule": "cosine"}, 24),
    "flip-cosine": (280, {"schedule": "cosine", "augment": "flip"}, 24),
    "flip-cosine-decay": (280, {"schedule": "cosine", "augment": "flip", "weight_decay": 0.05}, 24),
    "flip-cosine-short": (60, {"schedule": "cosine", "augment": "flip"}, 24),
    "flip-cosine-shorter": (30, {"schedule": "cosine", "augment": "flip"}, 24),
    "flip-cosine-wide": (280, {"schedule": "cosine", "augment": "flip"}, 48),
    "cosine-long": (840, {"schedule": "cosine"}, 24),
    "wide": (280, {}, 48),
}
# The recipes' epochs are LFW's; the sweep gives each data set as many steps (about 4,700).
EPOCH_SCALE = {name: epochs / SWEEP_EPOCHS["lfw"] for name, epochs in SWEEP_EPOCHS.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="lfw", choices=["lfw", "cifar", "mnist"])
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--task", default="reconstruct", choices=["reconstruct", "complete"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    scale = args.epochs_scale * EPOCH_SCALE[args.data]
    if args.data == "lfw":
        images = load_lfw("train")
        held_out = images.labels % 5 == 0  # whole people
    elif args.data == "cifar":
        images = load_cifar("train")
        held_out = torch.arange(len(images)) % 5 == 0
    else:
        images = load_mnist("train")
        held_out = torch.arange(len(images)) % 6 == 0  # 10,000 digits, as many as the test split
    train, val = images.images[~held_out].contiguous(), images.images[held_out].contiguous()
    print(
        f"{images.name} {args.task}, latent {args.latent}: {len(train)} training images, "
        f"{len(val)} validation images held out of the training split, {args.threads} thread(s)\n"
    )
    print("| recipe | epochs | validation MSE (end) | lowest | at epoch | train MSE | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.recipes:
        epochs, options, width = RECIPES[name]
        epochs = max(1, round(epochs * scale))
        torch.manual_seed(0)
        model = ConvAutoencoder(images.shape, args.latent, width=width)
        began = time.perf_counter()
        history = fit(
            model,
            train,
            val,
            task=args.task,
            epochs=epochs,
            device="cpu",
            progress=False,
            **options,
        )
        seconds = time.perf_counter() - began
        val_loss = history.val_loss
        best = min(range(len(val_loss)), key=val_loss.__getitem__)
        print(
            f"| {name} | {epochs} | {val_loss[-1]:.5f} | {val_loss[best]:.5f} | {best + 1} | "
            f"{history.train_loss[-1]:.5f} | {seconds:.0f} |",
            flush=True,
        )
    print(f"\n({math.ceil(len(train) / 128)} steps of 128 images per epoch)")


if __name__ == "__main__":
    main()
