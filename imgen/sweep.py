"""The sweep: the article's model and ours trained for every cell of the article's table.

:data:`SWEEP_CELLS` are the blog's 19 cells (from :data:`imgen.article.CELLS`); for each,
:func:`run` trains the article's model as the blog's text describes it and our ``conv`` model
(one ``python -m imgen train`` command each, :func:`train_argv`), appends one row per run to
``course_sweep.csv`` and rewrites ``course_sweep.md`` (:func:`sweep_report`) beside it. The
command line's ``sweep`` is its front end. This is the course's first reading of the table
(the blog's text, the course's own crops and splits); the table the chapters quote, on the
protocol of the article's code, is :mod:`imgen.replicate`'s ``sweep.md``.
"""

from __future__ import annotations

import csv
import json
import shlex
import sys
from typing import NamedTuple

from imgen import article
from imgen.checkpoint import write_csv
from imgen.checkpoint import write_text as _write_text


class Cell(NamedTuple):
    """One row of the article's results table: its model's test MSE on a data set and task."""

    data: str
    model: str
    latent: int
    task: str
    article_mse: float

    @property
    def id(self):
        return f"{self.data}/{self.model}/{self.latent}/{self.task}"


# Article D's table as its blog prints it (model, latent and value as labelled there; what its
# code really ran is in imgen.article). "cifar" is CIFAR-100.
SWEEP_CELLS = tuple(
    Cell(c.data, c.blog_model, c.blog_latent, c.task, c.blog_mse) for c in article.CELLS
)

ARTICLE_DATA_NAMES = {"mnist": "MNIST", "lfw": "LFW", "cifar": "CIFAR-100"}
OUR_MODEL = "conv"
# The article gives no epochs. Every data set gets about 4,700 Adam steps of 128 images: 10
# epochs of MNIST's 60,000, 30 of the 20,000-image CIFAR copy, 280 of the LFW subset's 2,126 faces.
# (With fewer steps on the small sets, every model stopped far from converged.) The article's deep
# model trains at ~150 images/s on one CPU thread, so each of its runs takes about an hour here.
SWEEP_EPOCHS = {"mnist": 10, "lfw": 280, "cifar": 30}
# The basic model is a linear map, which Adam brings only slowly to its optimum (the principal
# component subspace); it costs almost nothing, so it gets five times the epochs.
SWEEP_EPOCH_FACTOR = {"basic": 5}
SWEEP_SETTINGS = {"batch_size": 128, "lr": 1e-3, "seed": 0, "occlusion": "bottom"}
# Our model's own recipe where the plain one overfits; the article's models keep plain Adam at a
# constant rate. On LFW's 2,126 faces and in CIFAR completion, ``conv`` learned the training
# images by heart (its validation error turned upward long before the end). Mirroring half of
# each batch and annealing the rate cured most of it; LFW completion, where overfitting set in
# within a few hundred steps, also trains for fewer epochs. Chosen on validation images held out
# of the *training* split (``benchmarks/recipes.py``), so the test split chose nothing.
SWEEP_RECIPES = {
    ("lfw", "reconstruct"): {"augment": "flip", "schedule": "cosine"},
    ("lfw", "complete"): {"augment": "flip", "schedule": "cosine", "epochs": 60},
    ("cifar", "complete"): {"augment": "flip", "schedule": "cosine"},
}
QUICK = {"subset": 64, "test_subset": 32, "epochs": 1}
SWEEP_COLUMNS = (
    "data",
    "article_model",
    "dataset_used",
    "model",
    "latent",
    "task",
    "article_mse",
    "our_mse",
    "epochs",
    "train_images",
    "seconds",
    "device",
    "date",
    "command",
)


