"""Ready-trained models shipped inside the package, so that a laptop can follow every chapter.

Each checkpoint is ``imgen/checkpoints/<name>.pt`` (weights only, float16) and has an entry in
``imgen/checkpoints/manifest.json`` that says how it was trained (data, model and config, task,
epochs, seed, the exact command), how well it scores on the test split, and its sha256. Loading
checks the sha256 first and then reads the file with ``weights_only=True``.

Chapters show their results with :func:`load`; ``python -m imgen train --register NAME`` adds one,
``python -m imgen article register --cell ID --name NAME`` one of the article's table (its entry
names the ``cell``, and :func:`test_split` gives the images the article scored).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
import warnings
from pathlib import Path

import torch

from imgen import article
from imgen import data as datasets
from imgen.checkpoint import CheckpointError, atomic_open, describe, load_checkpoint
from imgen.models import build_model
from imgen.train import evaluate

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
MANIFEST = "manifest.json"
MAX_TOTAL_BYTES = 40_000_000  # all shipped weights together, to keep the package small
# The sweep's table (``python -m imgen sweep``): the article's test MSEs beside ours, per run.
RESULTS_DIR = Path(__file__).parent / "results"
_FLOAT_COLUMNS = ("article_mse", "our_mse", "seconds")
_INT_COLUMNS = ("latent", "epochs", "train_images")


def available(folder=None):
    """The names of the shipped checkpoints, sorted."""
    return sorted(_read_manifest(folder)["checkpoints"])


def sweep_results(folder=None):
    """The sweep's rows (``course_sweep.csv`` shipped in ``imgen/results/``): one dict per run, with
    ``data``, ``model``, ``latent``, ``task``, ``article_model``, ``article_mse``, ``our_mse``
    (the test MSE here), ``epochs``, ``seconds`` and the ``command`` that trained it."""
    with _results_file(folder, "course_sweep.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        row.update({key: float(row[key]) for key in _FLOAT_COLUMNS})
        row.update({key: int(row[key]) for key in _INT_COLUMNS})
    return rows


def sweep_table(folder=None):
    """The course sweep's Markdown table (``course_sweep.md``): the article's numbers beside
    ours, per cell."""
    return _results_file(folder, "course_sweep.md").read_text(encoding="utf-8")


def _results_file(folder, name):
    path = Path(folder or RESULTS_DIR) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m imgen sweep` to make it")
    return path


def info(name, folder=None):
    """The manifest entry of checkpoint ``name``: how it was trained and how well it scores."""
    checkpoints = _read_manifest(folder)["checkpoints"]
    if name not in checkpoints:
        names = ", ".join(sorted(checkpoints)) or "none yet"
        raise ValueError(f"no pretrained checkpoint named {name!r}; available: {names}")
    return dict(checkpoints[name])


def load(name, *, device="cpu", folder=None):
    """The trained model ``name`` (see :func:`available`), in eval mode on ``device``.

    Raises ``ValueError`` for an unknown name, ``FileNotFoundError`` when its file is missing,
    and :class:`imgen.checkpoint.CheckpointError` when the file's sha256 differs from the
    manifest's (tampered or corrupt), holds more than weights, or does not fit the model.
    """
    entry = info(name, folder)
    saved = _verified(name, entry, folder)
    spec = {"name": entry["model"], "config": entry["config"]}
    if _plain(saved.get("model_spec")) != _plain(spec):
        raise CheckpointError(
            f"checkpoint {name!r} is for {describe(saved.get('model_spec'))}, "
            f"not {describe(spec)} as {MANIFEST} says"
        )
    model = build_model(spec["name"], **spec["config"])
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as error:
        detail = [line.strip() for line in str(error).splitlines() if line.strip()][-1]
        raise CheckpointError(
            f"checkpoint {name!r} is for {describe(spec)}, but its weights do not fit the "
            f"model this version of imgen builds from that config: {detail}"
        ) from error
    return model.to(device).eval()


def extra(name, key, *, folder=None):
    """A tensor shipped beside the weights of pretrained model ``name`` (see ``keep`` in
    :func:`register`), such as a GAN's training ``"snapshots"``; checked by sha256 as in
    :func:`load`."""
    entry = info(name, folder)
    saved = _verified(name, entry, folder)
    if key not in saved:
        raise KeyError(f"pretrained checkpoint {name!r} ships no {key!r} beside its weights")
    return saved[key]


def register(
    name, checkpoint_path, metrics, command, *, folder=None, dtype=torch.float16, keep=()
):
    """Ship the weights of a :func:`imgen.train.fit` checkpoint as pretrained model ``name``.

    Writes ``<name>.pt`` (the state_dict in ``dtype`` and the model's name and config: no
    optimiser) and its manifest entry, both atomically; ``metrics`` (as ``metrics.json`` of
    ``python -m imgen train``) gives the data set, split sizes, test score, seconds and device.
    ``keep`` names further tensors of the checkpoint to ship as they are (a GAN's fixed-noise
    ``snapshots``; :func:`extra` reads them back). A GAN's ``metrics`` also carry its
    ``scores``, ``steps``, ``loss`` and ``judge``, which the entry keeps. Refuses to let all
    shipped weights grow past :data:`MAX_TOTAL_BYTES`. Returns the entry.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name):
        raise ValueError(
            f"a pretrained name is lower-case letters, digits, '-', '_' and '.', got {name!r}"
        )
    saved = load_checkpoint(checkpoint_path)
    spec = saved.get("model_spec")
    if spec is None:
        raise CheckpointError(
            f"{checkpoint_path} holds a model outside imgen.models, which cannot be rebuilt "
            "from its name and config, so it cannot be registered"
        )
    weights = {
        key: value.detach().to("cpu", dtype, copy=True) if value.is_floating_point() else value
        for key, value in saved["model"].items()
    }
    buffer = io.BytesIO()
    extras = {key: saved[key] for key in keep if saved.get(key) is not None}
    torch.save(
        {"format": "imgen-weights-1", "model": weights, "model_spec": spec, **extras}, buffer
    )
    data = buffer.getvalue()

    folder = _folder(folder)
    manifest = _read_manifest(folder)
    others = sum(e["bytes"] for n, e in manifest["checkpoints"].items() if n != name)
    if others + len(data) > MAX_TOTAL_BYTES:
        raise ValueError(
            f"registering {name!r} ({len(data) / 1e6:.1f} MB) would make the shipped weights "
            f"{(others + len(data)) / 1e6:.1f} MB, over the {MAX_TOTAL_BYTES / 1e6:.0f} MB limit"
        )
    fit_args = saved.get("fit_args", {})
    occlusion = fit_args.get("occlusion")
    entry = {
        "file": f"{name}.pt",
        "sha256": _sha256(data),
        "bytes": len(data),
        "weights_dtype": str(dtype).removeprefix("torch."),
        "model": spec["name"],
        "config": _plain(spec["config"]),
        "data": metrics.get("data"),
        "dataset": metrics.get("dataset"),
        "train_images": metrics.get("train_images"),
        "test_images": metrics.get("test_images"),
        "task": fit_args.get("task"),
        "occlusion": occlusion["kind"] if occlusion and len(occlusion) == 1 else occlusion,
        "latent": spec["config"].get("latent"),
        "epochs": saved.get("epoch"),
        "seed": fit_args.get("seed"),
        "batch_size": fit_args.get("batch_size"),
        "lr": fit_args.get("lr"),
        "schedule": fit_args.get("schedule"),
        "weight_decay": fit_args.get("weight_decay"),
        "augment": fit_args.get("augment", "none"),
        **{key: metrics[key] for key in ("test_mse", "test_accuracy") if key in metrics},
        **{key: metrics[key] for key in ("labels", "test_fingerprint", "cell") if metrics.get(key)},
        **{key: metrics[key] for key in ("beta", "test_elbo") if key in metrics},
        **{key: metrics[key] for key in ("scores", "steps", "loss", "judge") if key in metrics},
        "train_seconds": metrics.get("train_seconds"),
        "device": metrics.get("device"),
        "history": metrics.get("history"),
        "command": command,
        "date": datetime.date.today().isoformat(),
        "torch_version": str(torch.__version__),
    }
    with atomic_open(folder / entry["file"]) as file:
        file.write(data)
    manifest["checkpoints"][name] = _plain(entry)
    _write_manifest(folder, manifest)
    return entry


