"""The command line: ``python -m imgen train | evaluate | register | rescore | sweep | baselines |
article | gan``.

- ``train`` trains one model on one data set and writes ``checkpoint.pt`` and ``metrics.json``
  (test score on the full test split, seconds, history, the exact command) into ``--out``;
  ``--register NAME`` ships it as a pretrained model (see :mod:`imgen.pretrained`).
- ``evaluate`` prints the test score of a checkpoint file or of a pretrained model.
- ``sweep`` trains the article's model and ours for every cell of the article's results table
  as the course first read the blog's text (its own crops, splits and half-image occlusion), one
  row per run in ``course_sweep.csv``, and writes ``course_sweep.md`` beside it; the chapters'
  shipped models come from it (the experiment itself is :mod:`imgen.sweep`; its constants are
  re-exported here, where the chapters read them).
- ``baselines`` prints the linear baselines of the article's cells beside its values
  (:mod:`imgen.baselines` on the protocol of :mod:`imgen.article`); ``--record`` keeps them in
  ``imgen/results/baselines.csv``.
- ``article run --cell ID`` re-runs one of the article's cells as its code ran it and records the
  row in ``imgen/results/article.csv``; ``article ours --cell ID`` trains our model on the cell's
  protocol (``ours.csv``); ``article table`` rewrites ``sweep.md``; ``article people`` scores
  LFW re-runs on faces of people seen and unseen in training (:mod:`imgen.replicate`);
  ``article register --cell ID --name NAME`` ships a recorded run's model with the book.

- ``gan train`` trains a DCGAN (:mod:`imgen.gan`) and scores its generator (:mod:`imgen.scores`);
  ``gan score`` prints the scores of a GAN checkpoint or of a shipped generator.

Chapters 3 and 4 and the page "Reproducing the article" show ``sweep.md``; every pretrained
model records the command that made it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

import torch

from imgen import article, baselines, data, gan, pretrained, replicate, scores, settings, sweep, vae
from imgen.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from imgen.checkpoint import write_text as _write_text
from imgen.models import MODELS, build_model
from imgen.occlusion import KINDS
from imgen.sweep import (  # noqa: F401  (the chapters read these names from here too)
    OUR_MODEL,
    QUICK,
    SWEEP_CELLS,
    SWEEP_COLUMNS,
    SWEEP_EPOCH_FACTOR,
    SWEEP_EPOCHS,
    SWEEP_RECIPES,
    SWEEP_SETTINGS,
    Cell,
    sweep_report,
)
from imgen.train import AUGMENTS, SCHEDULES, TASKS, amp_settings, evaluate, fit, select_device

# The models `train` fits; the GAN's networks are trained by `gan train`.
FIT_MODELS = sorted(
    set(MODELS) - {"dcgan-generator", "dcgan-discriminator", "mlp-generator", "mlp-discriminator"}
)

# Where `article run` and `article ours` keep their checkpoints (article-ROW, ours-ROW inside).
RUNS = Path("results/runs")


class UsageError(Exception):
    """A command line that cannot work; reported like an argparse error (exit status 2)."""


def main(argv=None):
    """Run ``python -m imgen`` with ``argv`` (default: the process's); returns the exit status.

    0 on success, 1 when data or a checkpoint is missing or unusable (the message says which and
    what to do, without a traceback), 2 for a wrong command line, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    command = "python -m imgen " + shlex.join(argv)
    try:
        return args.run(args, command)
    except UsageError as error:
        parser.error(str(error))
    except (
        data.DataNotFoundError,
        data.CorruptDataError,
        CheckpointError,
        FileNotFoundError,
    ) as error:
        print(f"imgen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("imgen: interrupted", file=sys.stderr)
        return 130


def build_parser():
    """The argument parser of ``python -m imgen`` and its commands."""
    parser = argparse.ArgumentParser(
        prog="python -m imgen", description="Train, score and compare the course's image models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train one model, write its checkpoint and metrics")
    train.add_argument("--data", required=True, choices=sorted(data.DATASETS))
    train.add_argument("--model", default=OUR_MODEL, choices=FIT_MODELS)
    train.add_argument(
        "--latent", type=_positive_int, default=32, help="code size of an autoencoder (default 32)"
    )
    train.add_argument(
        "--code-activation",
        choices=["sigmoid"],
        help="squash the conv model's code into 0..1 (for sliders; the dense model always does)",
    )
    train.add_argument("--task", default="reconstruct", choices=TASKS)
    train.add_argument(
        "--occlusion",
        default="bottom",
        choices=KINDS,
        help="what --task complete hides (default bottom: the bottom half)",
    )
    train.add_argument(
        "--beta",
        type=_non_negative_float,
        default=1.0,
        help="weight of the KL term for --task vae (default 1: the ELBO)",
    )
    train.add_argument("--epochs", type=_positive_int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=128)
    train.add_argument("--lr", type=_positive_float, default=1e-3)
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0)
    train.add_argument("--schedule", default="constant", choices=SCHEDULES)
    train.add_argument(
        "--augment",
        default="none",
        choices=AUGMENTS,
        help="flip: mirror a random half of each batch left-right (faces, photos; not digits)",
    )
    train.add_argument(
        "--labels",
        choices=["fine", "coarse"],
        help="CIFAR's labels for --task classify: fine (100 classes, the default) or coarse (20)",
    )
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--out", required=True, type=Path, help="folder for the run's files")
    train.add_argument("--subset", type=_positive_int, help="train on this many images only")
    train.add_argument(
        "--test-subset",
        type=_positive_int,
        help="score on this many test images only (default: all)",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt if it is there"
    )
    train.add_argument(
        "--register", metavar="NAME", help="ship the trained weights as pretrained model NAME"
    )
    _add_runtime_arguments(train)
    train.set_defaults(run=train_command)

    score = commands.add_parser("evaluate", help="print the test score of a checkpoint")
    score.add_argument(
        "--checkpoint",
        required=True,
        help="a checkpoint.pt file, or the name of a pretrained model",
    )
    score.add_argument("--data", required=True, choices=sorted(data.DATASETS))
    score.add_argument("--task", choices=TASKS, help="default: the task it was trained for")
    score.add_argument("--occlusion", choices=KINDS, help="default: the one it was trained with")
    score.add_argument("--batch-size", type=_positive_int, default=512)
    score.add_argument("--seed", type=_non_negative_int, default=0)
    score.add_argument(
        "--labels",
        choices=["fine", "coarse"],
        help="CIFAR's labels (default: those the pretrained model was trained on, else fine)",
    )
    score.add_argument(
        "--test-subset",
        type=_positive_int,
        help="score on this many test images only (default: all)",
    )
    score.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    score.set_defaults(run=evaluate_command)

    ship = commands.add_parser(
        "register", help="ship a finished run's weights as a pretrained model"
    )
    ship.add_argument("name", help="the pretrained name, e.g. mnist-conv-32-reconstruct")
    ship.add_argument(
        "--run",
        dest="folder",
        required=True,
        type=Path,
        help="the --out folder of a finished `train` (checkpoint.pt + metrics.json)",
    )
    ship.set_defaults(run=register_command)

    again = commands.add_parser(
        "rescore",
        help="score shipped pretrained models again on their whole test split as it is now "
        "and update their manifest entries",
    )
    again.add_argument("names", nargs="+", metavar="NAME", help="pretrained model names")
    again.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    again.set_defaults(run=rescore_command)

    sweep = commands.add_parser("sweep", help="the article's results table, its models and ours")
    sweep.add_argument(
        "--only",
        action="append",
        metavar="CELL",
        help="run only cells whose id starts with this: mnist, mnist/deep, "
        "mnist/deep/32/complete (may repeat)",
    )
    sweep.add_argument(
        "--model",
        action="append",
        choices=sorted({cell.model for cell in SWEEP_CELLS} | {OUR_MODEL}),
        help="train only this model (may repeat; default: the article's model and ours), "
        "e.g. to run the fast models of every cell first",
    )
    sweep.add_argument(
        "--out",
        type=Path,
        help="folder for course_sweep.csv, course_sweep.md and the runs (default: the table in "
        "imgen/results/, the runs in results/runs/; results/quick/ for --quick)",
    )
    sweep.add_argument(
        "--epochs-scale",
        type=_positive_float,
        default=1.0,
        help=f"multiply the epochs per data set {SWEEP_EPOCHS} by this",
    )
    sweep.add_argument(
        "--quick",
        "--dry-run",
        action="store_true",
        help=f"tiny subsets and one epoch ({QUICK}), to check that it all runs; "
        f"the default when ${settings.QUICK_ENV} is set",
    )
    _add_runtime_arguments(sweep)
    sweep.set_defaults(run=sweep_command)

    floor = commands.add_parser(
        "baselines",
        help="the linear baselines of the article's cells (PCA, reduced-rank ridge), in seconds",
    )
    floor.add_argument(
        "--data",
        action="append",
        choices=list(article.PROTOCOLS),
        help="only this data set (may repeat; default: all three)",
    )
    floor.add_argument("--no-download", action="store_true", help="use only the data folder")
    floor.add_argument(
        "--record",
        action="store_true",
        help="also keep them in imgen/results/baselines.csv and rewrite sweep.md",
    )
    floor.set_defaults(run=baselines_command)
    _add_article_commands(commands)
    _add_gan_commands(commands)
    return parser


def _add_article_commands(commands):
    parser = commands.add_parser("article", help="re-run the article's cells as its code did")
    article_commands = parser.add_subparsers(
        dest="article_command", required=True, metavar="COMMAND"
    )
    run = article_commands.add_parser(
        "run", help="train one cell faithfully, score it, record it in imgen/results/article.csv"
    )
    ours = article_commands.add_parser(
        "ours", help="train our model on a cell's protocol, record it in imgen/results/ours.csv"
    )
    for each, folder in ((run, "article"), (ours, "ours")):
        each.add_argument(
            "--cell", required=True, choices=[cell.id for cell in article.CELLS], metavar="CELL",
            help="the cell as the blog labels it, e.g. lfw/basic/32/reconstruct",
        )
        each.add_argument(
            "--out", type=Path,
            help=f"folder for its checkpoint (default: results/runs/{folder}-ROW)",
        )
        each.add_argument("--no-download", action="store_true", help="use only the data folder")
        each.add_argument(
            "--max-steps", type=_positive_int, help="stop after this many steps (a smoke test: "
            "nothing is recorded)"
        )
        _add_runtime_arguments(each)
    run.set_defaults(run=article_run_command, ours=False)
    ours.set_defaults(run=article_run_command, ours=True)
    table = article_commands.add_parser(
        "table", help="rewrite imgen/results/sweep.md from article.csv and baselines.csv"
    )
    table.set_defaults(run=article_table_command)
    register = article_commands.add_parser(
        "register", help="ship a finished `article ours` (or `article run`) model with the book"
    )
    register.add_argument(
        "--cell", required=True, choices=[cell.id for cell in article.CELLS], metavar="CELL",
        help="the cell it ran, e.g. lfw/deep/64/complete",
    )
    register.add_argument("--name", required=True, help="the pretrained name, e.g. lfw-ours-64")
    register.add_argument(
        "--faithful", action="store_true", help="the `article run` model (default: ours)"
    )
    register.add_argument(
        "--runs", type=Path, default=RUNS,
        help="where the runs put their checkpoints (default: results/runs)",
    )
    register.add_argument("--no-download", action="store_true", help="use only the data folder")
    register.set_defaults(run=article_register_command)
    people = article_commands.add_parser(
        "people", help="score LFW re-runs on faces of people seen in training and of others"
    )
    people.add_argument(
        "--cell", required=True, action="append", metavar="CELL",
        choices=[cell.id for cell in article.CELLS if cell.data == "lfw"],
        help="an LFW cell already run (may repeat)",
    )
    people.add_argument(
        "--runs", type=Path, default=RUNS,
        help="where `article run` put its checkpoints (default: results/runs)",
    )
    people.add_argument("--no-download", action="store_true", help="use only the data folder")
    people.set_defaults(run=article_people_command)


def article_run_command(args, command):
    """``article run``: one cell re-run as the article's code ran it; ``article ours``: our
    model on the cell's protocol. Both resumable."""
    cell = article.cell(args.cell)
    amp = False if args.no_amp else (True if args.amp else None)
    try:
        amp_settings(select_device(args.device), amp)
    except ValueError as error:
        raise UsageError(str(error)) from None
    splits = article.load_splits(cell.data, download=not args.no_download)
    ours = args.ours
    out = args.out or _run_folder(cell, "ours" if ours else "article")
    _, metrics = (replicate.run_ours if ours else replicate.run_cell)(
        cell, splits, out, amp=amp, device=args.device, progress=not args.no_progress,
        max_steps=args.max_steps,
    )
    if metrics is None:
        print(f"interrupted: {out / 'checkpoint.pt'} keeps the completed epochs; run the same "
              "command again to go on", file=sys.stderr)
        return 130
    print(
        f"#{cell.row} {cell.id}{' (ours)' if ours else ''}: MSE {metrics['mse']:.5g} on "
        f"{metrics['evaluation_images']:,} "
        f"{cell.evaluated_on} images (printed {cell.printed_mse:.5g}, ratio "
        f"{metrics['mse'] / cell.printed_mse:.2f}) after {_epochs(metrics['epochs'])}, "
        f"{metrics['seconds']:.0f} s on {metrics['device']}"
    )
    if metrics["complete"]:
        path = (replicate.record_ours if ours else replicate.record)(metrics, command)
        replicate.write_table()
        print(f"recorded in {path}")
    return 0


def _run_folder(cell, which, runs=RUNS):
    """Where ``article run`` (``which="article"``) or ``article ours`` keeps a cell's run."""
    return Path(runs) / f"{which}-{cell.row:02d}"


def article_register_command(args, command):
    """``article register``: ship the model of a recorded cell, with the command in its row."""
    cell = article.cell(args.cell)
    which, csv = ("article", "article.csv") if args.faithful else ("ours", "ours.csv")
    row = replicate.read_rows(replicate.RESULTS / csv).get(cell.row)
    if row is None or row["cell"] != cell.id:
        raise UsageError(
            f"{csv} has no run of {cell.id}: run `python -m imgen article "
            f"{'run' if args.faithful else 'ours'} --cell {cell.id}` first"
        )
    splits = article.load_splits(cell.data, download=not args.no_download)
    run = _run_folder(cell, which, args.runs)
    try:
        entry = replicate.register(cell, splits, run, args.name, row["command"])
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(f"registered {args.name!r} ({entry['bytes'] / 1e6:.2f} MB, {entry['weights_dtype']}): "
          f"MSE {entry['test_mse']:.5g}; {row['command']}")
    return 0


def article_people_command(args, command):
    """``article people``: LFW re-runs scored on faces of seen and of unseen people."""
    splits = article.load_splits("lfw", download=not args.no_download)
    for cell_id in args.cell:
        cell = article.cell(cell_id)
        checkpoint = _run_folder(cell, "article", args.runs) / "checkpoint.pt"
        model = replicate.trained_model(cell, checkpoint)
        found = replicate.seen_and_unseen(model, cell, splits)
        replicate.record_people(cell, found, command)
        print(
            f"#{cell.row} {cell.id}: seen {found['seen'][1]:.5g} ({found['seen'][0]:,} faces), "
            f"unseen {found['unseen'][1]:.5g} ({found['unseen'][0]:,} faces)"
        )
    print(f"recorded in {replicate.RESULTS / 'people.csv'} and people.md")
    return 0


def article_table_command(args, command):
    print(f"{replicate.write_table()}")
    return 0


def _add_gan_commands(commands):
    gan_parser = commands.add_parser("gan", help="train or score a DCGAN's generator")
    gan_commands = gan_parser.add_subparsers(dest="gan_command", required=True, metavar="COMMAND")
    train = gan_commands.add_parser(
        "train", help="train a DCGAN, score its generator, write checkpoint.pt and metrics.json"
    )
    train.add_argument("--data", required=True, choices=sorted(scores.JUDGES))
    train.add_argument("--steps", type=_positive_int, default=5000, help="generator steps")
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--latent", type=_positive_int, default=64)
    train.add_argument("--width", type=_positive_int, default=32, help="channels of D's 1st layer")
    train.add_argument("--lr", type=_positive_float, default=2e-4)
    train.add_argument("--lr-d", type=_positive_float, help="D's learning rate (default: --lr)")
    train.add_argument("--loss", default="non-saturating", choices=gan.LOSSES)
    train.add_argument("--d-steps", type=_positive_int, default=1, help="D steps per G step")
    train.add_argument("--no-batch-norm", action="store_true", help="both networks without it")
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--subset", type=_positive_int, help="train on this many images only")
    train.add_argument("--out", required=True, type=Path, help="folder for the run's files")
    train.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt if it is there"
    )
    train.add_argument(
        "--register", metavar="NAME", help="ship the generator as pretrained model NAME"
    )
    _add_runtime_arguments(train)
    train.set_defaults(run=gan_train_command)

    score = gan_commands.add_parser(
        "score", help="FID, KID and IS-style score of a generator, beside real-vs-real"
    )
    score.add_argument(
        "--checkpoint", required=True, help="a GAN checkpoint.pt, or a shipped generator's name"
    )
    score.add_argument("--data", required=True, choices=sorted(scores.JUDGES))
    score.add_argument("--seed", type=_non_negative_int, default=0)
    score.add_argument("--json", action="store_true", help="print the scores as JSON")
    score.set_defaults(run=gan_score_command)


