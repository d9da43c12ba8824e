"""Make the student edition of the chapters: every solution's code stubbed out, its prose removed.

    python tools/student.py notebooks/*.ipynb --out _build/student   # what `make student` runs
    python tools/student.py notebooks/*.ipynb --check-book _build/student/_build/html

How a chapter marks an exercise (README, "Writing exercises"): a markdown cell with the
``{exercise}`` directive, then the solution between a markdown cell that opens with
``{solution-start} <label>`` and one that ends with ``{solution-end}``. In between, markdown cells
are the solution's prose, and every code cell holds the solution's code between nbgrader's
markers::

    ### BEGIN SOLUTION
    sizes = ...
    ### END SOLUTION
    checks.output_sizes(sizes)

The student notebook keeps the exercise and the code cells, replaces what lies between the
markers by nbgrader's stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``), keeps what
follows the markers (a check the learner runs on their answer), and drops the solution's prose.
With ``--out`` it also writes a student book: the student notebooks with the book's pages, and a
``_config.yml`` that hides solutions and executes nothing.
"""

from __future__ import annotations

import argparse
import html
import html.parser
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
START = re.compile(r"^:::\{solution-start\}.*?^:::[ \t]*$\n?", re.S | re.M)
FINISH = re.compile(r"^:::\{solution-end\}[ \t]*\n:::[ \t]*$", re.M)
# Anything of these in a student notebook means a solution leaked.
MARKERS = (BEGIN, END, "{solution-start}", "{solution-end}", "{solution}")


class ExerciseFormatError(ValueError):
    """A chapter's exercise cells do not follow the layout that tools/student.py reads."""


def stub_code(source: str, where: str = "a code cell") -> str:
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block by nbgrader's stub."""
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ExerciseFormatError(f"{where}: {BEGIN} twice without {END}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB.splitlines())
        elif stripped == END:
            if not inside:
                raise ExerciseFormatError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ExerciseFormatError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def student_cells(cells: list, name: str = "notebook") -> list:
    """The student edition of a list of notebook cells (new cell objects; inputs not modified)."""
    out, inside = [], False
    for i, cell in enumerate(cells):
        cell = nbformat.from_dict(dict(cell))
        where = f"{name}, cell {i}"
        if cell.cell_type == "code":
            has_markers = BEGIN in cell.source
            if inside and not has_markers:
                raise ExerciseFormatError(f"{where}: a code cell inside a solution needs {BEGIN}")
            if has_markers:
                cell.source = stub_code(cell.source, where)
            cell.outputs, cell.execution_count = [], None
            out.append(cell)
            continue
        text = cell.source
        keep = []
        start = START.search(text)
        if start:
            if inside:
                raise ExerciseFormatError(f"{where}: solution-start inside a solution")
            keep.append(text[: start.start()])
            inside, text = True, text[start.end():]
        finish = FINISH.search(text)
        if finish:
            if not inside:
                raise ExerciseFormatError(f"{where}: solution-end without solution-start")
            inside, text = False, text[finish.end():]
            keep.append(text)
        elif not inside:
            keep.append(text)
        kept = "\n".join(part.strip("\n") for part in keep if part.strip())
        if kept:
            cell.source = kept
            out.append(cell)
    if inside:
        raise ExerciseFormatError(f"{name}: solution-start without solution-end")
    return out


def student_notebook(nb, name: str = "notebook"):
    """A copy of notebook ``nb`` in its student edition (see the module docstring)."""
    copy = nbformat.from_dict(dict(nb))
    copy.cells = student_cells(nb.cells, name)
    return copy


def solution_lines(nb) -> tuple[set[str], set[str]]:
    """The lines of teacher notebook ``nb`` inside its solutions, and those outside them.

    Lines are stripped; blank ones are left out. A line can be in both sets (``plt.show()``).
    """
    inside_lines, outside_lines, inside = set(), set(), False
    for cell in nb.cells:
        if cell.cell_type == "code":
            block = False
            for line in cell.source.splitlines():
                if line.strip() in (BEGIN, END):
                    block = line.strip() == BEGIN
                elif line.strip():
                    (inside_lines if block else outside_lines).add(line.strip())
            continue
        text, before, after = cell.source, "", ""
        if start := START.search(text):
            before, text, inside = text[: start.start()], text[start.end():], True
        if finish := FINISH.search(text):
            text, after = text[: finish.start()], text[finish.end():]
        for part, bucket in ((before, outside_lines), (text, inside_lines if inside else
                                                       outside_lines), (after, outside_lines)):
            bucket.update(line.strip() for line in part.splitlines() if line.strip())
        if finish:
            inside = False
    return inside_lines, outside_lines


def leaks(student, teacher) -> list[str]:
    """What of ``teacher``'s solutions (markers, prose, code lines) appears in ``student``.

    A solution line counts only if the teacher's notebook has no same line outside solutions.
    """
    text = "\n".join(cell.source for cell in student.cells)
    found = [marker for marker in MARKERS if marker in text]
    inside, outside = solution_lines(teacher)
    student_lines = {line.strip() for line in text.splitlines()}
    return found + sorted((inside - outside) & student_lines)


def stub_cells(nb) -> list[int]:
    """Indices of the code cells that hold nbgrader's stub."""
    return [i for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and "raise NotImplementedError()" in cell.source]


def unexpected_errors(executed) -> list[str]:
    """Errors of an executed student notebook other than NotImplementedError in a stub cell."""
    stubs = set(stub_cells(executed))
    problems = []
    for i, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            if i not in stubs or output.get("ename") != "NotImplementedError":
                problems.append(f"cell {i}: {output.get('ename')}: {output.get('evalue')}")
    return problems


def write_student_book(notebooks: list[Path], out: Path) -> list[Path]:
    """Write the student notebooks into ``out/notebooks`` and a student book around them."""
    written = []
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        student = student_notebook(nb, path.name)
        if found := leaks(student, nb):
            raise ExerciseFormatError(f"{path.name}: solution text left in: {found[0]!r}")
        target = out / "notebooks" / path.name
        nbformat.write(student, target)
        written.append(target)
    shutil.copytree(ROOT / "book", out / "book", dirs_exist_ok=True)
    # The tables that book pages include ({include} ../imgen/results/*.md)
    (out / "imgen" / "results").mkdir(parents=True, exist_ok=True)
    for table in (ROOT / "imgen" / "results").glob("*.md"):
        shutil.copy2(table, out / "imgen" / "results" / table.name)
    shutil.copy2(ROOT / "_toc.yml", out / "_toc.yml")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] += " (student edition)"
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    sphinx["local_extensions"] = {name: str((ROOT / path).resolve())
                                  for name, path in sphinx.get("local_extensions", {}).items()}
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return written


