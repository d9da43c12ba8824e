"""Save and load checkpoints safely: atomic writes, ``weights_only`` reads.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so that it loads with
``torch.load(..., weights_only=True)``, which cannot run code hidden in a file. Writes go to a
temporary file in the same folder that then replaces the old file in one step, so a crash or a
Ctrl-C while saving never leaves a half-written checkpoint behind.

:func:`imgen.train.fit` and :mod:`imgen.pretrained` use these; the training chapter explains them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pickle
import re
import tempfile
from pathlib import Path

import torch

from imgen.models import MODELS, build_model


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be trusted or used: corrupt, unsafe, or for another model."""


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file beside ``path`` for binary writing; on success it replaces ``path``.

    The data is flushed and fsynced before :func:`os.replace` swaps it in. If the body raises
    (even ``KeyboardInterrupt``), the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as file:
        file.write(text.encode())


def write_csv(path, columns, rows):
    """Write ``rows`` (dicts keyed by ``columns``) to ``path`` as CSV with a header, atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())


def save_checkpoint(obj, path):
    """Write ``obj`` (a dict of tensors, numbers, strings, lists, dicts) to ``path`` atomically."""
    with atomic_open(path) as file:
        torch.save(obj, file)
    return Path(path)


def load_checkpoint(path, *, map_location="cpu"):
    """Load a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` for a file that
    is not a readable checkpoint or that holds objects other than plain tensors and containers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        what = f" (it contains a {found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path} holds objects other than tensors, numbers, strings, lists and dicts{what}, "
            "so it was not loaded: imgen loads checkpoints only with weights_only=True"
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated or corrupt): "
            f"{_first_line(error)}"
        ) from error


def model_spec(model):
    """``{"name": ..., "config": ...}`` for a model of the :data:`imgen.models.MODELS` registry.

    Returns None for a model that is not in the registry or has no ``config``; such a model can
    still be checkpointed, but not rebuilt from the checkpoint alone.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        return None
    for name, cls in MODELS.items():
        if type(model) is cls:
            return {"name": name, "config": dict(config)}
    return None


def describe(spec):
    """A model spec in words, for messages: ``model conv with config {'latent': 32, ...}``."""
    if spec is None:
        return "a model outside the imgen registry"
    return f"model {spec['name']} with config {spec['config']}"


def load_weights(model, state_dict, *, source):
    """Load ``state_dict`` into ``model``, or raise :class:`CheckpointError` naming ``source``.

    Shapes and names must match exactly; the message says what the weights are for.
    """
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        raise CheckpointError(
            f"the weights in {source} do not fit {describe(model_spec(model))}: "
            f"{_first_line(error, skip_header=True)}"
        ) from error


def model_from_checkpoint(checkpoint, *, device="cpu"):
    """Rebuild the model saved in a checkpoint (a path or a loaded dict), in eval mode.

    The checkpoint must hold ``"model"`` (a state_dict) and ``"model_spec"`` (see
    :func:`model_spec`), as :func:`imgen.train.fit` and :func:`imgen.pretrained.register` write.
    """
    source = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    where = "the checkpoint" if isinstance(checkpoint, dict) else str(checkpoint)
    spec = source.get("model_spec")
    if spec is None:
        raise CheckpointError(
            f"{where} does not say which model it is for (no model_spec: the model was not from "
            "imgen.models); build the model yourself and load its 'model' state_dict"
        )
    model = build_model(spec["name"], **spec["config"])
    load_weights(model, source["model"], source=where)
    return model.to(device).eval()


def _first_line(error, skip_header=False):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if skip_header and len(lines) > 1:
        lines = lines[1:]
    return lines[0] if lines else type(error).__name__


def _fsync_folder(folder):
    # Makes the rename itself durable on POSIX; folders cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