def run(only, models, out, tables, options, train):
    """Train and score the article's model and ours for each cell of :data:`SWEEP_CELLS` whose
    id starts with one of ``only`` (all when empty), skipping runs already in
    ``tables/course_sweep.csv``; rewrite ``tables/course_sweep.md``. Returns 0, or the first
    failing status.

    ``models`` limits the models trained (None: the article's and ours); runs and their
    checkpoints go under ``out/runs/``; ``options`` are :func:`train_argv`'s keyword arguments;
    ``train(argv)`` runs one ``train`` command line and returns its exit status.
    """
    cells = [cell for cell in SWEEP_CELLS if _selected(cell, only)]
    if not cells:
        raise ValueError(f"--only {only} matches no cell; cells are like {SWEEP_CELLS[0].id}")
    runs = [
        (cell, model)
        for cell in cells
        for model in (cell.model, OUR_MODEL)
        if not models or model in models
    ]
    for number, (cell, model) in enumerate(runs, 1):
        # Re-read before each run: another sweep (say, --only lfw beside --only mnist) may have
        # added rows since; each writes only its own rows into what is on disk now.
        rows = _read_rows(tables / "course_sweep.csv")
        if _row_key(cell, model) in rows:
            continue
        # Ours is trained once for cells that share data, latent and task; its row is copied.
        row = _same_run(rows, cell, model)
        if row is None:
            print(f"[{number}/{len(runs)}] {cell.id}: training {model}", file=sys.stderr)
            status = train(train_argv(cell, model, out, **options))
            if status != 0:
                return status
            metrics = json.loads((_run_folder(out, cell, model) / "metrics.json").read_text())
            row = _sweep_row(cell, model, metrics)
        row = {**row, "article_model": cell.model, "article_mse": cell.article_mse}
        rows = _read_rows(tables / "course_sweep.csv")
        rows[_row_key(cell, model)] = {key: str(value) for key, value in row.items()}
        _write_rows(tables / "course_sweep.csv", rows.values())
        _write_text(tables / "course_sweep.md", sweep_report(rows))
    rows = _read_rows(tables / "course_sweep.csv")
    _write_text(tables / "course_sweep.md", sweep_report(rows))
    print(f"{tables / 'course_sweep.md'}: {len(rows)} runs")
    return 0