def train_command(args, command, cache=None):
    """``train``: fit one model, score it on the test split, write ``checkpoint.pt`` and
    ``metrics.json`` into ``args.out``. Returns 0, or 130 when interrupted."""
    if (args.model == "classifier") != (args.task == "classify"):
        raise UsageError("--model classifier goes with --task classify, and only with it")
    if args.model.endswith("-vae") != (args.task == "vae"):
        raise UsageError("--model dense-vae or conv-vae goes with --task vae, and only with it")
    if args.beta != 1.0 and args.task != "vae":
        raise UsageError("--beta weighs the KL term of --task vae, and only of it")
    amp = False if args.no_amp else (True if args.amp else None)  # None: fit's default
    try:  # before any data is read: --amp on a CPU without bfloat16 instructions
        amp_settings(select_device(args.device), amp)
    except ValueError as error:
        raise UsageError(str(error)) from None
    train = _load(args.data, "train", args.subset, args.seed, cache, args.labels)
    test = _load(args.data, "test", args.test_subset, args.seed, cache, args.labels)
    # The seed fixes the initial weights too, so the recorded command repeats the run.
    torch.manual_seed(args.seed)
    if args.model == "classifier":
        model = build_model("classifier", in_shape=train.shape, n_classes=len(train.classes))
    else:
        options = {"code_activation": args.code_activation} if args.code_activation else {}
        model = build_model(args.model, in_shape=train.shape, latent=args.latent, **options)
    checkpoint = args.out / "checkpoint.pt"
    history = fit(
        model,
        train,
        test,
        task=args.task,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
        occlusion=args.occlusion,
        checkpoint=checkpoint,
        resume=args.resume,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        augment=args.augment,
        beta=args.beta,
        progress=not args.no_progress,
        amp=amp,
    )
    if history.interrupted:
        print(
            f"interrupted: {checkpoint} holds the {history.epochs_done} completed epochs; "
            "run the same command with --resume to go on",
            file=sys.stderr,
        )
        return 130
    score = evaluate(
        model, test, task=args.task, occlusion=args.occlusion, device=args.device, seed=args.seed
    )
    metric = "test_accuracy" if args.task == "classify" else "test_mse"
    metrics = {
        "data": args.data,
        "dataset": train.name,
        "train_images": len(train),
        "test_images": len(test),
        "validation": "the test split (curves only: nothing is chosen by it)",
        "model": args.model,
        "config": model.config,
        "task": args.task,
        "occlusion": args.occlusion if args.task == "complete" else None,
        "latent": model.config.get("latent"),
        "epochs": history.epochs_done,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "schedule": args.schedule,
        "weight_decay": args.weight_decay,
        "augment": args.augment,
        "seed": args.seed,
        metric: score,
        "test_fingerprint": test.fingerprint(),
        **({"labels": args.labels} if args.labels else {}),
        **(_vae_metrics(model, test, args.beta) if args.task == "vae" else {}),
        "train_seconds": sum(history.seconds),
        "device": _device_name(args.device, amp),
        "history": history.to_dict(),
        "command": command,
        "date": datetime.date.today().isoformat(),
        "torch_version": str(torch.__version__),
    }
    _write_text(args.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    what = "accuracy" if args.task == "classify" else "MSE"
    print(
        f"{args.out}: test {what} {score:.5g} on {test.name} test ({len(test)} images) after "
        f"{_epochs(history.epochs_done)}, {metrics['train_seconds']:.1f} s "
        f"on {metrics['device']}"
    )
    if args.register:
        pretrained.register(args.register, checkpoint, metrics, command)
        print(f"registered as pretrained model {args.register!r}")
    return 0


def gan_train_command(args, command):
    """``gan train``: train a DCGAN on a data set's training split, score its generator against
    the test split (with the real-vs-real baseline), write ``checkpoint.pt`` and
    ``metrics.json`` into ``args.out``. Returns 0, or 130 when interrupted."""
    amp = False if args.no_amp else (True if args.amp else None)
    try:
        amp_settings(select_device(args.device), amp)
    except ValueError as error:
        raise UsageError(str(error)) from None
    train = _load(args.data, "train", args.subset, args.seed)
    test = _load(args.data, "test", None, args.seed)
    judge = pretrained.load(scores.JUDGES[args.data])  # before training: fail early if missing
    torch.manual_seed(args.seed)  # the initial weights
    norm = not args.no_batch_norm
    generator = build_model(
        "dcgan-generator",
        out_shape=train.shape,
        latent=args.latent,
        width=args.width,
        batch_norm=norm,
    )
    discriminator = build_model(
        "dcgan-discriminator", in_shape=train.shape, width=args.width, batch_norm=norm
    )
    checkpoint = args.out / "checkpoint.pt"
    history = gan.train_gan(
        generator,
        discriminator,
        train,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_d=args.lr_d,
        loss=args.loss,
        d_steps=args.d_steps,
        seed=args.seed,
        device=args.device,
        amp=amp,
        checkpoint=checkpoint,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if history.interrupted:
        print(
            f"interrupted: {checkpoint} holds the steps up to its last save; "
            "run the same command with --resume to go on",
            file=sys.stderr,
        )
        return 130
    # Scored as shipped: the weights rounded to float16, as pretrained.register stores them.
    shipped = model_from_checkpoint(_float16_weights(load_checkpoint(checkpoint)))
    found = scores.score_generator(
        shipped, test, judge, seed=args.seed, coverage=args.data == "mnist"
    )
    metrics = {
        "data": args.data,
        "dataset": train.name,
        "train_images": len(train),
        "test_images": len(test),
        "test_fingerprint": test.fingerprint(),
        "model": "dcgan-generator",
        "config": generator.config,
        "discriminator": discriminator.config,
        "steps": history.steps_done,
        "loss": args.loss,
        "judge": scores.JUDGES[args.data],
        "scores": found,
        "train_seconds": history.seconds,
        "device": _device_name(args.device, amp),
        "history": history.to_dict(),
        "command": command,
        "date": datetime.date.today().isoformat(),
        "torch_version": str(torch.__version__),
    }
    _write_text(args.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    print(f"{args.out}: {history.steps_done} steps in {history.seconds:.1f} s; {_gan_line(found)}")
    if args.register:
        pretrained.register(args.register, checkpoint, metrics, command, keep=("snapshots",))
        print(f"registered as pretrained model {args.register!r}")
    return 0


def gan_score_command(args, command):
    """``gan score``: the scores of a GAN checkpoint file or of a shipped generator against the
    data set's test split, beside the real-vs-real baseline."""
    if Path(args.checkpoint).is_file():
        generator = model_from_checkpoint(load_checkpoint(args.checkpoint))
    elif args.checkpoint in pretrained.available():
        generator = pretrained.load(args.checkpoint)
    else:
        raise UsageError(
            f"--checkpoint {args.checkpoint!r} is neither a file nor a pretrained model"
        )
    if not isinstance(generator, MODELS["dcgan-generator"]):
        raise UsageError(f"{args.checkpoint} is a {type(generator).__name__}, not a GAN generator")
    test = _load(args.data, "test", None, args.seed)
    judge = pretrained.load(scores.JUDGES[args.data])
    found = scores.score_generator(
        generator, test, judge, seed=args.seed, coverage=args.data == "mnist"
    )
    line = f"{args.checkpoint} on {test.name} test: {_gan_line(found)}"
    print(json.dumps(found) if args.json else line)
    return 0


def _gan_line(found):
    ours, real = found["generator"], found["real"]
    return (
        f"FID {ours['fid']:.3g} (real vs real {real['fid']:.3g}), "
        f"KID {ours['kid']:.3g} ({real['kid']:.3g}), IS-style {ours['is']:.3g} ({real['is']:.3g})"
    )


def _float16_weights(saved):
    """A checkpoint's generator with its weights rounded through float16, as shipped."""
    weights = {
        key: value.half().float() if value.is_floating_point() else value
        for key, value in saved["model"].items()
    }
    return {"model": weights, "model_spec": saved["model_spec"]}


def _vae_metrics(model, test, beta):
    """A VAE's beta and its ELBO terms per test image (see :func:`imgen.vae.score`)."""
    terms = vae.score(model.cpu(), test, beta=beta)
    return {"beta": beta, "test_elbo": {key: terms[key] for key in ("reconstruction", "kl")}}


def evaluate_command(args, command):
    """``evaluate``: print the test score of a checkpoint file or a pretrained model; for a
    pretrained one, say so when the test images here are not those of its manifest."""
    labels, entry = args.labels, None
    if Path(args.checkpoint).is_file():
        saved = load_checkpoint(args.checkpoint)
        model = model_from_checkpoint(saved)
        trained = saved.get("fit_args", {})
        task, occlusion = trained.get("task", "reconstruct"), trained.get("occlusion")
    elif args.checkpoint in pretrained.available():
        model = pretrained.load(args.checkpoint)
        entry = pretrained.info(args.checkpoint)
        if entry["task"] == "gan":
            raise UsageError(
                f"{args.checkpoint} is a GAN's generator: score it with `python -m imgen gan "
                f"score --checkpoint {args.checkpoint} --data {entry['data']}`"
            )
        task, occlusion = entry["task"], entry["occlusion"]
        labels = labels or entry.get("labels")
    else:
        names = ", ".join(pretrained.available()) or "none yet"
        raise UsageError(
            f"--checkpoint {args.checkpoint!r} is neither a file nor a pretrained "
            f"model (pretrained: {names})"
        )
    task = args.task or task
    occlusion = args.occlusion or occlusion or "bottom"
    if entry is not None and entry.get("cell") and entry["data"] == args.data:
        test = pretrained.test_split(args.checkpoint)  # the images the article scored
        if args.test_subset is not None and args.test_subset < len(test):
            test = test.subset(args.test_subset, args.seed)
    else:
        test = _load(args.data, "test", args.test_subset, args.seed, labels=labels)
    if entry is not None and entry["data"] == args.data:
        pretrained.same_data(args.checkpoint, test)  # warns when the data differ
    in_shape = tuple(model.config["in_shape"])
    if in_shape != test.shape:
        raise UsageError(
            f"{args.checkpoint} takes images shaped {in_shape}, but {test.name} "
            f"images are {test.shape}"
        )
    score = evaluate(
        model,
        test,
        task=task,
        occlusion=occlusion,
        batch_size=args.batch_size,
        device=args.device,
        seed=args.seed,
    )
    what = "accuracy" if task == "classify" else "MSE"
    print(
        f"test {what} of {args.checkpoint} on {test.name} test ({len(test)} images, "
        f"task {task}): {score:.6g}"
    )
    return 0


def register_command(args, command):
    """``register``: ship the weights of a finished run (e.g. one of the sweep's) with the
    command that trained it, from its ``metrics.json``."""
    metrics_file, checkpoint = args.folder / "metrics.json", args.folder / "checkpoint.pt"
    for path in (metrics_file, checkpoint):
        if not path.is_file():
            raise UsageError(f"{path} is missing: --run must be the --out of a finished train")
    metrics = json.loads(metrics_file.read_text())
    entry = pretrained.register(args.name, checkpoint, metrics, metrics["command"])
    print(f"registered {args.name!r} ({entry['bytes'] / 1e6:.2f} MB): {metrics['command']}")
    return 0


def rescore_command(args, command):
    """``rescore``: each named pretrained model scored again on its data set's whole test split,
    its manifest entry updated (score, test size, fingerprint, what it replaced)."""
    unknown = sorted(set(args.names) - set(pretrained.available()))
    if unknown:
        raise UsageError(
            f"no pretrained model named {', '.join(unknown)}; available: "
            f"{', '.join(pretrained.available())}"
        )
    generators = [name for name in args.names if pretrained.info(name)["task"] == "gan"]
    if generators:
        raise UsageError(
            f"{', '.join(generators)}: a GAN's generator has no test MSE to rescore; "
            "`python -m imgen gan score` scores it"
        )
    for name in args.names:
        entry = pretrained.rescore(name, command=command, device=args.device)
        metric = "test_accuracy" if entry["task"] == "classify" else "test_mse"
        before = entry["rescored"]["previous"]
        print(
            f"{name}: {metric} {entry[metric]:.6g} on {entry['test_images']:,} {entry['dataset']} "
            f"test images (was {before[metric]:.6g} on {before['test_images']:,} "
            f"{before['dataset']})"
        )
    return 0


def sweep_command(args, command):
    """``sweep``: :func:`imgen.sweep.run` for the cells ``--only`` selects; each run is a
    ``train`` command line, run here."""
    args.quick = args.quick or settings.is_quick()
    out = args.out or Path("results/quick" if args.quick else "results")
    # The table ships inside the package (the results chapter reads it, in Colab too); the runs'
    # checkpoints stay under results/runs/.
    tables = args.out or (out if args.quick else pretrained.RESULTS_DIR)
    cache = {}

    def train(argv):
        return train_command(
            build_parser().parse_args(argv), "python -m imgen " + shlex.join(argv), cache
        )

    try:
        return sweep.run(args.only, args.model, out, tables, _sweep_options(args), train)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _sweep_options(args):
    """The keyword options of :func:`imgen.sweep.train_argv` a ``sweep`` command line sets."""
    names = ("quick", "epochs_scale", "device", "no_progress", "no_amp", "amp")
    return {name: getattr(args, name) for name in names}


def _train_argv(cell, model, out, args):
    """The ``train`` command line of one run of a ``sweep`` command line ``args``."""
    return sweep.train_argv(cell, model, out, **_sweep_options(args))


def baselines_command(args, command):
    """``baselines``: the article's cells' linear baselines, printed beside its values."""
    for name in args.data or article.PROTOCOLS:
        cells = [cell for cell in article.CELLS if cell.data == name]
        splits = article.load_splits(name, download=not args.no_download)
        sizes = ", ".join(f"{part} {len(images):,}" for part, images in splits._asdict().items())
        print(f"{article.PROTOCOLS[name].name} ({sizes} images):")
        results = baselines.article_baselines(cells, splits)
        print(baselines.baseline_table(results))
        if args.record:
            replicate.record_baselines(results, splits.evaluation, command)
    if args.record:
        print(f"recorded in {replicate.RESULTS / 'baselines.csv'}; {replicate.write_table()}")
    return 0


def _epochs(n):
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _load(name, split, subset, seed, cache=None, labels=None):
    """A data split, shrunk to ``subset`` images when given; kept in ``cache`` for the sweep.
    ``labels`` (CIFAR's fine or coarse) goes to the loader when given."""
    key = (name, split, subset, seed, labels)
    if cache is not None and key in cache:
        return cache[key]
    if labels is not None and name not in ("cifar", "cifar100"):
        raise UsageError(f"--labels is for CIFAR-100 (--data cifar), not --data {name}")
    images = data.load(name, split, **({"labels": labels} if labels else {}))
    if subset is not None and subset < len(images):
        images = images.subset(subset, seed)
    if cache is not None:
        cache[key] = images
    return images


def _device_name(device, amp=None):
    """Where a run trained, as the CSVs say: ``cpu``, ``cpu (bf16 autocast)``, ``cuda (..)``."""
    device = select_device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu" and amp:
        return "cpu (bf16 autocast)"
    return str(device)


def _add_runtime_arguments(parser):
    parser.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    precision.add_argument(
        "--amp",
        action="store_true",
        help="mixed precision on the CPU too: bfloat16, ~1.8x faster for the deep model where "
        "the CPU has AVX512-BF16 or AMX",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _number(kind, test, expected):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not test(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected  # argparse names the type in its messages
    return parse


_positive_int = _number(int, lambda n: n >= 1, "a whole number >= 1")
_non_negative_int = _number(int, lambda n: n >= 0, "a whole number >= 0")
_positive_float = _number(float, lambda x: x > 0, "a number > 0")
_non_negative_float = _number(float, lambda x: x >= 0, "a number >= 0")
