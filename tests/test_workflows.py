"""The GitHub Actions workflows (.github/workflows) and the build targets they call.

`make lint-workflows` runs two offline linters: zizmor (security audits, and with
``--strict-collection`` it fails on a workflow it cannot parse) and check-jsonschema with GitHub's
vendored workflow schema (unknown keys and triggers, wrong types). The tests here prove that each
fails on a deliberately broken copy of our workflow, and check by hand what neither linter looks
at: ``needs`` naming real jobs, closed ``${{ }}`` expressions, ``make`` targets that exist, and
the publishing job's shape.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The linter's executable beside this Python (the .venv), else on PATH; skip when absent."""
    path = BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # PyYAML reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def lint(folder: Path) -> dict[str, subprocess.CompletedProcess]:
    """Both linters over ``folder``/.github/workflows, as `make lint-workflows` runs them."""
    workflows = folder / ".github" / "workflows"
    zizmor = [tool("zizmor"), "--offline", "--strict-collection", "--no-progress", "--quiet"]
    config = folder / ".github" / "zizmor.yml"
    if config.is_file():
        zizmor += ["--config", str(config)]
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    run = dict(capture_output=True, text=True, timeout=120)
    return {
        "zizmor": subprocess.run([*zizmor, str(workflows)], **run),
        "schema": subprocess.run([*schema, *map(str, sorted(workflows.glob("*.yml")))], **run),
    }


def test_there_are_workflows():
    assert {p.name for p in FILES} >= {"book.yml", "test.yml"}


def test_our_workflows_pass_both_linters():
    for name, result in lint(ROOT).items():
        assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"


# (what is broken, how to break test.yml, the linter that must catch it)
BREAKAGES = [
    ("not YAML", lambda s: s.replace("jobs:\n", "jobs:\n  : [\n", 1), "zizmor"),
    ("not YAML", lambda s: s.replace("jobs:\n", "jobs:\n  : [\n", 1), "schema"),
    ("no runs-on", lambda s: re.sub(r"\n +runs-on: .*", "", s), "zizmor"),
    ("no runs-on", lambda s: re.sub(r"\n +runs-on: .*", "", s), "schema"),
    ("misspelt key", lambda s: s.replace("    steps:\n", "    step:\n", 1), "schema"),
    (
        "unknown trigger",
        lambda s: s.replace("  pull_request:\n", "  pull_requests:\n", 1),
        "schema",
    ),
    (
        "template injection",
        lambda s: s.replace("run: make test", 'run: echo "${{ github.event.pull_request.title }}"'),
        "zizmor",
    ),
    (
        "third-party action not pinned to a hash",
        lambda s: s.replace("actions/checkout@v4", "someone/checkout@v4"),
        "zizmor",
    ),
]


@pytest.mark.parametrize(
    "what, breaks, linter", BREAKAGES, ids=[f"{w}-{lin}" for w, _, lin in BREAKAGES]
)
def test_the_linters_fail_on_a_broken_workflow(tmp_path, what, breaks, linter):
    good = (WORKFLOWS / "test.yml").read_text()
    bad = breaks(good)
    assert bad != good, f"the test could not break test.yml for {what!r}: update BREAKAGES"
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "zizmor.yml", tmp_path / ".github" / "zizmor.yml")
    (tmp_path / ".github" / "workflows" / "test.yml").write_text(bad)
    result = lint(tmp_path)[linter]
    assert result.returncode != 0, f"{linter} passed a workflow with {what}:\n{result.stdout}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_what_the_linters_do_not_check(path):
    text = path.read_text()
    assert text.count("${{") == text.count("}}"), "an unclosed ${{ expression }}"
    workflow = load(path)
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            assert need in jobs, f"job {name} needs {need!r}, which is not a job here"
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", step["uses"]), step["uses"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_make_targets_that_workflows_run_exist(path):
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    for step in steps(load(path)):
        for target in re.findall(r"\bmake ([a-z][\w-]*)", step.get("run", "")):
            assert target in targets, f"{path.name} runs make {target}: no such target"


def test_the_book_workflow_publishes_to_pages():
    book = load(WORKFLOWS / "book.yml")
    assert book["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in book["on"]
    assert book["permissions"] == {"contents": "read"}
    assert book["concurrency"]["group"] and book["concurrency"]["cancel-in-progress"] is False
    deploy = book["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    uses = {s["uses"].split("@")[0]: s for s in steps(book) if "uses" in s}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert {"actions/configure-pages", "actions/deploy-pages"} <= set(uses)
    cached = {
        s["with"]["path"] for s in steps(book) if s.get("uses", "").startswith("actions/cache")
    }
    assert cached == {"~/.cache/imgen", "_build/.jupyter_cache"}
    assert any("make publish" in s.get("run", "") for s in steps(book))


def test_quick_builds_never_share_the_published_execution_cache(tmp_path):
    """`make book`'s config: `force` (runs every notebook, caches nothing) and its own folder."""
    published = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    assert published["execute_notebooks"] == "cache"
    assert "cache" not in published  # the default: _build/.jupyter_cache, where CI looks
    quick_config = tmp_path / "quick.yml"
    make = shutil.which("make") or pytest.skip("make is not installed")
    subprocess.run(
        [make, "-s", "-C", str(ROOT), "-o", ".venv/.installed-stamp",
         f"QUICK_CONFIG={quick_config}", f"BIN={BIN}", str(quick_config)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    quick = yaml.safe_load(quick_config.read_text())
    assert quick["execute"]["execute_notebooks"] == "force"
    assert quick["execute"]["cache"] not in ("", "_build/.jupyter_cache")
    everything_else = yaml.safe_load((ROOT / "_config.yml").read_text())
    del quick["execute"], everything_else["execute"]
    # Local extensions' folders are relative to the config file, so the copy names them in full.
    extensions = everything_else["sphinx"].pop("local_extensions")
    assert quick["sphinx"].pop("local_extensions") == {
        name: os.path.abspath(ROOT / folder) for name, folder in extensions.items()}
    assert quick == everything_else


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_cache_keys_hash_files_that_exist(path):
    """hashFiles() of a pattern that matches nothing is '': a key that never changes."""
    calls = re.findall(r"hashFiles\(([^)]*)\)", path.read_text())
    for pattern in re.findall(r"'([^']+)'", " ".join(calls)):
        # GitHub's `dir/**` takes every file below; Path.glob's takes only folders.
        files = ROOT.glob(pattern + "/*" if pattern.endswith("**") else pattern)
        assert any(p.is_file() for p in files), f"{path.name}: {pattern} matches nothing"
    assert "hashFiles('imgen/data/sources.py')" in path.read_text()
