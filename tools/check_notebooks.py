"""Fail when a notebook is stored with outputs or execution counts (they belong in the build)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def dirty_cells(path: Path) -> list[int]:
    """Indices of the code cells in ``path`` that carry outputs or an execution count."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return [
        i
        for i, cell in enumerate(cells)
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def main(folders: list[str]) -> int:
    notebooks = sorted(
        p
        for folder in folders
        for p in Path(folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )
    bad = {nb: cells for nb in notebooks if (cells := dirty_cells(nb))}
    for nb, cells in bad.items():
        print(f"{nb}: outputs stored in code cells {cells}; clear them "
              f"(jupyter nbconvert --clear-output --inplace {nb})")
    print(f"checked {len(notebooks)} notebooks, {len(bad)} with outputs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["notebooks"]))
