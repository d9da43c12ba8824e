"""Run each chapter notebook top to bottom with nbclient and print how many seconds it took.

    IMGEN_QUICK=1 python tools/chapter_times.py                 # every chapter, quick mode
    IMGEN_QUICK=1 python tools/chapter_times.py notebooks/01_cnn_basics.ipynb
    python tools/chapter_times.py --reading        # words and reading minutes only, runs nothing

The mode is whatever ``IMGEN_QUICK`` says (``imgen.settings.is_quick``). Each notebook runs in a
fresh kernel from the notebooks' folder, as nbval and the book run them; nothing is written back.
The table that ``book/teachers.md`` shows comes from this script.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
WORDS_PER_MINUTE = 200  # MyST's reading-time estimate
SOLUTION = re.compile(r"^:::\{solution-start\}.*?^:::\{solution-end\}", re.S | re.M)


def prose_words(path: Path) -> int:
    """Words in the chapter's markdown, solutions left out (what a learner reads first)."""
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown")
    return len(SOLUTION.sub("", text).split())


def run_seconds(path: Path, timeout: int = 1800) -> float:
    """Execute the notebook at ``path`` in a fresh kernel; return the wall-clock seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("*.ipynb")))
    parser.add_argument("--reading", action="store_true",
                        help=f"print words and reading minutes ({WORDS_PER_MINUTE} words a "
                             "minute) instead of running")
    args = parser.parse_args(argv)
    if args.reading:
        for path in args.notebooks:
            words = prose_words(path)
            print(f"{path.stem:32s} {words:6d} words {words / WORDS_PER_MINUTE:5.0f} min")
        return 0
    from imgen.settings import is_quick

    print(f"mode: {'quick' if is_quick() else 'full'}")
    total = 0.0
    for path in args.notebooks:
        seconds = run_seconds(path)
        total += seconds
        print(f"{path.stem:32s} {seconds:7.0f} s", flush=True)
    print(f"{'total':32s} {total:7.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
