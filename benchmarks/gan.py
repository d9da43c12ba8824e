"""How long the shipped GANs take to train and to score on this machine.

    python benchmarks/gan.py                  # both shipped configurations
    python benchmarks/gan.py --data mnist     # one of them
    python benchmarks/gan.py --repeats 5 --steps 20

For each shipped generator (``mnist-dcgan``, ``lfw-dcgan``) it rebuilds the networks from the
manifest's configs, and times ``--repeats`` rounds of ``--steps`` GAN steps (one D step and one
G step each, :func:`imgen.gan.train_gan` on the training images, no checkpoint) and of the
scoring (:func:`imgen.scores.score_generator` on the whole test split: the generator's samples
and the real-vs-real halves through the judge, FID, KID, IS-style). It prints the medians:
seconds per step, per epoch and for the manifest's number of steps, beside the training wall
time the manifest measured. The CPU may be shared; the manifest's time was measured on a
contended one, so compare with care.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from imgen import data, gan, pretrained, scores
from imgen.models import build_model

SHIPPED = {"mnist": "mnist-dcgan", "lfw": "lfw-dcgan"}


def step_seconds(entry, train, steps, seed):
    """Seconds per GAN step: the median of one timed round of ``steps`` steps after a warm-up."""
    torch.manual_seed(seed)
    generator = build_model("dcgan-generator", **entry["config"])
    config = dict(entry["config"])
    discriminator = build_model(
        "dcgan-discriminator",
        in_shape=config["out_shape"],
        width=config["width"],
        batch_norm=config["batch_norm"],
    )
    settings = dict(batch_size=entry["batch_size"], seed=seed, device="cpu", progress=False)
    gan.train_gan(generator, discriminator, train, steps=2, **settings)  # warm-up
    began = time.perf_counter()
    gan.train_gan(generator, discriminator, train, steps=steps, **settings)
    return (time.perf_counter() - began) / steps


def scoring_seconds(name, test, judge):
    generator = pretrained.load(name)
    began = time.perf_counter()
    scores.score_generator(generator, test, judge, coverage=True)
    return time.perf_counter() - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(SHIPPED), action="append")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the shipped runs trained
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} rounds, medians")
    for key in args.data or sorted(SHIPPED):
        name = SHIPPED[key]
        entry = pretrained.info(name)
        train = data.load(key, "train")
        test = data.load(key, "test")
        judge = pretrained.load(entry["judge"])
        per_step = statistics.median(
            step_seconds(entry, train, args.steps, args.seed) for _ in range(args.repeats)
        )
        scoring = statistics.median(
            scoring_seconds(name, test, judge) for _ in range(args.repeats)
        )
        per_epoch = per_step * len(train) / entry["batch_size"]
        print(
            f"{name}: {per_step:.3f} s/step, {per_epoch:.0f} s/epoch of {len(train):,} images, "
            f"{per_step * entry['steps'] / 60:.1f} min for its {entry['steps']:,} steps "
            f"(the manifest measured {entry['train_seconds'] / 60:.1f} min); scoring "
            f"{scoring:.1f} s ({entry['scores']['samples']:,} samples and real halves)"
        )


if __name__ == "__main__":
    main()
