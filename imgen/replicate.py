"""Article D's cells re-run as its code ran them, and the table that sets them beside its numbers.

- :func:`run_cell` trains one cell of :data:`imgen.article.CELLS` faithfully: the model as the
  code built it, its optimiser (Adam or Adamax at Keras' rate 0.001), batch 32, its epochs, its
  occlusion (rows from ``H // 2 + 1`` down), on the 80% training split, scored as the code
  scored (MSE over the whole image on the official test set, or on LFW's 20%). Resumable: the
  checkpoint is written after every epoch.
- :func:`record` keeps one row per cell in ``imgen/results/article.csv`` (with the command that
  made it); :func:`record_baselines` the linear baselines in ``baselines.csv``.
- :func:`run_ours` trains our model (:class:`imgen.models.LinearStartAutoencoder`, started at the
  cell's linear baseline) on the same protocol; :func:`record_ours` keeps it in ``ours.csv``.
- :func:`article_table` writes ``sweep.md``: for every cell, the blog's number, the code's
  printed number, the linear baseline of the same latent, the faithful re-run and ours where they
  ran, and their ratios.
- :func:`seen_and_unseen` scores an LFW model on faces of people it trained on and of others
  (``people.csv`` / ``people.md``).
- :func:`register` ships the model of a recorded run with the book (a pretrained model whose
  entry names its cell), for the chapters to load.

``python -m imgen article run | ours | table | people | register`` and
``python -m imgen baselines --record`` are the front ends. The "Reproducing the article" page
includes the tables.
"""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import torch

from imgen import article, pretrained
from imgen.baselines import article_map
from imgen.checkpoint import load_checkpoint, load_weights
from imgen.checkpoint import write_csv as _write_rows
from imgen.checkpoint import write_text as _write_text
from imgen.models import build_model
from imgen.train import evaluate, fit, select_device

RESULTS = Path(__file__).parent / "results"
LEARNING_RATE = 1e-3  # Keras' default for Adam and Adamax; the code never set it
SEED = 0
COLUMNS = (
    "row",
    "cell",
    "model",
    "latent",
    "optimiser",
    "epochs",
    "batch_size",
    "train_images",
    "evaluated_on",
    "evaluation_images",
    "evaluation_fingerprint",
    "printed_mse",
    "mse",
    "seconds",
    "device",
    "date",
    "command",
)
BASELINE_COLUMNS = (
    "row",
    "cell",
    "method",
    "latent",
    "strength",
    "mse",
    "evaluation_images",
    "evaluation_fingerprint",
    "command",
)


def run_cell(
    cell,
    splits,
    out,
    *,
    resume=True,
    amp=None,
    device="auto",
    progress=True,
    max_steps=None,
):
    """Train ``cell`` (an :class:`imgen.article.ArticleCell` or its id) on ``splits`` (from
    :func:`imgen.article.load_splits`) as the article's code did; returns ``(model, metrics)``,
    or ``(model, None)`` when interrupted (the checkpoint in ``out`` keeps the completed epochs:
    call again to go on). ``metrics`` is also written to ``out/metrics.json``.

    ``max_steps`` stops early (for smoke tests); such a run is not the cell's and says so.
    """
    cell = article.cell(cell) if isinstance(cell, str) else cell
    _check_cell_and_splits(cell, splits)
    out = Path(out)
    torch.manual_seed(SEED)  # the initial weights, so a rerun repeats the run
    model = cell.build()
    history = fit(
        model,
        splits.train,
        splits.evaluation,
        task=cell.task,
        epochs=cell.epochs,
        batch_size=cell.batch_size,
        lr=LEARNING_RATE,
        optimizer=cell.optimiser,
        seed=SEED,
        checkpoint=out / "checkpoint.pt",
        resume=resume,
        amp=amp,
        device=device,
        progress=progress,
        max_steps=max_steps,
        occlusion=cell.occlusion,
    )
    if history.interrupted:
        return model, None
    extra = {"optimiser": cell.optimiser, "batch_size": cell.batch_size}
    return model, _finish(model, cell, splits, history, out, cell.model, cell.epochs, extra,
                          amp=amp, device=device, max_steps=max_steps)


