"""The article's cells re-run as its code ran them (imgen.replicate) and fit's optimisers."""

from __future__ import annotations

import csv
import json
import shlex

import pytest
import torch

from imgen import article, baselines, pretrained, replicate
from imgen.cli import main
from imgen.data import ImageData
from imgen.models import build_model
from imgen.train import evaluate, fit


def images(n, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)


def splits_for(name, n=40, seed=0):
    """Small random images shaped as data set ``name`` under the article's protocol."""
    shape = article.PROTOCOLS[name].shape

    def part(split, k):
        return ImageData(images(n, shape, seed + k), None, (), name, split)

    train, val = part("train", 0), part("val", 1)
    return article.ArticleSplits(train, val, val if name == "lfw" else part("test", 2))


# ---------------------------------------------------------------------------- fit's optimisers


def tiny_run(tmp_path, optimizer, **options):
    torch.manual_seed(0)
    model = build_model("dense", in_shape=(1, 8, 8), latent=4)
    history = fit(
        model, images(64, (1, 8, 8)), epochs=1, batch_size=16, optimizer=optimizer,
        progress=False, checkpoint=tmp_path / "c.pt", **options,
    )
    return model, history


def test_adamax_trains_and_differs_from_adam(tmp_path):
    adam, h_adam = tiny_run(tmp_path / "a", "adam")
    adamax, h_adamax = tiny_run(tmp_path / "b", "adamax")
    saved = torch.load(tmp_path / "b" / "c.pt", weights_only=True)
    assert saved["fit_args"]["optimizer"] == "adamax"
    assert "exp_inf" in saved["optimizer"]["state"][0]  # Adamax's infinity norm, not Adam's
    assert h_adam.train_loss != h_adamax.train_loss


def test_resuming_with_another_optimiser_is_refused(tmp_path):
    tiny_run(tmp_path, "adam")
    with pytest.raises(ValueError, match="optimizer='adam' there but 'adamax' here"):
        tiny_run(tmp_path, "adamax", resume=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"optimizer": "adamax", "weight_decay": 0.1}, "adamax takes none"),
    ],
)
def test_fit_refuses_an_unknown_optimiser_or_weight_decay_with_adamax(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        tiny_run(tmp_path, **options)


# --------------------------------------------------------------------------------- run_cell


def test_a_cell_runs_as_its_code_did_and_goes_into_the_table(tmp_path):
    cell = article.cell("cifar/basic/32/complete")  # latent 64, Adam, 10 epochs of batch 32
    splits = splits_for("cifar")
    model, metrics = replicate.run_cell(cell, splits, tmp_path / "run", progress=False)
    assert metrics["complete"] and metrics["epochs"] == cell.epochs == 10
    assert model.config["latent"] == 64 and metrics["batch_size"] == 32
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["fit_args"]["occlusion"] == {"kind": "below-middle"}
    assert saved["fit_args"]["optimizer"] == "adam" and saved["fit_args"]["lr"] == 1e-3
    assert metrics["evaluation_images"] == 40 and metrics["evaluated_on"] == "test"
    assert metrics["evaluation_fingerprint"] == splits.evaluation.fingerprint()

    # Run again: the checkpoint is complete, so nothing trains and the score is the same.
    _, again = replicate.run_cell(cell, splits, tmp_path / "run", progress=False)
    assert again["mse"] == metrics["mse"] and again["seconds"] == metrics["seconds"]

    table = tmp_path / "article.csv"
    replicate.record(metrics, "python -m imgen article run --cell " + cell.id, table)
    rows = replicate.read_rows(table)
    assert list(rows) == [16] and float(rows[16]["mse"]) == metrics["mse"]
    text = replicate.article_table(rows, {}, {})
    line = next(line for line in text.splitlines() if "cifar/basic/32/complete" in line)
    assert f"{metrics['mse']:.4g}" in line and f"{metrics['mse'] / cell.printed_mse:.2f}" in line


def test_ours_starts_at_the_baseline_keeps_its_linear_maps_and_goes_into_the_table(tmp_path):
    cell = article.cell("cifar/deep/64/complete")
    splits = splits_for("cifar", 80)
    recipe = {"width": 4, "epochs": 2}
    start = replicate.ours_model(cell, splits.train, recipe)
    linear = {k: v.clone() for k, v in start.state_dict().items() if ".first." in k}
    model, metrics = replicate.run_ours(cell, splits, tmp_path / "ours", recipe=recipe,
                                        progress=False)
    assert metrics["complete"] and metrics["epochs"] == 2 and metrics["model"] == "linear-start"
    assert json.loads(metrics["recipe"])["width"] == 4
    trained = model.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in linear.items())  # frozen: still the baseline
    assert any(not torch.equal(trained[k], v) for k, v in start.state_dict().items()
               if k not in linear)
    replicate.record_ours(metrics, "python -m imgen article ours --cell " + cell.id,
                          tmp_path / "ours.csv")
    ours = replicate.read_rows(tmp_path / "ours.csv")
    assert sorted(ours) == [16, 18]  # cifar/basic/32/complete ran a code of 64 too: one run
    assert ours[16]["cell"] == "cifar/basic/32/complete" and ours[16]["mse"] == ours[18]["mse"]
    floors = {cell.row: {"mse": "0.03", "method": "ridge"}}
    line = next(line for line in replicate.article_table({}, floors, ours).splitlines()
                if cell.id in line)
    assert f"| {metrics['mse']:.4g} |" in line and f"{metrics['mse'] / 0.03:.2f} |" in line
    _, short = replicate.run_ours(cell, splits, tmp_path / "short", recipe=recipe,
                                  progress=False, max_steps=1)
    with pytest.raises(ValueError, match="all the recipe's epochs"):
        replicate.record_ours(short, "x", tmp_path / "ours.csv")


