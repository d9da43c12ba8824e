"""The chapters' code cells that a learner reads stay short; longer code belongs in imgen."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_LINES = 20
HIDDEN = {"remove-cell", "remove-input"}  # tags that keep a cell's code out of the book


def long_cells(nb, limit=MAX_LINES):
    """(index, lines) of each visible code cell of ``nb`` with more than ``limit`` lines."""
    return [(i, len(cell.source.splitlines())) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and not HIDDEN & set(cell.metadata.get("tags", []))
            and len(cell.source.splitlines()) > limit]


def test_long_cells_finds_a_long_visible_cell_and_skips_hidden_ones():
    long_code = "\n".join(f"x{i} = {i}" for i in range(MAX_LINES + 1))
    hidden = nbformat.v4.new_code_cell(long_code, metadata={"tags": ["remove-cell"]})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell(long_code), hidden])
    assert long_cells(nb) == [(1, MAX_LINES + 1)]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_visible_code_cells_are_short(path):
    found = long_cells(nbformat.read(path, as_version=4))
    assert not found, (f"{path.name}: code cells {found} (index, lines) are longer than "
                       f"{MAX_LINES} lines; split them or move the code into imgen")
