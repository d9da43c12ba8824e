"""Training throughput: ``imgen.train.fit`` on in-memory tensors vs the usual torchvision loop.

    IMGEN_DATA=/path/to/data python benchmarks/fit_vs_dataloader.py [--steps 60] [--repeats 3]
        [--threads 1]

Both sides train the same model (latent 32, batch 128, Adam) for the same number of steps on the
same data set. Two models show where the data pipeline matters: ``basic`` (the article's one-layer
autoencoder, so cheap that feeding it is most of the work) and ``conv`` (our convolutional model,
where the arithmetic dominates):

- ``fit``: :func:`imgen.train.fit` with ``max_steps``; batches are slices of the ``uint8`` tensor
  that :mod:`imgen.data` loaded, turned into floats per batch.
- ``dataloader``: the loop most tutorials write: a torchvision ``Dataset`` (``MNIST`` /
  ``CIFAR10`` reading the same files) with ``transforms.ToTensor()``, a ``DataLoader`` with
  ``shuffle=True``, then forward, MSE, backward, Adam step. Run with ``num_workers=0`` and with
  2 worker processes.

Each round runs every variant in turn (so a busy spell on a shared CPU hits them all alike); the
table gives the median images/s over the rounds and the median per-round ratio of ``fit`` to each.
Not a test: a script that prints figures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from imgen import data, settings
from imgen.models import build_model
from imgen.train import fit

BATCH = 128


class LocalCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 reader without its md5 check (a local copy may be rebuilt) and
    reading only the training batches that are there (the offline copy has two of five)."""

    def __init__(self, root, **kwargs):
        folder = Path(root) / self.base_folder
        self.train_list = [entry for entry in self.train_list if (folder / entry[0]).is_file()]
        self.meta = {**self.meta, "md5": None}  # torchvision then checks only that it exists
        super().__init__(root, **kwargs)

    def _check_integrity(self):
        return True


def torchvision_dataset(name, workdir):
    """The torchvision Dataset for ``name`` over the files in the data folder."""
    root = settings.data_root()
    if name == "mnist":
        # torchvision wants the IDX files extracted next to the archives: work on a copy.
        shutil.copytree(root / "MNIST" / "raw", workdir / "MNIST" / "raw")
        return torchvision.datasets.MNIST(
            workdir, train=True, download=True, transform=transforms.ToTensor()
        )
    return LocalCIFAR10(root, train=True, download=False, transform=transforms.ToTensor())


def run_fit(model_name, images, shape, steps):
    model = build_model(model_name, in_shape=shape, latent=32)
    start = time.perf_counter()
    fit(model, images, epochs=10_000, batch_size=BATCH, max_steps=steps, progress=False,
        device="cpu")
    return steps * BATCH / (time.perf_counter() - start)


def run_dataloader(model_name, dataset, shape, steps, workers):
    torch.manual_seed(0)
    model = build_model(model_name, in_shape=shape, latent=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers,
                        persistent_workers=False)
    start, done = time.perf_counter(), 0
    model.train()
    while done < steps:
        for x, _ in loader:
            loss = torch.nn.functional.mse_loss(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return steps * BATCH / (time.perf_counter() - start)


FIT = "fit (in-memory uint8)"
# label -> DataLoader worker processes (None: imgen.train.fit)
VARIANTS = {FIT: None, "DataLoader, 0 workers": 0, "DataLoader, 2 workers": 2}


def run(model_name, train, dataset, steps, workers):
    """Images/s of one variant: ``fit`` when ``workers`` is None, else the DataLoader loop."""
    if workers is None:
        return run_fit(model_name, train, train.shape, steps)
    return run_dataloader(model_name, dataset, train.shape, steps, workers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--models", nargs="+", default=["basic", "conv"])
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's own); 1 keeps a busy shared CPU from stalling "
        "its thread barrier, which otherwise swamps the difference being measured",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
          f"{args.steps} steps per run, median of {args.repeats} rounds")
    print(f"{'data':8} {'model':6} {'loop':22} {'images/s':>9} {'fit / this':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            train = data.load(name, "train", download=False)
            dataset = torchvision_dataset(name, Path(tmp))
            for model in args.models:
                for workers in VARIANTS.values():  # warm-up: allocator, oneDNN kernels
                    run(model, train, dataset, 5, workers)
                rounds = [
                    {label: run(model, train, dataset, args.steps, workers)
                     for label, workers in VARIANTS.items()}
                    for _ in range(args.repeats)
                ]
                for label in VARIANTS:
                    speed = statistics.median(r[label] for r in rounds)
                    ratio = statistics.median(r[FIT] / r[label] for r in rounds)
                    print(f"{train.name:8} {model:6} {label:22} {speed:9.0f} {ratio:9.2f}x",
                          flush=True)


if __name__ == "__main__":
    main()
