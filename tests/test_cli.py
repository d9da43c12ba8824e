"""What ``python -m imgen`` promises, run in-process on a tiny MNIST written by the test."""

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from imgen import article, cli, data, pretrained, sweep, train
from imgen.checkpoint import load_checkpoint
from imgen.models import MODELS
from imgen.train import History


def write_idx(path, array, magic):
    header = b"".join(n.to_bytes(4, "big") for n in (magic, *array.shape))
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """IMGEN_DATA pointing at an MNIST of 48 train and 16 test images, in the original format."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 48), ("t10k", 16)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for image, (top, left) in zip(images, rng.integers(4, 16, size=(n, 2)), strict=True):
            image[top : top + 8, left : left + 8] = 255  # a bright square somewhere
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n), 2049)
    monkeypatch.setenv("IMGEN_DATA", str(tmp_path / "data"))
    return tmp_path


TRAIN = [
    "train",
    "--data",
    "mnist",
    "--model",
    "basic",
    "--latent",
    "4",
    "--batch-size",
    "16",
    "--no-progress",
]


def test_train_writes_a_checkpoint_and_metrics(tiny_mnist):
    out = tiny_mnist / "run"
    assert cli.main([*TRAIN, "--epochs", "2", "--task", "complete", "--out", out]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "MNIST" and metrics["test_images"] == 16
    assert metrics["train_images"] == 48 and metrics["epochs"] == 2
    assert metrics["task"] == "complete" and metrics["occlusion"] == "bottom"
    assert metrics["test_mse"] > 0 and len(metrics["history"]["train_loss"]) == 2
    assert metrics["command"].startswith("python -m imgen train --data mnist --model basic")
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2


def test_train_resumes_from_its_checkpoint(tiny_mnist):
    out = tiny_mnist / "run"
    cli.main([*TRAIN, "--epochs", "1", "--out", out])
    assert cli.main([*TRAIN, "--epochs", "2", "--out", out, "--resume"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and len(metrics["history"]["train_loss"]) == 2


def test_train_with_amp_on_the_cpu_trains_in_bfloat16_and_says_so(tiny_mnist, monkeypatch):
    monkeypatch.setattr(train, "cpu_supports_bf16", lambda: True)
    out = tiny_mnist / "run"
    assert cli.main([*TRAIN, "--model", "conv", "--amp", "--device", "cpu", "--out", out]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == "cpu (bf16 autocast)" and "--amp" in metrics["command"]
    assert load_checkpoint(out / "checkpoint.pt")["fit_args"]["precision"] == "bfloat16"


def test_train_repeats_itself_from_its_seed(tiny_mnist):
    for out in ("a", "b"):
        assert cli.main([*TRAIN, "--model", "conv", "--seed", "3", "--out", tiny_mnist / out]) == 0
    a, b = (load_checkpoint(tiny_mnist / out / "checkpoint.pt")["model"] for out in "ab")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_amp_on_a_cpu_without_bfloat16_is_a_usage_error(tiny_mnist, monkeypatch, capsys):
    monkeypatch.setattr(train, "cpu_supports_bf16", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*TRAIN, "--amp", "--device", "cpu", "--out", tiny_mnist / "run"])
    assert exit_info.value.code == 2
    assert "needs bfloat16 instructions" in capsys.readouterr().err
    assert not (tiny_mnist / "run").exists()


def test_amp_and_no_amp_together_are_refused(tiny_mnist, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*TRAIN, "--amp", "--no-amp", "--out", tiny_mnist / "run"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_train_can_mirror_half_of_each_batch(tiny_mnist):
    out = tiny_mnist / "run"
    assert cli.main([*TRAIN, "--augment", "flip", "--out", out]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["augment"] == "flip" and "--augment flip" in metrics["command"]
    assert load_checkpoint(out / "checkpoint.pt")["fit_args"]["augment"] == "flip"


def test_train_can_squash_the_conv_code_into_0_1_for_sliders(tiny_mnist):
    out = tiny_mnist / "run"
    argv = [*TRAIN, "--model", "conv", "--code-activation", "sigmoid", "--out", out]
    assert cli.main(argv) == 0
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["code_activation"] == "sigmoid" and config["latent"] == 4


def test_evaluate_prints_the_test_mse_of_a_checkpoint(tiny_mnist, capsys):
    out = tiny_mnist / "run"
    cli.main([*TRAIN, "--out", out, "--task", "complete"])
    mse = json.loads((out / "metrics.json").read_text())["test_mse"]
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", "mnist"]) == 0
    printed = capsys.readouterr().out
    assert "MNIST test (16 images, task complete)" in printed
    assert float(printed.rsplit(":", 1)[1]) == pytest.approx(mse, rel=1e-5)


def test_rescore_updates_the_manifest_and_evaluate_warns_when_data_differ(
    tiny_mnist, monkeypatch, capsys
):
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tiny_mnist / "shipped")
    cli.main([*TRAIN, "--out", tiny_mnist / "run", "--register", "mnist-tiny"])
    fingerprint = data.load("mnist", "test").fingerprint()
    assert pretrained.info("mnist-tiny")["test_fingerprint"] == fingerprint
    capsys.readouterr()
    assert cli.main(["rescore", "mnist-tiny"]) == 0
    entry = pretrained.info("mnist-tiny")
    assert f"{entry['test_mse']:.6g} on 16 MNIST test images" in capsys.readouterr().out
    assert entry["rescored"]["command"] == "python -m imgen rescore mnist-tiny"

    images = tiny_mnist / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    write_idx(images, np.full((16, 28, 28), 7, dtype=np.uint8), 2051)  # other test digits
    with pytest.warns(UserWarning, match="not the ones 'mnist-tiny' was scored on"):
        cli.main(["evaluate", "--checkpoint", "mnist-tiny", "--data", "mnist"])


def test_labels_is_for_cifar_only(tiny_mnist, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*TRAIN, "--out", tiny_mnist / "run", "--labels", "coarse"])
    assert exit_.value.code == 2
    assert "--labels is for CIFAR-100 (--data cifar), not --data mnist" in capsys.readouterr().err


def test_train_register_ships_a_pretrained_model_that_evaluate_finds(
    tiny_mnist, monkeypatch, capsys
):
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tiny_mnist / "shipped")
    cli.main([*TRAIN, "--out", tiny_mnist / "run", "--register", "mnist-tiny"])
    entry = pretrained.info("mnist-tiny")
    assert entry["dataset"] == "MNIST" and entry["command"].endswith("--register mnist-tiny")
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", "mnist-tiny", "--data", "mnist"]) == 0
    printed = float(capsys.readouterr().out.rsplit(":", 1)[1])
    assert printed == pytest.approx(entry["test_mse"], rel=1e-2)  # weights shipped as float16


def test_register_ships_a_finished_run_with_the_command_that_trained_it(tiny_mnist, monkeypatch):
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tiny_mnist / "shipped")
    cli.main([*TRAIN, "--out", tiny_mnist / "run"])
    assert cli.main(["register", "mnist-later", "--run", str(tiny_mnist / "run")]) == 0
    entry = pretrained.info("mnist-later")
    assert entry["command"].startswith("python -m imgen train --data mnist --model basic")
    assert pretrained.load("mnist-later").config["latent"] == 4


def test_register_refuses_an_unfinished_run(tiny_mnist, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["register", "x", "--run", str(tiny_mnist / "nothing")])
    assert exit.value.code == 2
    assert "metrics.json is missing" in capsys.readouterr().err


def read_rows(folder):
    with (folder / "course_sweep.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def test_a_quick_sweep_of_one_cell_writes_its_table(tiny_mnist):
    out = tiny_mnist / "results"
    assert (
        cli.main(
            [
                "sweep",
                "--quick",
                "--only",
                "mnist/basic/32/reconstruct",
                "--out",
                out,
                "--no-progress",
            ]
        )
        == 0
    )
    rows = read_rows(out)
    assert [row["model"] for row in rows] == ["basic", "conv"]
    assert list(rows[0]) == list(cli.SWEEP_COLUMNS)
    assert rows[0]["dataset_used"] == "MNIST" and rows[0]["article_mse"] == "0.017"
    assert rows[0]["train_images"] == "48" and rows[0]["epochs"] == "1"
    assert rows[0]["command"].startswith("python -m imgen train --data mnist --model basic")
    report = (out / "course_sweep.md").read_text()
    assert "| MNIST | 32 | reconstruct | basic | 0.017 |" in report


def test_a_sweep_skips_runs_it_has_and_trains_ours_once_per_setting(tiny_mnist, monkeypatch):
    out = tiny_mnist / "results"
    quick = ["sweep", "--quick", "--out", out, "--no-progress"]
    cli.main([*quick, "--only", "mnist/basic/32/reconstruct"])
    trained = []
    real_train = cli.train_command
    monkeypatch.setattr(
        cli,
        "train_command",
        lambda args, *rest: trained.append(args.model) or real_train(args, *rest),
    )

    cli.main([*quick, "--only", "mnist/basic/32/reconstruct"])
    assert trained == []
    # The deep cell at latent 32 shares conv's run with the basic cell: only deep trains.
    cli.main([*quick, "--only", "mnist/deep/32/reconstruct"])
    assert trained == ["deep"]
    rows = read_rows(out)
    assert len(rows) == 4
    conv = [row for row in rows if row["model"] == "conv"]
    assert [row["article_model"] for row in conv] == ["basic", "deep"]
    assert conv[0]["our_mse"] == conv[1]["our_mse"]


def test_a_sweep_can_train_one_model_first(tiny_mnist):
    out = tiny_mnist / "results"
    quick = ["sweep", "--quick", "--out", out, "--no-progress", "--only", "mnist/deep/32"]
    cli.main([*quick, "--model", "conv"])
    assert [row["model"] for row in read_rows(out)] == ["conv", "conv"]
    cli.main(quick)
    assert sorted(row["model"] for row in read_rows(out)) == ["conv", "conv", "deep", "deep"]


def test_the_sweep_covers_the_articles_nineteen_cells():
    assert len(cli.SWEEP_CELLS) == 19
    assert len({cell.id for cell in cli.SWEEP_CELLS}) == 19
    assert {cell.model for cell in cli.SWEEP_CELLS} <= set(MODELS)
    assert {cell.data for cell in cli.SWEEP_CELLS} == set(cli.SWEEP_EPOCHS)
    assert {cell.data for cell in cli.SWEEP_CELLS} <= set(data.DATASETS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "--data", "mnist", "--out", "x", "--epochs", "0"],
            "expected a whole number >= 1",
        ),
        (["train", "--data", "imagenet", "--out", "x"], "invalid choice: 'imagenet'"),
        (["train", "--data", "mnist", "--out", "x", "--lr", "-1"], "expected a number > 0"),
        (["train", "--data", "mnist"], "the following arguments are required: --out"),
        (["train", "--data", "mnist", "--out", "x", "--model", "classifier"], "goes with --task"),
        (["sweep", "--only", "imagenet"], "matches no cell"),
        (["evaluate", "--checkpoint", "no-such", "--data", "mnist"], "neither a file nor"),
        ([], "required: COMMAND"),
    ],
)
def test_a_wrong_command_line_exits_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_an_interrupted_train_exits_130_and_writes_no_metrics(tiny_mnist, monkeypatch, capsys):
    monkeypatch.setattr(cli, "fit", lambda *args, **kwargs: History(interrupted=True))
    assert cli.main([*TRAIN, "--out", tiny_mnist / "run"]) == 130
    assert not (tiny_mnist / "run" / "metrics.json").exists()
    assert "--resume" in capsys.readouterr().err


def test_missing_data_exits_1_with_the_message_and_no_traceback(tmp_path, monkeypatch, capsys):
    def missing(name, split="train", **kwargs):
        raise data.DataNotFoundError(f"{name} was not found in {tmp_path}")

    monkeypatch.setattr(data, "load", missing)
    assert cli.main(["train", "--data", "mnist", "--out", tmp_path / "run"]) == 1
    err = capsys.readouterr().err
    assert err == f"imgen: error: mnist was not found in {tmp_path}\n"


def test_a_sweep_keeps_rows_another_sweep_wrote_while_it_trained(tiny_mnist, monkeypatch):
    out = tiny_mnist / "results"
    quick = ["sweep", "--quick", "--out", out, "--no-progress"]
    cli.main([*quick, "--only", "mnist/basic/32/reconstruct", "--model", "basic"])
    real_train = cli.train_command

    def train_beside_another_sweep(args, *rest):
        # While this sweep trains, a second one (say --only lfw) finishes a run and writes it.
        if args.model == "deep":
            cli.main([*quick, "--only", "mnist/basic/32/complete", "--model", "basic"])
        return real_train(args, *rest)

    monkeypatch.setattr(cli, "train_command", train_beside_another_sweep)
    cli.main([*quick, "--only", "mnist/deep/32/reconstruct", "--model", "deep"])
    rows = {(row["article_model"], row["task"], row["model"]) for row in read_rows(out)}
    assert rows == {
        ("basic", "reconstruct", "basic"),
        ("basic", "complete", "basic"),
        ("deep", "reconstruct", "deep"),
    }


def test_the_sweep_gives_the_linear_model_more_epochs():
    args = cli.build_parser().parse_args(["sweep"])
    cell = cli.SWEEP_CELLS[0]
    assert cell.model == "basic"

    def epochs(model):
        argv = cli._train_argv(cell, model, Path("results"), args)
        return int(argv[argv.index("--epochs") + 1])

    assert epochs("basic") == 5 * epochs("conv") == 5 * cli.SWEEP_EPOCHS[cell.data]


def test_the_sweep_trains_ours_with_its_own_recipe_and_the_articles_models_plainly():
    args = cli.build_parser().parse_args(["sweep"])

    def argv(data, task, model):
        cell = next(c for c in cli.SWEEP_CELLS if (c.data, c.task) == (data, task))
        return cli._train_argv(cell, model, Path("results"), args)

    faces = argv("lfw", "complete", "conv")
    assert faces[faces.index("--augment") + 1] == "flip"
    assert faces[faces.index("--schedule") + 1] == "cosine"
    assert int(faces[faces.index("--epochs") + 1]) == cli.SWEEP_RECIPES["lfw", "complete"]["epochs"]
    for model in ("basic", "deep"):
        assert "--augment" not in argv("lfw", "complete", model)
    assert "--augment" not in argv("mnist", "reconstruct", "conv")  # mirrored digits are no digits
    # Every recipe's command line must parse as train options (a typo would fail hours into a
    # sweep), and carry the recipe's values.
    for name, task in cli.SWEEP_RECIPES:
        parsed = vars(cli.build_parser().parse_args(argv(name, task, "conv")))
        for key, value in cli.SWEEP_RECIPES[name, task].items():
            assert parsed[key] == value, (name, task, key)


def _report_row(data, task, epochs, command="python -m imgen train"):
    """A ``course_sweep.csv`` row of our model, with only the fields ``sweep_report`` reads."""
    images = {"lfw": "2126", "mnist": "60000"}[data]
    return {
        "data": data,
        "model": "conv",
        "task": task,
        "epochs": epochs,
        "train_images": images,
        "device": "cpu",
        "command": command,
    }


def test_the_sweep_table_names_each_recipe_beyond_plain_adam():
    rows = {
        "a": _report_row(
            "lfw",
            "complete",
            "60",
            "python -m imgen train --schedule cosine --augment flip --weight-decay 0.0",
        ),
        "b": _report_row(
            "mnist", "complete", "10", "python -m imgen train --schedule constant --augment none"
        ),
    }
    report = cli.sweep_report(rows)
    assert "LFW conv complete: `--schedule cosine --augment flip`." in report
    assert "MNIST conv complete" not in report


def test_the_sweep_table_names_the_task_where_one_model_had_two_budgets():
    rows = {
        "a": _report_row("lfw", "complete", "60"),
        "b": _report_row("lfw", "reconstruct", "280"),
        "c": _report_row("mnist", "complete", "10"),
        "d": _report_row("mnist", "reconstruct", "10"),
    }
    runs = cli.sweep_report(rows).split("Runs: ")[1]
    assert "LFW conv complete: 60 epochs of 2126 images" in runs
    assert "LFW conv reconstruct: 280 epochs of 2126 images" in runs
    assert "MNIST conv: 10 epochs of 60000 images" in runs


def test_baselines_prints_each_cells_linear_baseline_beside_the_articles_values(
    monkeypatch, capsys
):
    images = torch.randint(0, 256, (80, 1, 28, 28), dtype=torch.uint8)
    part = data.ImageData(images, None, (), "MNIST", "train")
    splits = article.ArticleSplits(part, part, part)
    monkeypatch.setattr(article, "load_splits", lambda name, **kw: splits)
    assert cli.main(["baselines", "--data", "mnist"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MNIST (train 80, val 80, evaluation 80 images):")
    assert "| 1 | mnist/basic/32/reconstruct | test | 32 | PCA |" in out
    assert "| 2 | mnist/basic/32/complete | test | 64 | ridge (strength" in out
    assert "| 0.017 | 0.017 |" in out and "lfw" not in out


def test_the_sweep_lives_in_its_own_module_and_the_command_line_reexports_it():
    assert cli.SWEEP_CELLS is sweep.SWEEP_CELLS and cli.sweep_report is sweep.sweep_report
    blog = [(c.data, c.model, c.latent, c.task, c.article_mse) for c in sweep.SWEEP_CELLS]
    assert blog == [
        (c.data, c.blog_model, c.blog_latent, c.task, c.blog_mse) for c in article.CELLS
    ]
