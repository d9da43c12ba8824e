"""What a shipped checkpoint promises: it loads ready to use, and nothing else loads."""

import hashlib
import json

import pytest
import torch

from imgen import cli, data, pretrained
from imgen.checkpoint import CheckpointError, save_checkpoint
from imgen.data import ImageData
from imgen.models import build_model
from imgen.train import evaluate, fit

METRICS = {
    "dataset": "tiny",
    "train_images": 8,
    "test_images": 8,
    "test_mse": 0.05,
    "train_seconds": 0.1,
    "device": "cpu",
}
COMMAND = "python -m imgen train --data tiny"


@pytest.fixture
def shelf(tmp_path, monkeypatch):
    """An empty checkpoint folder in place of the package's own."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", folder)
    return folder


def trained_checkpoint(tmp_path, latent=4):
    torch.manual_seed(0)
    model = build_model("basic", in_shape=(1, 8, 8), latent=latent)
    images = torch.randint(0, 256, (8, 1, 8, 8), dtype=torch.uint8)
    fit(
        model,
        images,
        batch_size=4,
        progress=False,
        device="cpu",
        checkpoint=tmp_path / f"run{latent}.pt",
    )
    return model, tmp_path / f"run{latent}.pt"


class Payload:
    """Stands for any object that unpickling would have to construct (and could run code)."""


def rewrite_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest["checkpoints"])
    (folder / "manifest.json").write_text(json.dumps(manifest))


def trust_file_as_it_is(folder, name):
    """Record the file's current sha256 in the manifest, so that the checks after it run."""
    digest = hashlib.sha256((folder / f"{name}.pt").read_bytes()).hexdigest()
    rewrite_manifest(folder, lambda entries: entries[name].update(sha256=digest))


def test_a_registered_checkpoint_loads_ready_to_use(shelf, tmp_path):
    model, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)

    loaded = pretrained.load("tiny-basic")
    assert not loaded.training
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.allclose(loaded.state_dict()[key], value, atol=1e-3)  # stored as float16
    assert pretrained.available() == ["tiny-basic"]