def test_a_finished_run_ships_as_a_pretrained_model_scored_as_the_article_scored(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tmp_path / "shelf")
    (tmp_path / "shelf").mkdir()
    cell = article.cell("cifar/deep/64/complete")
    splits = splits_for("cifar", 80)
    recipe = {"width": 4, "epochs": 1}
    model, metrics = replicate.run_ours(cell, splits, tmp_path / "ours", recipe=recipe,
                                        progress=False)
    command = "python -m imgen article ours --cell " + cell.id
    entry = replicate.register(cell, splits, tmp_path / "ours", "cifar-ours-64", command)
    assert entry["cell"] == cell.id and entry["command"] == command
    assert entry["test_mse"] == metrics["mse"] and entry["test_images"] == len(splits.evaluation)
    assert entry["weights_dtype"] in ("float16", "float32") and entry["task"] == "complete"
    shipped = pretrained.load("cifar-ours-64")
    score = evaluate(shipped, splits.evaluation, task=cell.task, occlusion=cell.occlusion)
    assert f"{score:.3g}" == f"{metrics['mse']:.3g}"  # float16 only where it holds
    with pytest.raises(ValueError, match="holds a run of 'cifar/deep/64/complete'"):
        replicate.register("cifar/deep/128/complete", splits, tmp_path / "ours", "x", command)
    with pytest.raises(ValueError, match="other test images"):
        replicate.register(cell, splits_for("cifar", 80, seed=5), tmp_path / "ours", "x", command)
    _, short = replicate.run_ours(cell, splits, tmp_path / "short", recipe=recipe,
                                  progress=False, max_steps=1)
    with pytest.raises(ValueError, match="all its epochs"):
        replicate.register(cell, splits, tmp_path / "short", "x", command)
    with pytest.raises(FileNotFoundError, match="not the folder of a finished run"):
        replicate.register(cell, splits, tmp_path / "none", "x", command)