def test_split(name, *, folder=None, **kwargs):
    """The test split that checkpoint ``name`` is scored on (its data set and labels), loaded
    with :func:`imgen.data.load`; ``kwargs`` (``root``, ``download``) go to the loader. A model
    of one of the article's cells (its entry names the ``cell``) is scored on the images the
    article scored: :func:`imgen.article.load_splits`' ``evaluation``."""
    entry = info(name, folder)
    if entry.get("cell"):
        return article.load_splits(entry["data"], **kwargs).evaluation
    if entry.get("labels"):
        kwargs["labels"] = entry["labels"]
    return datasets.load(entry["data"], "test", **kwargs)


def same_data(name, test, *, folder=None, warn=True):
    """True when ``test`` (an ImageData) holds exactly the images checkpoint ``name`` was scored
    on, by the order-free :meth:`~imgen.data.ImageData.fingerprint` in its manifest.

    Otherwise it returns False and, with ``warn``, says so in a plain warning: a score computed
    here can then differ from the manifest's. Chapters call it before they quote a manifest score.
    """
    entry = info(name, folder)
    expected = entry.get("test_fingerprint")
    if expected is not None and expected == test.fingerprint():
        return True
    if warn:
        what = (
            "no fingerprint of its test data"
            if expected is None
            else f"a test split of {entry['test_images']:,} {entry['dataset']} images"
        )
        warnings.warn(
            f"the {len(test):,} {test.name} test images here are not the ones {name!r} was "
            f"scored on ({what}, fingerprint {str(expected)[:12]}...): scores computed here can "
            "differ from its manifest's",
            UserWarning,
            stacklevel=2,
        )
    return False