def test_the_manifest_says_how_it_was_trained(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    entry = pretrained.info("tiny-basic")
    assert entry["model"] == "basic" and entry["config"]["latent"] == 4 == entry["latent"]
    assert entry["epochs"] == 1 and entry["batch_size"] == 4 and entry["seed"] == 0
    assert entry["test_mse"] == 0.05 and entry["dataset"] == "tiny"
    assert entry["command"] == COMMAND and entry["task"] == "reconstruct"
    data = (shelf / "tiny-basic.pt").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["bytes"] == len(data)


def test_registering_keeps_weights_only_no_optimiser(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    shipped = torch.load(shelf / "tiny-basic.pt", weights_only=True)
    assert set(shipped) == {"format", "model", "model_spec"}
    assert all(t.dtype == torch.float16 for t in shipped["model"].values())
    assert (shelf / "tiny-basic.pt").stat().st_size < path.stat().st_size


def test_registering_past_the_size_limit_is_refused(shelf, tmp_path, monkeypatch):
    _, path = trained_checkpoint(tmp_path)
    monkeypatch.setattr(pretrained, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(ValueError, match="over the 0 MB limit"):
        pretrained.register("tiny-basic", path, METRICS, COMMAND)
    assert pretrained.available() == []


def test_a_tampered_file_is_refused(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    data = bytearray((shelf / "tiny-basic.pt").read_bytes())
    data[-100] ^= 0xFF
    (shelf / "tiny-basic.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered or corrupt"):
        pretrained.load("tiny-basic")


def test_a_checkpoint_for_another_architecture_is_refused(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    rewrite_manifest(shelf, lambda entries: entries["tiny-basic"]["config"].update(latent=5))
    with pytest.raises(
        CheckpointError,
        match="is for model basic with config .*'latent': 4.*, "
        "not model basic with config .*'latent': 5",
    ):
        pretrained.load("tiny-basic")


def test_weights_that_do_not_fit_their_model_are_refused(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    wrong, _ = trained_checkpoint(tmp_path, latent=5)
    spec = {"name": "basic", "config": {"in_shape": [1, 8, 8], "latent": 4}}
    save_checkpoint({"model": wrong.state_dict(), "model_spec": spec}, shelf / "tiny-basic.pt")
    trust_file_as_it_is(shelf, "tiny-basic")
    with pytest.raises(CheckpointError, match="weights do not fit .* size mismatch"):
        pretrained.load("tiny-basic")


def test_a_checkpoint_holding_a_custom_object_is_refused(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    torch.save({"model": {}, "extra": Payload()}, shelf / "tiny-basic.pt")
    trust_file_as_it_is(shelf, "tiny-basic")
    with pytest.raises(CheckpointError, match="contains a .*Payload.*weights_only"):
        pretrained.load("tiny-basic")


def test_an_unknown_name_lists_the_available_ones(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    with pytest.raises(ValueError, match="no pretrained checkpoint named 'nope'; available: tiny"):
        pretrained.load("nope")


def test_a_missing_file_is_named(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, METRICS, COMMAND)
    (shelf / "tiny-basic.pt").unlink()
    with pytest.raises(FileNotFoundError, match="tiny-basic.pt is missing"):
        pretrained.load("tiny-basic")


def test_a_bad_name_is_refused(shelf, tmp_path):
    _, path = trained_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="lower-case letters"):
        pretrained.register("../Tiny", path, METRICS, COMMAND)


def test_the_shipped_manifest_lists_files_that_match_their_sha256():
    for name in pretrained.available():
        entry = pretrained.info(name)
        data = (pretrained.CHECKPOINT_DIR / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
    sizes = [pretrained.info(name)["bytes"] for name in pretrained.available()]
    assert sum(sizes) <= pretrained.MAX_TOTAL_BYTES


def test_the_shipped_sweep_table_covers_only_the_articles_cells():
    rows = pretrained.sweep_results()
    assert rows, "imgen/results/course_sweep.csv holds no runs"
    cells = {(c.data, c.model, c.latent, c.task): c.article_mse for c in cli.SWEEP_CELLS}
    for row in rows:
        key = (row["data"], row["article_model"], row["latent"], row["task"])
        assert cells[key] == row["article_mse"]
        assert row["model"] in (row["article_model"], cli.OUR_MODEL)
        assert 0 < row["our_mse"] < 0.1
        assert row["command"].startswith("python -m imgen train ")
    assert "| MNIST | 32 | reconstruct | basic | 0.017 |" in pretrained.sweep_table()


def test_the_shipped_sweep_table_holds_every_cell_for_both_models():
    cells = {(c.data, c.model, c.latent, c.task) for c in cli.SWEEP_CELLS}
    done = {
        (row["data"], row["article_model"], row["latent"], row["task"], row["model"])
        for row in pretrained.sweep_results()
    }
    missing = [
        (*cell, model)
        for cell in sorted(cells)
        for model in (cell[1], cli.OUR_MODEL)
        if (*cell, model) not in done
    ]
    assert not missing, f"course_sweep.csv lacks these runs: {missing}"
    table_rows = [line for line in pretrained.sweep_table().splitlines() if line.startswith("|")]
    assert len(table_rows) == 2 + len(cells)  # header, rule, one line per cell
    assert not [line for line in table_rows if "| – |" in line]


def test_a_missing_sweep_table_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m imgen sweep"):
        pretrained.sweep_results(tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m imgen sweep"):
        pretrained.sweep_table(tmp_path)


def tiny_split(images, name="Tiny"):
    return ImageData(images.contiguous(), None, (), name, "test")


def test_rescore_scores_the_data_as_it_is_now_and_records_what_it_replaced(
    shelf, tmp_path, monkeypatch
):
    _, path = trained_checkpoint(tmp_path)
    pretrained.register("tiny-basic", path, {**METRICS, "data": "tiny"}, COMMAND)
    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator())
    monkeypatch.setattr(data, "load", lambda name, split, **kwargs: tiny_split(images, "Tiny-2"))

    entry = pretrained.rescore("tiny-basic", command="python -m imgen rescore tiny-basic")

    assert entry["test_mse"] == pytest.approx(evaluate(pretrained.load("tiny-basic"), images))
    assert (entry["test_images"], entry["dataset"]) == (6, "Tiny-2")
    assert entry["test_fingerprint"] == tiny_split(images).fingerprint()
    assert entry["rescored"]["previous"] == {"test_mse": 0.05, "dataset": "tiny", "test_images": 8}
    assert entry["rescored"]["command"] == "python -m imgen rescore tiny-basic"
    assert pretrained.info("tiny-basic") == json.loads(json.dumps(entry))


def test_same_data_ignores_order_and_warns_plainly_when_the_images_differ(
    shelf, tmp_path, monkeypatch
):
    _, path = trained_checkpoint(tmp_path)
    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    fingerprint = tiny_split(images).fingerprint()
    pretrained.register("tiny-basic", path, {**METRICS, "test_fingerprint": fingerprint}, COMMAND)

    assert pretrained.same_data("tiny-basic", tiny_split(images.flip(0)))
    other = images.clone()
    other[0, 0, 0, 0] ^= 1
    with pytest.warns(UserWarning, match="not the ones 'tiny-basic' was scored on"):
        assert not pretrained.same_data("tiny-basic", tiny_split(other))


def test_fingerprint_is_the_sha256_of_the_sorted_image_bytes():
    images = torch.tensor([[[[3, 1]]], [[[0, 9]]]], dtype=torch.uint8)  # two 1x1x2 images
    expected = hashlib.sha256(bytes([0, 9, 3, 1])).hexdigest()
    assert tiny_split(images).fingerprint() == expected


def test_every_shipped_checkpoint_records_the_fingerprint_of_its_test_data():
    for name in pretrained.available():
        assert len(pretrained.info(name).get("test_fingerprint", "")) == 64, name


def test_the_cifar_models_were_scored_on_the_official_cifar100_test_set():
    digest = "43fc83e79f59a5479e33e66306dcf48157eb182343947416395290d563fa8ad3"  # SOURCE.md
    for name in pretrained.available():
        entry = pretrained.info(name)
        if entry["data"] == "cifar":
            assert (entry["dataset"], entry["test_fingerprint"]) == ("CIFAR-100", digest), name
