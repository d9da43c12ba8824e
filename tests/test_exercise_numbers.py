"""tools/exercise_numbers.py: exercises are numbered per chapter, from the notebook's name."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("exercise_numbers",
                                               ROOT / "tools" / "exercise_numbers.py")
exercise_numbers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exercise_numbers)


@pytest.mark.parametrize(("docname", "chapter"), [
    ("notebooks/01_cnn_basics", "1"), ("notebooks/02b_variational_autoencoder", "2b"),
    ("notebooks/10_later", "10"), ("book/teachers", None), ("book/intro", None)])
def test_the_chapter_comes_from_the_file_name(docname, chapter):
    assert exercise_numbers.chapter_of(docname) == chapter


def test_exercises_restart_at_one_in_each_chapter_in_page_order():
    env = SimpleNamespace(toc_fignumbers={
        "notebooks/01_cnn_basics": {"exercise": {"b": (2,), "a": (1,)}, "figure": {"f": (1,)}},
        "notebooks/02b_vae": {"exercise": {"c": (3,), "d": (4,)}},
        "book/methods": {"exercise": {"e": (5,)}},
    })
    exercise_numbers.renumber(None, env)
    numbers = env.toc_fignumbers
    assert numbers["notebooks/01_cnn_basics"]["exercise"] == {"a": ("1", 1), "b": ("1", 2)}
    assert numbers["notebooks/02b_vae"]["exercise"] == {"c": ("2b", 1), "d": ("2b", 2)}
    assert numbers["notebooks/01_cnn_basics"]["figure"] == {"f": (1,)}
    assert numbers["book/methods"]["exercise"] == {"e": (5,)}