class _Text(html.parser.HTMLParser):
    """The text of an HTML page, a line break at each block element; and its elements' classes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.classes: set[str] = set()

    BLOCKS = {"p", "div", "pre", "li", "br", "tr", "td", "th", "section", "h1", "h2", "h3",
              "h4", "h5", "h6", "blockquote", "dt", "dd"}

    def handle_starttag(self, tag, attrs) -> None:
        self.classes.update((dict(attrs).get("class") or "").split())
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        self.parts.append(data)


def book_leaks(page: Path, teacher) -> list[str]:
    """What of ``teacher``'s solutions appears in the built student page ``page`` (HTML): the
    markers, a solution's code or prose line, or a solution block (sphinx-exercise's class)."""
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    text = html.unescape("".join(parser.parts))
    found = [marker for marker in MARKERS if marker in text]
    found += [f"a block of class {c!r}" for c in ("solution", "solution-start") if c in
              parser.classes]
    inside, outside = solution_lines(teacher)
    page_lines = {line.strip() for line in text.splitlines()}
    return found + sorted((inside - outside) & page_lines)


def check_book(html_dir: Path, notebooks: list[Path]) -> list[str]:
    """Each chapter's page in the built student book, checked by :func:`book_leaks`."""
    problems = []
    for path in notebooks:
        page = html_dir / "notebooks" / f"{path.stem}.html"
        if not page.is_file():
            problems.append(f"{page}: missing from the student book")
            continue
        teacher = nbformat.read(path, as_version=4)
        problems += [f"{page.name}: {leak!r}" for leak in book_leaks(page, teacher)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument("--check-book", type=Path, metavar="HTML",
                        help="check the built student book in HTML (its _build/html) instead")
    args = parser.parse_args(argv)
    if args.check_book:
        problems = check_book(args.check_book, args.notebooks)
        for problem in problems:
            print(f"leak: {problem}", file=sys.stderr)
        print(f"{args.check_book}: {len(args.notebooks)} chapter page(s), "
              f"{len(problems)} leak(s)")
        return 1 if problems else 0
    try:
        written = write_student_book(args.notebooks, args.out)
    except ExerciseFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