def test_adamax_cells_train_with_adamax(tmp_path):
    cell = article.cell("mnist/deep/32/reconstruct")
    assert cell.optimiser == "adamax"
    replicate.run_cell(cell, splits_for("mnist", 8), tmp_path, progress=False, max_steps=1)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["fit_args"]["optimizer"] == "adamax" and saved["fit_args"]["batch_size"] == 32


def test_a_run_cut_short_is_not_recorded(tmp_path):
    cell = article.cell("lfw/basic/32/reconstruct")
    _, metrics = replicate.run_cell(
        cell, splits_for("lfw"), tmp_path, progress=False, max_steps=2
    )
    assert not metrics["complete"] and metrics["evaluated_on"] == "val"
    with pytest.raises(ValueError, match="only a run of all the cell's epochs"):
        replicate.record(metrics, "x", tmp_path / "article.csv")
    assert not (tmp_path / "article.csv").exists()


def test_run_cell_refuses_images_of_another_shape_or_no_splits(tmp_path):
    cell = article.cell("lfw/basic/32/reconstruct")
    with pytest.raises(ValueError, match=r"shaped \(3, 45, 45\).*got \(3, 32, 32\)"):
        replicate.run_cell(cell, splits_for("cifar"), tmp_path)
    with pytest.raises(TypeError, match="ArticleSplits"):
        replicate.run_cell(cell, images(4, (3, 45, 45)), tmp_path)
    with pytest.raises(ValueError, match="no article cell"):
        replicate.run_cell("lfw/basic/33/reconstruct", splits_for("lfw"), tmp_path)


def test_faces_of_seen_and_unseen_people_are_scored_apart(tmp_path):
    cell = article.cell("lfw/basic/32/reconstruct")
    shape = article.PROTOCOLS["lfw"].shape
    train = ImageData(images(6, shape), torch.tensor([0, 0, 1, 1, 2, 2]), ("a", "b", "c", "d"),
                      "LFW", "train")
    faces = images(5, shape, seed=3)
    # people 0 and 2 are in train, 3 is not; the last two faces are black
    faces[3:] = 0
    val = ImageData(faces, torch.tensor([0, 2, 0, 3, 3]), train.classes, "LFW", "val")
    splits = article.ArticleSplits(train, val, val)
    torch.manual_seed(0)
    model = cell.build().eval()
    found = replicate.seen_and_unseen(model, cell, splits)
    assert found["seen"][0] == 3 and found["unseen"][0] == 2 and found["all"][0] == 5
    total = found["seen"][0] * found["seen"][1] + found["unseen"][0] * found["unseen"][1]
    assert total / 5 == pytest.approx(found["all"][1])
    path = replicate.record_people(cell, found, "cmd", tmp_path / "people.csv")
    assert "| 7 | lfw/basic/32/reconstruct | 3 |" in path.with_suffix(".md").read_text()
    with pytest.raises(ValueError, match="only LFW"):
        replicate.seen_and_unseen(model, article.cell("mnist/basic/32/reconstruct"), splits)
    replicate.run_cell(cell, splits, tmp_path / "run", progress=False, max_steps=1)
    again = replicate.trained_model(cell, tmp_path / "run" / "checkpoint.pt")
    assert again.config == model.config


def test_baselines_are_recorded_by_cell(tmp_path):
    splits = splits_for("mnist", 60)
    cells = [c for c in article.CELLS if c.data == "mnist" and c.model == "article-basic"]
    results = baselines.article_baselines(cells, splits)
    path = replicate.record_baselines(results, splits.evaluation, "cmd", tmp_path / "b.csv")
    rows = replicate.read_rows(path)
    assert sorted(rows) == [1, 2]
    assert rows[1]["method"] == "pca" and rows[2]["method"] == "ridge" and rows[2]["strength"]
    assert float(rows[2]["mse"]) == results[1].mse