def rescore(name, *, command, device="auto", folder=None, **load_kwargs):
    """Score shipped checkpoint ``name`` again on the whole test split of its data set as it is
    now, and write the new score, test size and data fingerprint into its manifest entry.

    The entry keeps its training history and records ``rescored``: the date, ``command`` and the
    score, data set and test size it replaces. Used when the data under a shipped model change
    (``python -m imgen rescore NAME``). Returns the updated entry.
    """
    entry = info(name, folder)
    test = test_split(name, folder=folder, **load_kwargs)
    model = load(name, folder=folder)
    if tuple(entry["config"]["in_shape"]) != test.shape:
        raise ValueError(
            f"{name!r} takes images shaped {tuple(entry['config']['in_shape'])}, but the "
            f"{test.name} test images are {test.shape}"
        )
    task = entry["task"]
    occlusion = entry.get("occlusion") or "bottom"
    score = evaluate(model, test, task=task, occlusion=occlusion, device=device, seed=entry["seed"])
    metric = "test_accuracy" if task == "classify" else "test_mse"
    previous = {key: entry.get(key) for key in (metric, "dataset", "test_images")}
    entry.update(
        {
            metric: score,
            "dataset": test.name,
            "test_images": len(test),
            "test_fingerprint": test.fingerprint(),
            "rescored": {
                "date": datetime.date.today().isoformat(),
                "command": command,
                "previous": previous,
                "note": "history (the training curves) was measured on the previous test data",
            },
        }
    )
    folder = _folder(folder)
    manifest = _read_manifest(folder)
    manifest["checkpoints"][name] = _plain(entry)
    _write_manifest(folder, manifest)
    return entry


def _verified(name, entry, folder):
    """The file of checkpoint ``name``, loaded once its sha256 matches the manifest's."""
    path = _folder(folder) / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained checkpoint {name!r} is listed in {MANIFEST} but its file {path} is "
            "missing; reinstall imgen, or train it again with `python -m imgen train ... "
            f"--register {name}`"
        )
    digest = _sha256(path.read_bytes())
    if digest != entry["sha256"]:
        raise CheckpointError(
            f"{path} does not match the sha256 in {MANIFEST} (expected {entry['sha256'][:12]}..., "
            f"got {digest[:12]}...): the file is tampered or corrupt, so it was not loaded"
        )
    return load_checkpoint(path)


def _write_manifest(folder, manifest):
    with atomic_open(folder / MANIFEST) as file:
        file.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def _folder(folder):
    # Read at call time, so that tests can point CHECKPOINT_DIR at a temporary folder.
    return CHECKPOINT_DIR if folder is None else Path(folder)


def _read_manifest(folder):
    path = _folder(folder) / MANIFEST
    if not path.is_file():
        return {"checkpoints": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _plain(value):
    """``value`` as JSON would give it back: tuples become lists, so configs compare equal."""
    return json.loads(json.dumps(value))
