"""How far below the linear baseline does our model get on an article cell, as it grows?

    IMGEN_DATA=/path/to/data python benchmarks/ours_recipe.py --cell lfw/deep/64/complete
        [--widths 16 32 64] [--epochs 12] [--lr 1e-3] [--unfreeze]
        [--json imgen/results/ours_recipe.json]

Our model for issue 14 (:class:`imgen.models.LinearStartAutoencoder`, recipe
:func:`imgen.replicate.recipe_for`) starts as the cell's closed-form linear baseline and learns
convolutional corrections beside it. This script holds out a tenth of the cell's *training*
split (seed 1), fits the baseline on the rest, trains our model there at each width, and prints
the held-out error at the start (the baseline's), after every epoch, and at the end, with the
training error beside it: the measurement behind the recipe and behind any target the table
misses (how the error moves as the model and its training grow, and where it levels off). No
evaluation image takes part. ``--json`` merges the figures into a file; the shipped one,
``imgen/results/ours_recipe.json``, backs what "Reproducing the article" says about them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from imgen import article, replicate, settings
from imgen.checkpoint import write_text
from imgen.train import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", required=True, choices=[cell.id for cell in article.CELLS])
    parser.add_argument("--widths", type=int, nargs="+", help="default: the cell's recipe's")
    parser.add_argument("--epochs", type=int, help="default: the cell's recipe's")
    parser.add_argument("--lr", type=float, help="default: the cell's recipe's")
    parser.add_argument("--unfreeze", action="store_true", help="train the linear maps too")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cell = article.cell(args.cell)
    default = replicate.recipe_for(cell)
    widths = args.widths or [default["width"]]
    epochs, lr = args.epochs or default["epochs"], args.lr or default["lr"]
    train = article.load_splits(cell.data, root=settings.data_root(), download=False).train
    order = torch.from_numpy(np.random.RandomState(1).permutation(len(train)))
    held_out = train.images[order[: len(train) // 10]]
    rest = train.images[order[len(train) // 10 :]]
    print(f"{cell.id}: fitting on {len(rest):,} training images, held out {len(held_out):,}")

    found = []
    for width in widths:
        recipe = replicate.recipe_for(
            cell, {"width": width, "epochs": epochs, "lr": lr, "freeze_linear": not args.unfreeze}
        )
        model = replicate.ours_model(cell, rest, recipe)
        start = evaluate(model, held_out, task=cell.task, occlusion=cell.occlusion)
        began = time.perf_counter()
        history = replicate.fit_ours(model, cell, rest, held_out, recipe, progress=False)
        seconds = time.perf_counter() - began
        end = history.val_loss[-1]
        row = {
            "cell": cell.id, **recipe, "baseline": start, "end": end,
            "lowest": min(history.val_loss), "train": history.train_loss[-1],
            "end / baseline": end / start, "seconds": seconds,
            "val_by_epoch": history.val_loss,
        }
        found.append(row)
        print(
            f"width {width:3d}, {recipe['epochs']} epochs: held-out {start:.5f} -> {end:.5f} "
            f"({end / start:.3f} of the baseline; lowest {row['lowest']:.5f}), train "
            f"{row['train']:.5f}, {seconds:.0f} s", flush=True,
        )
    if args.json:  # merged with the rows already there (same cell and recipe: replaced)
        path = Path(args.json)
        rows = json.loads(path.read_text()) if path.exists() else []
        keys = [(row["cell"], row["width"], row["epochs"], row["lr"], row["freeze_linear"])
                for row in found]
        rows = [row for row in rows if
                (row["cell"], row["width"], row["epochs"], row["lr"], row["freeze_linear"])
                not in keys] + found
        write_text(path, json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
