"""Does training in bfloat16 on the CPU (``fit(amp=True)``) cost accuracy? Side by side, per seed.

    IMGEN_DATA=../shared/data python benchmarks/amp_quality.py            # deep model, 2 seeds
    IMGEN_DATA=../shared/data python benchmarks/amp_quality.py --model conv --seeds 0 1 2

For each seed, the same initial weights (``torch.manual_seed(seed)`` before building the model)
are trained twice with :func:`imgen.train.fit` on the first ``--train`` MNIST training digits,
once in float32 and once under CPU bfloat16 autocast, and scored in float32 on ``--test`` test
digits. It prints each run's test MSE and seconds, the bf16 / float32 ratios per seed and their
medians. Differences between seeds show how much of the bf16 difference is noise. Needs a CPU
with bfloat16 instructions (AVX512-BF16 or AMX) to be fast; elsewhere ``fit`` refuses ``amp``.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from imgen import data
from imgen.models import build_model
from imgen.train import evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deep")
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train = data.load("mnist", "train").subset(args.train, 0)
    test = data.load("mnist", "test").subset(args.test, 0)
    print(f"{args.model} model, latent {args.latent}: {len(train)} training digits, "
          f"{args.epochs} epochs, batch 128, {args.threads} threads; "
          f"MSE on {len(test)} test digits")
    print(f"{'seed':>4} {'float32 MSE':>12} {'bf16 MSE':>10} {'MSE ratio':>10} {'speed-up':>9}")
    mse_ratios, speedups = [], []
    for seed in args.seeds:
        result = {}
        for amp in (False, True):
            torch.manual_seed(seed)
            model = build_model(args.model, in_shape=train.shape, latent=args.latent)
            history = fit(model, train, epochs=args.epochs, seed=seed, amp=amp or None,
                          device="cpu", progress=False)
            result[amp] = (evaluate(model, test, device="cpu"), sum(history.seconds))
        (mse32, s32), (mse16, s16) = result[False], result[True]
        mse_ratios.append(mse16 / mse32)
        speedups.append(s32 / s16)
        print(f"{seed:>4} {mse32:>12.5f} {mse16:>10.5f} {mse_ratios[-1]:>10.2f} "
              f"{speedups[-1]:>8.2f}x")
    print(f"median MSE ratio (bf16 / float32) {statistics.median(mse_ratios):.2f}, "
          f"median speed-up {statistics.median(speedups):.2f}x")


if __name__ == "__main__":
    main()