def sweep_report(rows):
    """``course_sweep.md``: the article's test MSE beside ours for every cell, with the ratios."""
    lines = [
        "# Test MSE: the article's numbers beside ours",
        "",
        "Mean squared error per pixel (pixels in 0..1) on the whole test split. *ratio* is ours "
        "divided by the article's: below 1, our error is lower. *same model* is the article's "
        f"model trained here; `{OUR_MODEL}` is our convolutional autoencoder. Made by "
        "`python -m imgen sweep`; every run's command is in `course_sweep.csv`.",
        "",
        f"| data | latent | task | article's model | article | same model | ratio | "
        f"`{OUR_MODEL}` | ratio |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for cell in SWEEP_CELLS:
        same, ours = rows.get(_row_key(cell, cell.model)), rows.get(_row_key(cell, OUR_MODEL))
        name = ARTICLE_DATA_NAMES[cell.data]
        used = (same or ours or {}).get("dataset_used", name)
        if used != name:
            name += f" (ran on {used})"
        lines.append(
            f"| {name} | {cell.latent} | {cell.task} | {cell.model} | {cell.article_mse:g} | "
            f"{_mse(same)} | {_ratio(same, cell)} | {_mse(ours)} | {_ratio(ours, cell)} |"
        )

    # One entry per training budget; a model that ran on one data set with more than one budget
    # (our model's recipes) is named with its task, so each budget reads unambiguously.
    def budget(row):
        return int(row["epochs"]), row["train_images"], row["device"]

    budgets = {}
    for row in rows.values():
        budgets.setdefault((row["data"], row["model"]), set()).add(budget(row))
    runs = {}
    for row in rows.values():
        several = len(budgets[row["data"], row["model"]]) > 1
        runs.setdefault((row["data"], *budget(row)), set()).add(
            f"{row['model']} {row['task']}" if several else row["model"]
        )
    trained = [
        f"{ARTICLE_DATA_NAMES[name]} {', '.join(sorted(models))}: {_epochs(epochs)} of "
        f"{images} images on {device}"
        for (name, epochs, images, device), models in sorted(runs.items())
    ]
    lines += ["", "Runs: " + "; ".join(trained) + "." if trained else "No runs yet."]
    recipes = {}
    for row in rows.values():
        recipe = _recipe(row["command"])
        if recipe:
            name = f"{ARTICLE_DATA_NAMES[row['data']]} {row['model']} {row['task']}"
            recipes.setdefault(recipe, set()).add(name)
    if recipes:
        each = [f"{', '.join(sorted(names))}: `{recipe}`" for recipe, names in recipes.items()]
        lines += ["", "Trained with more than Adam at a constant rate: " + "; ".join(each) + "."]
    return "\n".join(lines) + "\n"


def _recipe(command):
    """The options of a recorded ``train`` command beyond plain Adam at a constant rate."""
    argv = shlex.split(command)
    plain = {"--schedule": "constant", "--augment": "none", "--weight-decay": "0.0"}
    return " ".join(
        f"{option} {argv[argv.index(option) + 1]}"
        for option, default in plain.items()
        if option in argv and argv[argv.index(option) + 1] != default
    )


def _same_run(rows, cell, model):
    """A row of ``rows`` that ran ``model`` with ``cell``'s data, latent and task, or None."""
    for row in rows.values():
        if (row["data"], row["model"], row["latent"], row["task"]) == (
            cell.data,
            model,
            str(cell.latent),
            cell.task,
        ):
            return row
    return None


def _sweep_row(cell, model, metrics):
    """The ``course_sweep.csv`` row of one run, from its ``metrics.json``."""
    return {
        "data": cell.data,
        "dataset_used": metrics["dataset"],
        "model": model,
        "latent": cell.latent,
        "task": cell.task,
        "our_mse": metrics["test_mse"],
        "epochs": metrics["epochs"],
        "train_images": metrics["train_images"],
        "seconds": round(metrics["train_seconds"], 1),
        "device": metrics["device"],
        "date": metrics["date"],
        "command": metrics["command"],
    }


def _run_folder(out, cell, model):
    return out / "runs" / f"{cell.data}-{model}-{cell.latent}-{cell.task}"


def train_argv(
    cell,
    model,
    out,
    *,
    quick=False,
    epochs_scale=1.0,
    device="auto",
    no_progress=False,
    no_amp=False,
    amp=False,
):
    """The ``train`` command line of one sweep run (``course_sweep.csv`` records it too)."""
    factor = SWEEP_EPOCH_FACTOR.get(model, 1)
    recipe = dict(SWEEP_RECIPES.get((cell.data, cell.task), {})) if model == OUR_MODEL else {}
    epochs = recipe.pop("epochs", SWEEP_EPOCHS[cell.data])
    epochs = max(1, round(epochs * factor * epochs_scale))
    options = {
        "--data": cell.data,
        "--model": model,
        "--latent": cell.latent,
        "--task": cell.task,
        "--occlusion": SWEEP_SETTINGS["occlusion"],
        "--epochs": QUICK["epochs"] if quick else epochs,
        "--batch-size": SWEEP_SETTINGS["batch_size"],
        "--lr": SWEEP_SETTINGS["lr"],
        "--seed": SWEEP_SETTINGS["seed"],
        **{f"--{option.replace('_', '-')}": value for option, value in recipe.items()},
        "--out": _run_folder(out, cell, model),
        "--device": device,
    }
    if quick:
        options.update({"--subset": QUICK["subset"], "--test-subset": QUICK["test_subset"]})
    flags = ["--resume"]
    flags += ["--no-progress"] if no_progress else []
    flags += ["--no-amp"] if no_amp else []
    flags += ["--amp"] if amp else []
    return ["train", *(str(part) for option in options.items() for part in option), *flags]


def _selected(cell, only):
    return not only or any(
        cell.id == prefix.strip("/") or cell.id.startswith(prefix.strip("/") + "/")
        for prefix in only
    )


def _row_key(cell, model):
    return (cell.data, cell.model, str(cell.latent), cell.task, model)


def _read_rows(path):
    if not path.is_file():
        return {}
    with path.open(newline="") as file:
        return {
            (row["data"], row["article_model"], row["latent"], row["task"], row["model"]): row
            for row in csv.DictReader(file)
        }


def _write_rows(path, rows):
    write_csv(path, SWEEP_COLUMNS, rows)


def _epochs(n):
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _mse(row):
    return "–" if row is None else f"{float(row['our_mse']):.4g}"


def _ratio(row, cell):
    return "–" if row is None else f"{float(row['our_mse']) / cell.article_mse:.2f}"