def test_the_command_line_runs_a_cell_and_refuses_an_unknown_one(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["article", "run", "--cell", "lfw/basic/33/reconstruct"])
    assert "invalid choice" in capsys.readouterr().err
    monkeypatch.setattr(replicate, "RESULTS", tmp_path)  # an empty article.csv: nothing to ship
    with pytest.raises(SystemExit):
        main(["article", "register", "--faithful", "--cell", "mnist/deep/32/reconstruct",
              "--name", "x", "--runs", tmp_path])
    assert "article.csv has no run of mnist/deep/32/reconstruct" in capsys.readouterr().err


# ------------------------------------------------------------------------- the shipped table


def shipped_rows(name):
    path = replicate.RESULTS / name
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_the_shipped_article_table_is_rendered_from_the_shipped_rows():
    assert (replicate.RESULTS / "sweep.md").read_text() == replicate.article_table()


def test_every_cell_has_its_linear_baseline_and_every_basic_cell_a_faithful_rerun():
    floors = replicate.read_rows(replicate.RESULTS / "baselines.csv")
    runs = replicate.read_rows(replicate.RESULTS / "article.csv")
    assert sorted(floors) == [cell.row for cell in article.CELLS]
    basic = [cell.row for cell in article.CELLS if cell.model == "article-basic"]
    assert set(basic) <= set(runs)
    for row in runs.values():
        cell = article.cell(row["cell"])
        assert int(row["row"]) == cell.row and int(row["epochs"]) == cell.epochs
        argv = shlex.split(row["command"])
        assert argv[:5] == ["python", "-m", "imgen", "article", "run"]
        assert argv[argv.index("--cell") + 1] == cell.id
        sizes = article.PROTOCOLS[cell.data].code_sizes
        assert int(row["train_images"]) in (sizes[0], {"lfw": 10_586, "cifar": 16_000}.get(
            cell.data))


def test_the_cost_table_lists_exactly_the_cells_not_re_run():
    """imgen/results/cost.md (benchmarks/article_plan.py --cost) names every cell without a row in
    article.csv, with an estimate, and none with one; rerun it when a faithful run lands."""
    runs = replicate.read_rows(replicate.RESULTS / "article.csv")
    text = (replicate.RESULTS / "cost.md").read_text()
    left, rerun = text.split("\n\nIn all ")
    listed = [int(line.split("|")[1]) for line in left.splitlines()[2:]]
    assert listed == [cell.row for cell in article.CELLS if cell.row not in runs]
    assert all(line.rstrip().endswith((" h |", " min |")) for line in left.splitlines()[2:])
    compared = [int(line.split("|")[1]) for line in rerun.splitlines() if line.startswith("| ")
                and line.split("|")[1].strip().isdigit()]
    assert compared == sorted(runs)


# The claims of book/reproducing.md, checked against the shipped rows


def test_the_basic_reruns_land_on_the_printed_values():
    runs = replicate.read_rows(replicate.RESULTS / "article.csv")
    for cell in article.CELLS:
        if cell.model == "article-basic":
            assert float(runs[cell.row]["mse"]) == pytest.approx(cell.printed_mse, rel=0.06)


def test_the_convolutional_reruns_land_within_a_tenth_of_the_printed_values():
    runs = replicate.read_rows(replicate.RESULTS / "article.csv")
    rerun = [cell for cell in article.CELLS if cell.model != "article-basic" and cell.row in runs]
    assert {cell.data for cell in rerun} >= {"lfw", "cifar"}
    for cell in rerun:
        assert float(runs[cell.row]["mse"]) == pytest.approx(cell.printed_mse, rel=0.10), cell.id


