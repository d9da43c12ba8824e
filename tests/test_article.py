"""imgen.article holds what article D's code did, cell by cell, as ``shared/ARTICLE_CODE.md`` says.

The table of that file (section 2) is parsed here and every cell of :data:`imgen.article.CELLS`
is compared with its row: latent, optimiser, epochs, evaluation set, occluded rows, printed and
blog values. The file sits beside the data folder (``$IMGEN_DATA/../ARTICLE_CODE.md``, CI:
``../shared``); without it those tests skip (fail under ``IMGEN_REQUIRE_DATA``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import missing_data

from imgen import article, settings
from imgen.models import MODELS
from imgen.occlusion import occlude

NAMES = {"MNIST": "mnist", "LFW": "lfw", "CIFAR-100": "cifar"}
CODE_MODELS = {"basic": "article-basic", "deep": "article-deep", "MODEL 3": "article-3layer"}


def article_code() -> str:
    places = [
        settings.data_root().parent / "ARTICLE_CODE.md",
        Path(__file__).resolve().parents[2] / "shared" / "ARTICLE_CODE.md",
    ]
    for place in places:
        if place.is_file():
            return place.read_text()
    missing_data(f"ARTICLE_CODE.md not found in {' or '.join(map(str, places))}")


def plain(text: str) -> str:
    return text.replace("**", "").strip()


@pytest.fixture(scope="module")
def rows():
    """ARTICLE_CODE.md's section-2 table: row number -> its cells, by column name."""
    text = article_code()
    table = text[text.index("## 2.") : text.index("## 3.")]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    header = [plain(cell) for cell in lines[0].strip("|").split("|")]
    found = {}
    for line in lines[1:]:
        cells = [plain(cell) for cell in line.strip().strip("|").split("|")]
        if cells[0].isdigit():
            found[int(cells[0])] = dict(zip(header, cells, strict=True))
    return found


def first_int(text: str) -> int:
    return int(re.search(r"\d+", text).group())


def test_there_are_nineteen_cells_numbered_as_in_article_code(rows):
    assert [cell.row for cell in article.CELLS] == list(range(1, 20)) == sorted(rows)


@pytest.mark.parametrize("cell", article.CELLS, ids=lambda c: c.id)
def test_each_cell_is_its_row_of_article_code(cell, rows):
    row = rows[cell.row]
    name, model, latent, task = row["cell (blog)"].rsplit(" ", 3)
    assert (NAMES[name], model, int(latent), task) == (
        cell.data,
        cell.blog_model,
        cell.blog_latent,
        cell.task,
    )
    assert cell.model == CODE_MODELS[re.match(r"basic|deep|MODEL 3", row["code's model"])[0]]
    assert cell.latent == first_int(row["latent used"])
    assert cell.optimiser == row["optimiser"]
    # Row 8's printed loop continued an earlier one: "most plausibly 20".
    plausibly = re.search(r"most plausibly (\d+)", row["epochs"])
    assert cell.epochs == int(plausibly[1]) if plausibly else first_int(row["epochs"])
    assert cell.evaluated_on == re.search(r"\b(test|val)\b", row["split & eval set"])[1]
    assert cell.printed_mse == float(row["printed MSE"])
    assert cell.blog_mse == float(row["blog MSE"])
    kernel = re.search(r"(\d)×\d", row["kernel / act"])
    assert cell.kernel == (int(kernel[1]) if kernel else None)
    activation = re.search(r"ReLU|ELU", row["kernel / act"])
    assert cell.activation == (activation[0].lower() if activation else None)


@pytest.mark.parametrize("cell", article.CELLS, ids=lambda c: c.id)
def test_each_completion_cell_hides_the_rows_article_code_names(cell, rows):
    occlusion = rows[cell.row]["occlusion"]
    if cell.task == "reconstruct":
        assert occlusion == "none" and cell.occlusion is None and not cell.occluded_rows
        return
    first, last = map(int, re.search(r"rows (\d+)–(\d+)", occlusion).groups())
    assert (cell.occluded_rows.start, cell.occluded_rows.stop - 1) == (first, last)
    c, h, w = cell.protocol.shape
    hidden = occlude(torch.ones(1, c, h, w), cell.occlusion)[1][0, 0].all(dim=1)
    assert hidden.nonzero().flatten().tolist() == list(range(first, last + 1))


def test_occluded_row_counts_are_13_of_28_22_of_45_and_15_of_32():
    counts = {name: len(p.occluded_rows) for name, p in article.PROTOCOLS.items()}
    assert counts == {"mnist": 13, "lfw": 22, "cifar": 15}


@pytest.mark.parametrize(
    "name, images, sizes",
    [("mnist", 60_000, (48_000, 12_000)), ("cifar", 50_000, (40_000, 10_000))],
)
def test_the_split_of_the_official_training_set_has_the_codes_sizes(name, images, sizes):
    train, val = article.split_indices(images)
    assert (len(train), len(val)) == sizes == article.PROTOCOLS[name].code_sizes[:2]


def test_split_sizes_in_article_code_section_4_are_the_protocols():
    text = article_code()
    section = text[text.index("## 4.") :]
    assert "MNIST: 48,000 train / 12,000 val / 10,000 test" in section
    assert "CIFAR-100: 40,000 / 10,000 / 10,000 test" in section
    assert "LFW: about 10,514 train / 2,629 val" in section
    lfw = article.PROTOCOLS["lfw"].code_sizes
    assert tuple(map(len, article.split_indices(13_143))) == lfw[:2]


def test_the_split_is_sklearns_permutation_with_seed_42():
    train, val = article.split_indices(10)
    # numpy.random.RandomState(42).permutation(10), as sklearn's train_test_split draws it
    assert val.tolist() == [8, 1] and train.tolist() == [5, 0, 7, 2, 9, 4, 3, 6]


def test_every_cells_model_builds_with_the_codes_layers():
    for cell in article.CELLS:
        model = cell.build()
        assert isinstance(model, MODELS[cell.model]) and model.latent == cell.latent
        if cell.model == "article-deep":
            assert model.config["activation"] == ("elu" if cell.data == "lfw" else "relu")


def test_the_parameter_counts_tested_for_the_models_are_those_of_article_code():
    from test_models import ARTICLE_COUNTS

    text = article_code().replace(",", "")
    for expected in ARTICLE_COUNTS.values():
        for count in expected if isinstance(expected, tuple) else (expected,):
            assert str(count) in text, count


def test_lfw_is_scored_on_its_validation_split_and_the_others_on_the_test_set():
    assert {name: p.evaluated_on for name, p in article.PROTOCOLS.items()} == {
        "mnist": "test",
        "lfw": "val",
        "cifar": "test",
    }


def test_cells_are_found_by_id_and_an_unknown_id_is_named():
    assert article.cell("lfw/deep/16/reconstruct").model == "article-3layer"
    with pytest.raises(ValueError, match="no article cell 'lfw/deep/8/reconstruct'"):
        article.cell("lfw/deep/8/reconstruct")


@pytest.mark.parametrize("n, message", [(1, "n must be"), (True, "n must be"), (10.0, "n must")])
def test_split_refuses_a_bad_size(n, message):
    with pytest.raises(ValueError, match=message):
        article.split_indices(n)


def test_load_splits_refuses_a_data_set_the_article_did_not_use():
    with pytest.raises(ValueError, match="unknown data set 'fruits'"):
        article.load_splits("fruits")
