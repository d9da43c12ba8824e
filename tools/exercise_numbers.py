"""Sphinx extension: number exercises per chapter ("Exercise 2.3"), not across the whole book.

The chapter comes from the notebook's file name: ``notebooks/02b_variational_autoencoder`` is
chapter ``2b``, so its third exercise is *Exercise 2b.3*, in its title, in the title of its
solution and in every ``{numref}`` to it. Pages whose name does not start with a chapter number
keep Sphinx's numbering. ``tools/student.py`` numbers the student notebooks the same way.
"""

from __future__ import annotations

import re

CHAPTER = re.compile(r"(?:^|/)(\d+)([a-z]?)_[^/]*$")


def chapter_of(docname: str) -> str | None:
    """``'notebooks/02b_vae'`` -> ``'2b'``; None for a page that is no chapter."""
    match = CHAPTER.search(docname)
    return None if match is None else f"{int(match.group(1))}{match.group(2)}"


def renumber(app, env) -> list[str]:
    """Replace each chapter's exercise numbers by (chapter, position in the chapter)."""
    for docname, numbers in env.toc_fignumbers.items():
        chapter = chapter_of(docname)
        exercises = numbers.get("exercise")
        if chapter is None or not exercises:
            continue
        in_order = sorted(exercises, key=exercises.get)
        numbers["exercise"] = {ident: (chapter, i) for i, ident in enumerate(in_order, 1)}
    return []


def setup(app):
    # After Sphinx's own toctree collector (priority 500) has assigned its numbers.
    app.connect("env-get-updated", renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