def test_the_deep_completion_models_on_faces_and_cifar_score_above_the_linear_baseline():
    floors = replicate.read_rows(replicate.RESULTS / "baselines.csv")
    for cell in article.CELLS:
        if cell.data in ("lfw", "cifar") and cell.model == "article-deep":
            if cell.task == "complete":
                assert cell.printed_mse > float(floors[cell.row]["mse"]), cell.id
    runs = replicate.read_rows(replicate.RESULTS / "article.csv")
    for row in (12, 18):  # "our re-runs of two of them land there too"
        assert float(runs[row]["mse"]) > float(floors[row]["mse"])


def test_the_reruns_score_seen_and_unseen_people_alike():
    rows = replicate.read_rows(replicate.RESULTS / "people.csv")
    assert any("/basic/" in row["cell"] for row in rows.values())
    assert any(row["cell"] == "lfw/deep/16/reconstruct" for row in rows.values())
    assert any(row["cell"] == "lfw/deep/64/complete" for row in rows.values())
    for row in rows.values():
        assert float(row["unseen_mse"]) == pytest.approx(float(row["seen_mse"]), rel=0.03)


def test_ours_ends_below_the_baseline_in_every_cell_and_not_far_below_in_completion():
    floors = replicate.read_rows(replicate.RESULTS / "baselines.csv")
    ours = replicate.read_rows(replicate.RESULTS / "ours.csv")
    assert ours, "no run of ours recorded"
    for row, run in ours.items():
        cell = article.cell(run["cell"])
        ratio = float(run["mse"]) / float(floors[row]["mse"])
        assert ratio < 1, (cell.id, ratio)
        if cell.task == "complete" and cell.data != "mnist":
            assert ratio > 0.9, (cell.id, ratio)  # "not far below"


def held_out(cell_id):
    """The held-out rows of benchmarks/ours_recipe.py for one cell (frozen linear maps), by
    (width, epochs)."""
    rows = json.loads((replicate.RESULTS / "ours_recipe.json").read_text())
    return {(row["width"], row["epochs"]): row for row in rows
            if row["cell"] == cell_id and row["freeze_linear"]}


def test_the_correction_levels_off_on_faces_as_width_and_training_grow():
    found = held_out("lfw/deep/64/complete")
    narrow, wide, long = found[16, 12], found[32, 12], found[32, 36]
    baseline = wide["baseline"]
    assert abs(wide["end"] / narrow["end"] - 1) < 0.01  # "under a percent"
    assert 0.9 * baseline < min(row["lowest"] for row in found.values()) < baseline  # "a few %"
    assert long["end"] > baseline > long["lowest"]  # "climbs back above the baseline"
    assert long["train"] < wide["train"] and abs(long["lowest"] / wide["end"] - 1) < 0.01


def test_ours_is_far_below_the_baseline_on_digits():
    floors = replicate.read_rows(replicate.RESULTS / "baselines.csv")
    ours = replicate.read_rows(replicate.RESULTS / "ours.csv")
    digits = [row for row in ours if ours[row]["cell"].startswith("mnist/")]
    assert digits and all(float(ours[r]["mse"]) < 0.75 * float(floors[r]["mse"]) for r in digits)


def test_each_cell_trains_with_its_recipe_and_an_explicit_one_wins():
    digits = article.cell("mnist/deep/32/reconstruct")
    assert replicate.recipe_for(digits)["width"] == 64
    assert replicate.recipe_for(article.cell("mnist/deep/32/complete")) == replicate.OURS_RECIPE
    assert replicate.recipe_for(digits, {"width": 4, "epochs": 1})["width"] == 4


