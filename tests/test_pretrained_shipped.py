"""The checkpoints shipped in ``imgen/checkpoints``: intact, within budget, and each one, loaded
in a fresh process, scores on the full test split what its manifest says (a GAN's generator:
its seeded FID, KID and IS-style score)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import missing_data

from imgen import data, pretrained

ALL = pretrained.available()
GANS = [name for name in ALL if pretrained.info(name)["task"] == "gan"]
SHIPPED = [name for name in ALL if name not in GANS]  # scored by test MSE or accuracy


def test_shipped_weights_stay_within_the_budget():
    total = sum(pretrained.info(name)["bytes"] for name in ALL)
    assert total <= pretrained.MAX_TOTAL_BYTES
    for name in ALL:
        assert (pretrained.CHECKPOINT_DIR / pretrained.info(name)["file"]).stat().st_size == (
            pretrained.info(name)["bytes"]
        )


@pytest.mark.parametrize("name", SHIPPED)
def test_manifest_says_how_each_checkpoint_was_made(name):
    entry = pretrained.info(name)
    if entry.get("cell"):  # a model of the article's table, trained on the cell's protocol
        assert re.match(r"python -m imgen article (ours|run) ", entry["command"])
        assert f"--cell {entry['cell']}" in entry["command"]
    else:
        assert entry["command"].startswith("python -m imgen train ")
        assert f"--data {entry['data']}" in entry["command"]
    assert entry["epochs"] >= 1 and entry["train_seconds"] > 0 and entry["seed"] is not None
    assert ("test_mse" in entry) != ("test_accuracy" in entry)


def _scored_test_split(name):
    """The shipped model's manifest entry and the test split it was scored on (else a skip)."""
    entry = pretrained.info(name)
    try:
        test = pretrained.test_split(name, download=False)
    except data.DataNotFoundError as error:
        missing_data(str(error).splitlines()[0])
    if not pretrained.same_data(name, test, warn=False):
        missing_data(f"{name} was scored on other {entry['dataset']} test images than these")
    return entry, test


@pytest.mark.parametrize("name", SHIPPED)
def test_checkpoint_reproduces_its_manifest_score_in_a_fresh_process(name):
    entry, test = _scored_test_split(name)
    assert len(test) == entry["test_images"], "the manifest score is on the whole test split"
    result = subprocess.run(
        [sys.executable, "-m", "imgen", "evaluate", "--checkpoint", name, "--data", entry["data"]],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
    )
    assert "not the ones" not in result.stderr, result.stderr
    score = float(re.findall(r"[-+0-9.e]+", result.stdout.rsplit(":", 1)[1])[0])
    expected = entry.get("test_mse", entry.get("test_accuracy"))
    # A score written by `python -m imgen rescore` was taken with the shipped float16 weights; one
    # written at training time with float32 weights, which float16 rounding may move a little.
    assert score == pytest.approx(expected, rel=0.02, abs=1e-4)


@pytest.mark.parametrize("name", GANS)
def test_manifest_says_how_each_generator_was_made_and_how_it_scores(name):
    entry = pretrained.info(name)
    assert entry["command"].startswith("python -m imgen gan train ")
    assert f"--data {entry['data']}" in entry["command"]
    assert f"--register {name}" in entry["command"]
    assert entry["steps"] >= 1 and entry["train_seconds"] > 0 and entry["seed"] is not None
    ours, real = entry["scores"]["generator"], entry["scores"]["real"]
    assert real["fid"] < ours["fid"] and real["kid"] < ours["kid"]
    assert len(entry["history"]["loss_d"]) == len(entry["history"]["step"])
    snapshots = pretrained.extra(name, "snapshots")
    assert len(snapshots) == len(entry["history"]["snapshot_steps"])


@pytest.mark.parametrize("name", GANS)
def test_generator_reproduces_its_manifest_scores_in_a_fresh_process(name):
    entry, test = _scored_test_split(name)
    result = subprocess.run(
        [sys.executable, "-m", "imgen", "gan", "score", "--checkpoint", name]
        + ["--data", entry["data"], "--seed", str(entry["seed"]), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
    )
    found = json.loads(result.stdout)
    for who in ("generator", "real"):
        for key in ("fid", "kid", "is"):
            expected = entry["scores"][who][key]
            assert found[who][key] == pytest.approx(expected, rel=0.02, abs=1e-3), (who, key)