def _finish(model, cell, splits, history, out, name, epochs, extra, *, amp, device, max_steps):
    """Score a finished run as the article scored; its metrics, also written to metrics.json."""
    mse = evaluate(model, splits.evaluation, task=cell.task, occlusion=cell.occlusion,
                   device=device, seed=SEED)
    where = select_device(device)
    metrics = {
        "row": cell.row,
        "cell": cell.id,
        "model": name,
        "latent": cell.latent,
        **extra,
        "epochs": history.epochs_done,
        "train_images": len(splits.train),
        "evaluated_on": cell.evaluated_on,
        "evaluation_images": len(splits.evaluation),
        "evaluation_fingerprint": splits.evaluation.fingerprint(),
        "printed_mse": cell.printed_mse,
        "mse": mse,
        "seconds": round(sum(history.seconds), 1),
        "device": where.type + (" (bf16 autocast)" if amp and where.type == "cpu" else ""),
        "date": datetime.date.today().isoformat(),
        "complete": max_steps is None and history.epochs_done == epochs,
        "history": history.to_dict(),
    }
    _write_text(Path(out) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


# Ours: imgen.models.LinearStartAutoencoder, started at the cell's linear baseline, its dense maps
# kept there (frozen) while the convolutional corrections learn. Chosen on a tenth of the training
# split held out (benchmarks/ours_recipe.py), never on the evaluation images.
OURS = "linear-start"
OURS_RECIPE = {
    "width": 32,
    "epochs": 12,
    "batch_size": 64,
    "lr": 1e-3,
    "schedule": "cosine",
    "freeze_linear": True,
}

# Where the held-out measurements chose otherwise, per (data set, task), within 30 minutes a cell
# (imgen/results/ours_recipe.json): on MNIST reconstruction the correction is short of capacity
# (training and held-out errors close), and width 64 for 12 epochs beat width 32 for 12 and for
# 24; on face and photograph reconstruction twice the epochs beat twice the width.
OURS_RECIPES = {
    ("mnist", "reconstruct"): {"width": 64},
    ("lfw", "reconstruct"): {"epochs": 24},
    ("cifar", "reconstruct"): {"epochs": 24},
}


def recipe_for(cell, recipe=None) -> dict:
    """Our recipe for ``cell``: :data:`OURS_RECIPE`, the changes :data:`OURS_RECIPES` holds for
    its data set and task, then those of ``recipe``."""
    return {**OURS_RECIPE, **OURS_RECIPES.get((cell.data, cell.task), {}), **(recipe or {})}


def ours_model(cell, train, recipe=None):
    """Our model for ``cell``, its dense maps set to the linear baseline fitted on ``train``."""
    recipe = recipe_for(cell, recipe)
    torch.manual_seed(SEED)
    model = build_model(
        OURS, in_shape=cell.protocol.shape, latent=cell.latent, width=recipe["width"]
    ).start_from(article_map(cell, train))
    if recipe["freeze_linear"]:
        for part in (model.encoder.first, model.decoder.first):
            part.requires_grad_(False)
    return model


def augment_for(cell) -> str:
    """Mirror faces and photographs left to right; never digits (a mirrored 3 is no digit)."""
    return "none" if cell.data == "mnist" else "flip"


def fit_ours(model, cell, train, val, recipe, **options):
    """:func:`imgen.train.fit` of our ``model`` for ``cell`` with ``recipe`` (complete, as from
    :func:`ours_model`); ``options`` go to ``fit`` (checkpoint, progress, ...)."""
    return fit(
        model, train, val, task=cell.task, occlusion=cell.occlusion, epochs=recipe["epochs"],
        batch_size=recipe["batch_size"], lr=recipe["lr"], schedule=recipe["schedule"],
        augment=augment_for(cell), seed=SEED, **options,
    )


def run_ours(cell, splits, out, *, recipe=None, resume=True, amp=None, device="auto",
             progress=True, max_steps=None):
    """Train our model (:data:`OURS`, :func:`recipe_for` the cell) for ``cell`` on ``splits.train``,
    score it on ``splits.evaluation`` as the article scored; returns ``(model, metrics)`` like
    :func:`run_cell` (``(model, None)`` when interrupted)."""
    cell = article.cell(cell) if isinstance(cell, str) else cell
    _check_cell_and_splits(cell, splits)
    recipe = recipe_for(cell, recipe)
    out = Path(out)
    model = ours_model(cell, splits.train, recipe)
    history = fit_ours(
        model, cell, splits.train, splits.evaluation, recipe, checkpoint=out / "checkpoint.pt",
        resume=resume, amp=amp, device=device, progress=progress, max_steps=max_steps,
    )
    if history.interrupted:
        return model, None
    extra = {"recipe": json.dumps(recipe, sort_keys=True)}
    return model, _finish(model, cell, splits, history, out, OURS, recipe["epochs"], extra,
                          amp=amp, device=device, max_steps=max_steps)


OURS_COLUMNS = (
    "row", "cell", "model", "latent", "recipe", "epochs", "train_images", "evaluated_on",
    "evaluation_images", "evaluation_fingerprint", "printed_mse", "mse", "seconds", "device",
    "date", "command",
)


def record_ours(metrics, command, path=None):
    """Put the row of a finished :func:`run_ours` into ``ours.csv``, for its cell and for every
    cell that shares its data, task and code size."""
    _check_complete(metrics, "the recipe's")
    path = Path(path or RESULTS / "ours.csv")
    ran = article.cell(metrics["cell"])
    row = {**{k: metrics[k] for k in OURS_COLUMNS[:-1]}, "command": command}
    # Cells of the same data, task and code size share the run (the blog labels some alike).
    _merge_rows(path, OURS_COLUMNS, {
        cell.row: {**row, "row": cell.row, "cell": cell.id, "printed_mse": cell.printed_mse}
        for cell in article.CELLS
        if (cell.data, cell.task, cell.latent) == (ran.data, ran.task, ran.latent)
    })
    return path


def register(cell, splits, run, name, command, *, folder=None, device="auto"):
    """Ship the model of a finished :func:`run_ours` or :func:`run_cell` folder ``run`` for
    ``cell`` as pretrained model ``name`` (:func:`imgen.pretrained.register`), scored as the
    article scored (its entry names the ``cell``; ``test_mse`` is the run's score on
    ``splits.evaluation``). ``command`` is the one that trained it (its row in ``ours.csv`` or
    ``article.csv``).

    The weights go in float16 when the shipped model scores what the run scored to three
    significant digits, else in float32. Returns the manifest entry (``weights_dtype`` says
    which)."""
    cell = article.cell(cell) if isinstance(cell, str) else cell
    _check_cell_and_splits(cell, splits)
    run = Path(run)
    files = run / "metrics.json", run / "checkpoint.pt"
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {run} is not the folder of a finished run")
    metrics = json.loads(files[0].read_text())
    if metrics.get("cell") != cell.id:
        raise ValueError(f"{run} holds a run of {metrics.get('cell')!r}, not of {cell.id!r}")
    _check_complete(metrics, "its")
    if metrics["evaluation_fingerprint"] != splits.evaluation.fingerprint():
        raise ValueError(
            f"{run} was scored on other {cell.evaluated_on} images than splits.evaluation holds"
        )
    shipped = {
        "cell": cell.id, "data": cell.data, "dataset": splits.evaluation.name,
        "train_images": metrics["train_images"], "test_images": metrics["evaluation_images"],
        "test_mse": metrics["mse"], "test_fingerprint": metrics["evaluation_fingerprint"],
        "train_seconds": metrics["seconds"], "device": metrics["device"],
        "history": metrics["history"],
    }
    for dtype in (torch.float16, torch.float32):
        entry = pretrained.register(name, files[1], shipped, command, folder=folder, dtype=dtype)
        score = evaluate(pretrained.load(name, folder=folder), splits.evaluation, task=cell.task,
                         occlusion=cell.occlusion, device=device, seed=SEED)
        if f"{score:.3g}" == f"{metrics['mse']:.3g}":
            break
    return entry


def _check_complete(metrics, whose):
    if not metrics.get("complete"):
        raise ValueError(
            f"{metrics.get('cell')}: only a run of all {whose} epochs goes into the table "
            f"(this one stopped after {metrics.get('epochs')})"
        )


def _check_cell_and_splits(cell, splits):
    if not isinstance(cell, article.ArticleCell):
        raise TypeError(f"cell must be an ArticleCell or a cell id, got {type(cell).__name__}")
    if not isinstance(splits, article.ArticleSplits):
        raise TypeError(
            "splits must be the ArticleSplits of imgen.article.load_splits, "
            f"got {type(splits).__name__}"
        )
    if tuple(splits.train.images.shape[1:]) != cell.protocol.shape:
        raise ValueError(
            f"{cell.id} trains on images shaped {cell.protocol.shape} (C, H, W), got "
            f"{tuple(splits.train.images.shape[1:])}"
        )


def record(metrics, command, path=None):
    """Put the row of a finished :func:`run_cell` into ``article.csv`` (replacing the cell's
    earlier row); a run cut short by ``max_steps`` is refused."""
    _check_complete(metrics, "the cell's")
    path = Path(path or RESULTS / "article.csv")
    row = {**{k: metrics[k] for k in COLUMNS[:-1]}, "command": command}
    _merge_rows(path, COLUMNS, {int(metrics["row"]): row})
    return path


def record_baselines(results, evaluation, command, path=None):
    """Put :func:`imgen.baselines.article_baselines` results (of one data set, scored on the
    ImageData ``evaluation``) into ``baselines.csv``, replacing those cells' earlier rows."""
    path = Path(path or RESULTS / "baselines.csv")
    rows = {}
    for result in results:
        rows[result.cell.row] = {
            "row": result.cell.row,
            "cell": result.cell.id,
            "method": result.method,
            "latent": result.latent,
            "strength": "" if result.strength is None else f"{result.strength:.6g}",
            "mse": result.mse,
            "evaluation_images": len(evaluation),
            "evaluation_fingerprint": evaluation.fingerprint(),
            "command": command,
        }
    _merge_rows(path, BASELINE_COLUMNS, rows)
    return path


def _merge_rows(path, columns, new):
    """Rewrite the table at ``path`` with the rows ``new`` (by row number) put in, in row order."""
    rows = {**read_rows(path), **new}
    _write_rows(path, columns, [rows[k] for k in sorted(rows)])


def read_rows(path) -> dict:
    """The rows of one of the tables (``article.csv``, ``ours.csv``, ``baselines.csv``,
    ``people.csv``), by the cell's row number."""
    path = Path(path)
    if not path.is_file():
        return {}
    with path.open(newline="") as file:
        return {int(row["row"]): row for row in csv.DictReader(file)}


def cell_results(runs=None, floors=None, ours=None) -> list[dict]:
    """One dict per cell of the article's table, in row order: ``cell`` (an
    :class:`imgen.article.ArticleCell`), ``blog`` and ``printed`` (the article's numbers),
    ``baseline`` and ``method`` (the linear baseline, ``pca`` or ``ridge``), ``rerun`` (the
    faithful re-run) and ``ours``; each MSE is None where that run is not in the tables yet."""
    runs = read_rows(RESULTS / "article.csv") if runs is None else runs
    floors = read_rows(RESULTS / "baselines.csv") if floors is None else floors
    ours = read_rows(RESULTS / "ours.csv") if ours is None else ours
    results = []
    for cell in article.CELLS:
        rerun, base, mine = (
            float(table[cell.row]["mse"]) if cell.row in table else None
            for table in (runs, floors, ours)
        )
        method = floors[cell.row]["method"] if cell.row in floors else None
        results.append(dict(cell=cell, blog=cell.blog_mse, printed=cell.printed_mse,
                            baseline=base, method=method, rerun=rerun, ours=mine))
    return results


def article_table(runs=None, floors=None, ours=None) -> str:
    """The table of ``sweep.md``: every cell of the article's table with the blog's number, the
    code's printed number, the linear baseline, the faithful re-run and ours (– where not run
    yet), and the ratios to the printed number and to the baseline."""
    lines = [
        "| # | cell (as the blog labels it) | code's model, latent | evaluated on | blog | printed "
        "| linear baseline | faithful re-run | ours | re-run / printed | ours / printed "
        "| ours / baseline |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in cell_results(runs, floors, ours):
        cell, rerun, base, mine = (result[k] for k in ("cell", "rerun", "baseline", "ours"))
        method = {"pca": " (PCA)", "ridge": " (ridge)"}.get(result["method"], "")
        lines.append(
            f"| {cell.row} | {cell.id} | {cell.model.removeprefix('article-')}, {cell.latent} "
            f"| {cell.evaluated_on} | {cell.blog_mse:g} | {cell.printed_mse:.4g} "
            f"| {_number(base)}{method} | {_number(rerun)} | {_number(mine)} "
            f"| {_ratio(rerun, cell.printed_mse)} | {_ratio(mine, cell.printed_mse)} "
            f"| {_ratio(mine, base)} |"
        )
    return "\n".join(lines) + "\n"


def write_table(path=None) -> Path:
    path = Path(path or RESULTS / "sweep.md")
    _write_text(path, article_table())
    return path


def _number(value):
    return "–" if value is None else f"{value:.4g}"


def _ratio(value, reference):
    return "–" if value is None or reference is None else f"{value / reference:.2f}"


def seen_and_unseen(model, cell, splits, *, device="auto") -> dict:
    """LFW's split is by image, so most faces scored belong to people the model trained on.
    Score ``model`` (trained for the LFW ``cell``) separately on the evaluation faces of people
    with an image in ``splits.train`` ("seen") and of people without one ("unseen"); returns
    ``{"seen": (images, mse), "unseen": (images, mse), "all": (images, mse)}``."""
    cell = article.cell(cell) if isinstance(cell, str) else cell
    if cell.data != "lfw":
        raise ValueError(f"only LFW is split by image and labelled by person, not {cell.data!r}")
    evaluation = splits.evaluation
    if splits.train.labels is None or evaluation.labels is None:
        raise ValueError("the splits need LFW's person labels (article.load_splits gives them)")
    known = torch.isin(evaluation.labels, splits.train.labels.unique())
    out = {}
    for name, mask in (("seen", known), ("unseen", ~known), ("all", torch.ones_like(known))):
        part = evaluation.images[mask]
        mse = evaluate(model, part, task=cell.task, occlusion=cell.occlusion, device=device,
                       seed=SEED)
        out[name] = (len(part), mse)
    return out


def trained_model(cell, checkpoint):
    """The model of ``cell`` with the weights of a :func:`run_cell` checkpoint."""
    cell = article.cell(cell) if isinstance(cell, str) else cell
    saved = load_checkpoint(checkpoint)
    model = cell.build()
    load_weights(model, saved["model"], source=checkpoint)
    return model.eval()


PEOPLE_COLUMNS = ("row", "cell", "seen_images", "seen_mse", "unseen_images", "unseen_mse",
                  "all_mse", "command")


def record_people(cell, scores, command, path=None):
    """Keep :func:`seen_and_unseen`'s scores of ``cell`` in ``people.csv``; rewrite people.md."""
    path = Path(path or RESULTS / "people.csv")
    _merge_rows(path, PEOPLE_COLUMNS, {cell.row: {
        "row": cell.row, "cell": cell.id,
        "seen_images": scores["seen"][0], "seen_mse": scores["seen"][1],
        "unseen_images": scores["unseen"][0], "unseen_mse": scores["unseen"][1],
        "all_mse": scores["all"][1], "command": command,
    }})
    _write_text(path.with_suffix(".md"), people_table(read_rows(path)))
    return path


def people_table(rows) -> str:
    """``people.md``: each LFW model's MSE on faces of people it trained on and of others."""
    lines = [
        "| # | cell | faces of people seen in training | MSE | faces of people not seen | MSE "
        "| unseen / seen |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in (rows[k] for k in sorted(rows)):
        seen, unseen = float(row["seen_mse"]), float(row["unseen_mse"])
        lines.append(
            f"| {row['row']} | {row['cell']} | {int(row['seen_images']):,} | {seen:.4g} "
            f"| {int(row['unseen_images']):,} | {unseen:.4g} | {unseen / seen:.2f} |"
        )
    return "\n".join(lines) + "\n"