def test_the_digits_recipe_was_chosen_on_held_out_digits():
    """Width 64 for 12 epochs beat width 32 for 12 and for 24 on a tenth of MNIST's training split
    held out; the correction was short of capacity (training and held-out errors close)."""
    found = held_out("mnist/deep/32/reconstruct")
    chosen = replicate.recipe_for(article.cell("mnist/deep/32/reconstruct"))
    best = min(found, key=lambda key: found[key]["end"])
    assert best == (chosen["width"], chosen["epochs"]) and set(found) >= {(32, 12), (32, 24)}
    assert found[32, 12]["train"] > 0.85 * found[32, 12]["end"]  # no overfitting to cure
    assert found[best]["seconds"] < 30 * 60
    # the figures book/reproducing.md quotes
    assert (round(found[32, 12]["train"], 4), round(found[32, 12]["end"], 4)) == (0.0040, 0.0044)
    assert (round(found[32, 24]["end"], 5), round(found[64, 12]["end"], 5)) == (0.00385, 0.00339)
    assert round(found[64, 12]["seconds"] / 60) == 25
    ours = replicate.read_rows(replicate.RESULTS / "ours.csv")[3]  # "still does better there"
    assert json.loads(ours["recipe"])["width"] == 64
    assert float(ours["mse"]) > float(ours["printed_mse"])
    assert float(ours["seconds"]) < 30 * 60
    rerun = replicate.read_rows(replicate.RESULTS / "article.csv")[3]  # "a hair above ours"
    assert [round(float(x), 5) for x in (ours["printed_mse"], ours["mse"], rerun["mse"])] == [
        0.00304, 0.00319, 0.00324]
    assert round(float(rerun["seconds"]) / 3600, 1) == 2.1 and "bf16" in rerun["device"]


@pytest.mark.parametrize("name", ["lfw", "cifar"])
def test_face_and_photo_reconstruction_recipes_were_chosen_on_held_out_images(name):
    """On a tenth of the training split held out, twice the epochs beat twice the width; the
    table's reconstruction cells of the data set ran that recipe, each in under 30 minutes."""
    cell = article.cell(f"{name}/deep/32/reconstruct")
    found = held_out(cell.id)
    tried = {key: found[key] for key in ((32, 12), (64, 12), (32, 24))}
    chosen = replicate.recipe_for(cell)
    best = min(tried, key=lambda key: tried[key]["end"])
    assert best == (chosen["width"], chosen["epochs"]) == (32, 24)
    ours = replicate.read_rows(replicate.RESULTS / "ours.csv")
    runs = [run for run in ours.values() if run["cell"].startswith(f"{name}/")
            and run["cell"].endswith("/reconstruct")]
    assert runs and all(json.loads(run["recipe"]) == chosen for run in runs)
    assert all(float(run["seconds"]) < 30 * 60 for run in runs)


def test_the_correction_levels_off_a_tenth_below_pca_on_faces_and_photographs():
    """The figures book/reproducing.md quotes for face and photograph reconstruction."""
    found = {(name, *key): row for name in ("lfw", "cifar")
             for key, row in held_out(f"{name}/deep/32/reconstruct").items()}

    def share(*key):
        return round(found[key]["end / baseline"], 3)

    assert (share("lfw", 32, 12), share("cifar", 32, 12)) == (0.925, 0.927)
    assert all(0.005 < share(d, 32, 12) - share(d, 64, 12) < 0.015 for d in ("lfw", "cifar"))
    assert (share("lfw", 32, 24), share("cifar", 32, 24)) == (0.898, 0.910)
    assert share("lfw", 32, 48) == 0.898  # no lower with four times the epochs
    assert (round(found["lfw", 32, 24]["train"], 5), round(found["lfw", 32, 48]["train"], 5)) == (
        0.00412, 0.0038)
    cifar = found["cifar", 32, 24]
    assert (round(cifar["train"], 5), round(cifar["end"], 5)) == (0.01098, 0.01141)
    floors = replicate.read_rows(replicate.RESULTS / "baselines.csv")
    printed = [cell.printed_mse / float(floors[cell.row]["mse"]) for cell in article.CELLS
               if cell.task == "reconstruct" and cell.data != "mnist"]
    assert (round(min(printed), 2), round(max(printed), 2)) == (0.90, 1.11)  # "0.90 to 1.11"
    assert (round(0.75 * min(printed), 2), round(0.75 * max(printed), 2)) == (0.68, 0.83)
