"""The course as a learner first meets it: a fresh environment, an empty data folder, downloads.

Starting from nothing, this script

1. clones the repository's **committed HEAD** into a temporary folder and tags it ``v<version>``
   (pyproject's version), so the notebooks' setup cell can ``pip install`` the package from a
   ``file://`` git URL (``IMGEN_GIT_URL``) exactly as it would from GitHub. Changes that are not
   committed are not in the clone and so are not tested; the notebooks run are the clone's too;
2. builds the download mirror from ``shared/data`` (``tools/mirror_server.py``; cached between
   runs) and serves it on 127.0.0.1; ``IMGEN_MIRROR`` points every download at it, while the
   loaders still enforce their checksums and digests, so the server must hold the real bytes;
3. creates a fresh virtual environment holding only a notebook runner (nbclient, nbformat,
   ipykernel), not imgen: the first notebook's setup cell installs it, and its dependencies
   (torch, ...) with it;
4. runs every notebook top to bottom in quick mode (``IMGEN_QUICK=1``) with an empty data folder
   (``IMGEN_DATA``), then checks that imgen was installed from the clone, not the working tree;
5. checks that pass 1 asked for no file twice (a later chapter found what an earlier one
   fetched), then loads every data set pass 1 fetched again, both splits, in the learner's
   venv, and checks that none of those files is asked for again: nothing is fetched twice
   (running every notebook a second time would prove the same in many more minutes);
6. stops the server and, in another empty data folder, checks that a loader fails with the
   offline ``DataNotFoundError`` that names the set, the URL, the folder and ``IMGEN_DATA``;
7. prints the bytes served per data set and the time of each step.

Any failure ends it with exit status 1 (the work folder is then kept for a look).

    python tools/first_run.py [--work DIR] [--keep] [--mirror DIR] [--only 00_datasets]

``make first-run`` runs it; ``make test`` ends with it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools"
CELL_TIMEOUT_S = 900
SLOW_CELL_S = 5  # cells that take longer are named in the log, with their time
SETUP_CELL = 1  # the index of every notebook's setup cell
RUNNER_PACKAGES = ("nbclient", "nbformat", "ipykernel")
# Appended (in memory only) to each notebook run: which Python and which imgen the kernel used.
CHECK_TAG = "first-run-check"
CHECK_SOURCE = """\
import json, sys
import imgen
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix,
                  "imgen_file": imgen.__file__}))"""
OFFLINE_SCRIPT = """\
import json, sys
from imgen import data
try:
    data.load("lfw", "test")
except data.DataNotFoundError as err:
    print(json.dumps({"type": "DataNotFoundError", "message": str(err)}))
    sys.exit(0)
except Exception as err:
    print(json.dumps({"type": type(err).__module__ + "." + type(err).__qualname__,
                      "message": str(err)}))
    sys.exit(3)
print(json.dumps({"type": None, "message": "the load succeeded"}))
sys.exit(4)
"""
# Pass 2: load again (both splits) every data set pass 1 fetched, named as the mirror names them.
RELOAD_SCRIPT = """\
import sys
from imgen import data
from imgen.data import paintings, sources
for name in sys.argv[1:]:
    if name == "paintings":
        for painting in sources.PAINTINGS:
            paintings.painting_path(painting)
    else:
        for split in ("train", "test"):
            data.load(name, split)
    print("loaded again:", name, flush=True)
"""
LFW_URL_PART = "github.com/braun-steven/dfi-tensorflow"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What this machine's pip configuration (an extra local index lacking most packages) and
# Jupyter print on every run, to no purpose here.
NOISE = re.compile(
    r"WARNING: Location 'file:.*' is ignored|Kernel is running over TCP without encryption"
)


class Failure(Exception):
    """A check of the first run failed; the message says which and why."""


def say(message: str = "") -> None:
    print(message, flush=True)


class Steps:
    """Numbered steps with their wall times, for the log and the summary."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.start = time.perf_counter()

    @contextlib.contextmanager
    def step(self, title: str):
        say(f"\n=== [{len(self.times) + 1}] {title}")
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.times.append((title, seconds))
            say(f"--- {title}: {seconds:.1f} s")

    def total(self) -> float:
        return time.perf_counter() - self.start


def quiet(text: str) -> str:
    """``text`` without colour codes, blank lines and this machine's harmless pip warnings."""
    lines = ANSI.sub("", text or "").splitlines()
    return "\n".join(line for line in lines if line.strip() and not NOISE.search(line))


def run(cmd: list, *, env=None, cwd=None, check=True, capture=False) -> subprocess.CompletedProcess:
    """Run a command, echoing it and its (quietened) stderr; raise Failure when it fails and
    ``check``. With ``capture`` its stdout is returned rather than shown."""
    say("$ " + " ".join(str(c) for c in cmd))
    result = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, text=True,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE,
    )
    result.stderr = quiet(result.stderr)
    if result.stderr and not capture:
        say(result.stderr)
    if check and result.returncode != 0:
        detail = f"\n{result.stdout}\n{result.stderr}" if capture else ""
        raise Failure(f"{cmd[0]} exited with {result.returncode}{detail}")
    return result


def project_version(pyproject: Path) -> str:
    """The ``[project] version`` of a pyproject.toml."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
        if not match:
            raise Failure(f"{pyproject}: no version") from None
        return match.group(1)
    return tomllib.loads(text)["project"]["version"]


def notebook_version(path: Path) -> str | None:
    """The ``IMGEN_VERSION = "..."`` the setup cell of a notebook pins, or None."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    if len(cells) <= SETUP_CELL:
        return None
    source = "".join(cells[SETUP_CELL].get("source", ""))
    match = re.search(r'^IMGEN_VERSION\s*=\s*"([^"]+)"', source, re.MULTILINE)
    return match.group(1) if match else None


def clone_head(repo: Path, dest: Path) -> tuple[str, str]:
    """Clone ``repo``'s committed HEAD into ``dest`` and tag it ``v<version>``.

    Returns (commit, version). Uncommitted changes of ``repo`` are listed, as they are not tested.
    """
    commit = run(["git", "-C", repo, "rev-parse", "HEAD"], capture=True).stdout.strip()
    dirty = run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                capture=True).stdout.splitlines()
    if dirty:
        say(f"note: {len(dirty)} uncommitted change(s) in {repo} are NOT in the clone, so not "
            "tested: " + ", ".join(line[3:] for line in dirty[:10]))
    run(["git", "clone", "--quiet", "--no-checkout", repo, dest])
    run(["git", "-C", dest, "checkout", "--quiet", "--detach", commit])
    version = project_version(dest / "pyproject.toml")
    run(["git", "-C", dest, "tag", "--force", f"v{version}", commit], capture=True)
    return commit, version


def git_url(clone: Path) -> str:
    """The clone as a ``file://localhost/...`` URL: the pip that ``python -m venv`` bundles with
    Python 3.11 (23.2) rejects ``git+file:///...`` (no host) as an invalid requirement, while git
    reads both the same way."""
    return "file://localhost" + clone.resolve().as_posix()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything pointing at the checkout or its venv."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(
            ("IMGEN_", "JUPYTER", "PYTHON", "VIRTUAL_ENV", "CONDA", "IPYTHON", "MPLBACKEND")
        )
    }
    env.update(extra)
    return env


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_sources(mirror_server, data: Path | None) -> tuple[Path | None, list[str]]:
    """The folder of offline copies to serve: ``data``, else ``$IMGEN_DATA`` or ../shared/data,
    whichever holds every file the mirror needs. Returns (folder or None, problems found)."""
    if data is not None:
        candidates = [data]
    else:
        candidates = [Path(os.environ["IMGEN_DATA"])] if os.environ.get("IMGEN_DATA") else []
        candidates.append(mirror_server.SHARED_DATA)
    problems = []
    for candidate in candidates:
        missing = mirror_server.missing_sources(candidate)
        if not missing:
            return candidate, []
        problems.append(f"{candidate} lacks {', '.join(missing[:3])}")
    return None, problems


def start_server(mirror: Path, data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Start ``mirror_server.py serve`` on a free loopback port; return (process, base URL)."""
    cmd = [sys.executable, TOOLS / "mirror_server.py", "serve", "--out", mirror, "--data", data,
           "--log", log]
    say("$ " + " ".join(str(c) for c in cmd) + " &")
    server = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.match(r"serving (http://127\.0\.0\.1:\d+)", line)
    if not match:
        server.kill()
        raise Failure(f"the mirror server did not start (it printed {line!r})")
    url = match.group(1)
    with urllib.request.urlopen(url + "/ossci-datasets.s3.amazonaws.com/mnist/"
                                "t10k-labels-idx1-ubyte.gz", timeout=30) as response:
        response.read()
    return server, url


def stop_server(server: subprocess.Popen, url: str) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    try:
        urllib.request.urlopen(url + "/", timeout=5)
    except OSError:
        return
    raise Failure(f"{url} still answers after the server was stopped")


def read_requests(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def execute_notebooks(python: Path, notebooks: list[Path], out: Path, env: dict) -> list[tuple]:
    """Run each notebook in a fresh kernel of ``python``; return (name, seconds, error) rows."""
    rows = []
    for notebook in notebooks:
        executed = out / notebook.name
        say(f"--> {notebook.name}")
        start = time.perf_counter()
        result = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--execute", str(notebook),
             str(executed)],
            env=env, cwd=notebook.parent, text=True, capture_output=True,
        )
        if quiet(result.stderr):
            say(quiet(result.stderr))
        seconds = time.perf_counter() - start
        report = result.stdout.strip().splitlines()
        error = None
        if result.returncode != 0 or not report:
            error = "\n".join(report) or f"the runner exited with {result.returncode}"
        else:
            kernel = json.loads(report[-1])
            prefix = Path(kernel["prefix"]).resolve()
            imgen_file = Path(kernel["imgen_file"]).resolve()
            if prefix != python.parent.parent.resolve():
                error = f"the kernel ran in {prefix}, not the fresh venv"
            elif prefix not in imgen_file.parents or REPO in imgen_file.parents:
                error = f"the kernel imported imgen from {imgen_file}, not the fresh venv"
        rows.append((notebook.name, seconds, error))
        say(f"<-- {notebook.name}: {'ok' if error is None else 'FAILED'} in {seconds:.1f} s")
        if error:
            say(error)
    return rows


def execute_one(notebook: Path, executed: Path) -> int:
    """Run inside the fresh venv (``--execute``): execute one notebook with nbclient and print
    one JSON line saying which Python and which imgen its kernel used."""
    import nbclient
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    check = nbformat.v4.new_code_cell(CHECK_SOURCE, metadata={"tags": [CHECK_TAG]})
    nb.cells.append(check)
    started: dict[int, float] = {}

    def on_execute(cell_index: int, **_) -> None:
        started[cell_index] = time.perf_counter()

    def on_executed(cell, cell_index: int, **_) -> None:  # the slow cells, for the log
        seconds = time.perf_counter() - started.get(cell_index, time.perf_counter())
        if seconds >= SLOW_CELL_S:
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            print(f"    cell {cell_index}: {seconds:5.1f} s  {first[:70]}", file=sys.stderr)

    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
        on_cell_execute=on_execute, on_cell_executed=on_executed,
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        plain = ANSI.sub("", str(err))  # the traceback's colours
        print(f"{notebook.name}: a cell failed\n{plain}", flush=True)
        return 1
    finally:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    texts = [o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout"]
    print("".join(texts).strip().splitlines()[-1], flush=True)
    return 0


def check_installed(python: Path, commit: str, version: str, clone: Path, env: dict) -> None:
    """Fail unless the venv's imgen is ``version`` installed from the clone at ``commit``."""
    probe = (
        "import json, importlib.metadata as m; d = m.distribution('imgen'); "
        "print(json.dumps({'version': d.version, 'direct_url': d.read_text('direct_url.json'), "
        "'location': str(d.locate_file(''))}))"
    )
    result = run([python, "-c", probe], env=env, cwd=clone.parent, capture=True)
    info = json.loads(result.stdout.strip().splitlines()[-1])
    direct = json.loads(info["direct_url"] or "{}")
    vcs = direct.get("vcs_info", {})
    say(f"imgen {info['version']} in {info['location']}, from {direct.get('url')} "
        f"({vcs.get('vcs')} {vcs.get('requested_revision')} = {vcs.get('commit_id')})")
    problems = []
    if info["version"] != version:
        problems.append(f"version {info['version']}, expected {version}")
    if direct.get("url") != git_url(clone):
        problems.append(f"installed from {direct.get('url')}, expected {git_url(clone)}")
    if vcs.get("commit_id") != commit or vcs.get("requested_revision") != f"v{version}":
        problems.append(f"vcs_info {vcs}, expected v{version} = {commit}")
    if direct.get("dir_info", {}).get("editable"):
        problems.append("an editable install")
    if problems:
        raise Failure("imgen was not installed from the clone: " + "; ".join(problems))
    show = run([python, "-m", "pip", "show", "imgen"], env=env, cwd=clone.parent, capture=True)
    say(show.stdout.strip())


def check_served(requests: list[dict], label: str) -> None:
    """Every request the server saw was answered with the file."""
    bad = [r for r in requests if r["status"] != 200]
    if bad:
        raise Failure(f"{label}: the server answered {len(bad)} request(s) with an error: "
                      f"{bad[:5]}")


def check_offline(python: Path, env: dict, folder: Path) -> str:
    """With the server stopped, a loader must fail with an offline DataNotFoundError."""
    result = run([python, "-c", OFFLINE_SCRIPT], env=env, cwd=folder, check=False, capture=True)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise Failure(f"the offline check printed nothing (exit {result.returncode}):\n"
                      f"{result.stderr}")
    outcome = json.loads(lines[-1])
    message = outcome["message"]
    if outcome["type"] != "DataNotFoundError":
        raise Failure(f"expected DataNotFoundError offline, got {outcome['type']}: {message}\n"
                      f"{result.stderr}")
    missing = [
        what for what, present in (
            ("the set (LFW)", "LFW" in message),
            (f"the URL ({LFW_URL_PART})", LFW_URL_PART in message),
            (f"the folder ({folder})", str(folder) in message),
            ("IMGEN_DATA", "IMGEN_DATA" in message),
        ) if not present
    ]
    if missing:
        raise Failure(f"the offline error does not name {', '.join(missing)}:\n{message}")
    leftovers = [p for p in folder.rglob("*") if p.is_file()]
    if leftovers:
        raise Failure(f"the failed download left files behind: {leftovers[:5]}")
    return message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    parser.add_argument("--data", type=Path, help="the offline copies to serve (default: "
                        "$IMGEN_DATA if it holds them all, else ../shared/data)")
    parser.add_argument("--mirror", type=Path, help="the mirror's cached build (default: "
                        "mirror_server's, under the temporary folder)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only notebooks whose name starts with this (repeatable)")
    parser.add_argument("--execute", nargs=2, type=Path, metavar=("NOTEBOOK", "OUT"),
                        help=argparse.SUPPRESS)  # internal: run inside the fresh venv
    args = parser.parse_args(argv)
    if args.execute:
        return execute_one(*args.execute)

    sys.path.insert(0, str(TOOLS))
    import mirror_server

    data, problems = find_sources(mirror_server, args.data)
    if data is None:  # as the data tests do: skip, unless CI requires the data
        message = "the data sets to serve were not found: " + "; ".join(problems)
        if os.environ.get("IMGEN_REQUIRE_DATA"):
            say(f"first run FAILED: {message} (IMGEN_REQUIRE_DATA is set)")
            return 1
        say(f"first run skipped: {message}")
        return 0
    mirror = args.mirror or mirror_server.DEFAULT_OUT
    work = args.work or Path(tempfile.mkdtemp(prefix="imgen-first-run-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        say(f"error: the work folder {work} is not empty")
        return 1
    steps = Steps()
    server = url = None
    passes: list[list[tuple]] = []
    served: dict[str, list] = {}
    say(f"first run of {REPO} in {work}")
    try:
        with steps.step("clone the committed HEAD and tag it"):
            clone = work / "clone"
            commit, version = clone_head(REPO, clone)
            say(f"{clone}: {commit[:12]}, tagged v{version}")
            notebooks = sorted((clone / "notebooks").glob("*.ipynb"))
            if args.only:
                notebooks = [nb for nb in notebooks if nb.name.startswith(tuple(args.only))]
            if not notebooks:
                raise Failure("no notebooks to run")
            pins = {nb.name: notebook_version(nb) for nb in notebooks}
            wrong = {name: pin for name, pin in pins.items() if pin != version}
            if wrong:
                raise Failure(f"setup cells pin IMGEN_VERSION {wrong}, pyproject says {version}")
            runs = work / "notebooks"
            runs.mkdir()
            for nb in notebooks:  # outside the clone and the checkout: no imgen/ beside them
                shutil.copy2(nb, runs / nb.name)
            notebooks = [runs / nb.name for nb in notebooks]

        with steps.step("build the download mirror from shared/data"):
            say(f"sources: {data}")
            mirror_server.build(mirror, data, log=say)

        with steps.step("start the loopback server"):
            requests_log = work / "requests.jsonl"
            server, url = start_server(mirror, data, requests_log)
            say(f"serving {mirror} at {url}")

        with steps.step("create a fresh venv with only a notebook runner"):
            venv = work / "venv"
            python = venv_python(venv)
            run([sys.executable, "-m", "venv", venv], env=clean_env())
            env = clean_env(PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                            VIRTUAL_ENV=str(venv))
            run([python, "-m", "pip", "install", "--quiet", *RUNNER_PACKAGES], env=env, cwd=work)
            found = run([python, "-c", "import importlib.util as u; "
                         "print(u.find_spec('imgen') is None)"], env=env, cwd=work, capture=True)
            if found.stdout.strip() != "True":
                raise Failure("imgen is importable in the fresh venv before any notebook ran")

        data_dir = work / "data"
        data_dir.mkdir()
        jupyter = work / "jupyter"
        for sub in ("config", "data", "ipython"):
            (jupyter / sub).mkdir(parents=True)
        nb_env = dict(
            env, IMGEN_QUICK="1", IMGEN_DATA=str(data_dir), IMGEN_MIRROR=url,
            IMGEN_GIT_URL=git_url(clone),
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
            JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
            IPYTHONDIR=str(jupyter / "ipython"),
        )
        with steps.step("run every notebook (installs imgen, downloads the data)"):
            probes = len(read_requests(requests_log))  # start_server's check that it is up
            rows = execute_notebooks(python, notebooks, work / "executed", nb_env)
            passes.append(rows)
            first = read_requests(requests_log)[probes:]
            served["pass 1"] = first
            failed = [(name, error) for name, _, error in rows if error]
            if failed:
                raise Failure(f"{len(failed)} notebook(s) failed: "
                              + ", ".join(name for name, _ in failed))
            check_served(first, "pass 1")
            check_installed(python, commit, version, clone, nb_env)
            if not first:
                raise Failure("pass 1 fetched nothing: the loaders did not use the mirror")
            counts = collections.Counter(r["path"] for r in first)
            twice = sorted(path for path, n in counts.items() if n > 1)
            if twice:
                raise Failure(f"pass 1 fetched {len(twice)} file(s) more than once: "
                              + ", ".join(twice[:10]))

        with steps.step("load every fetched data set again (nothing may be fetched)"):
            names = sorted({r["dataset"] for r in first if r["dataset"]})
            run([python, "-c", RELOAD_SCRIPT, *names], env=nb_env, cwd=work)
            again = read_requests(requests_log)[probes + len(first):]
            served["pass 2"] = again
            check_served(again, "pass 2")
            fetched = {r["path"] for r in first}
            repeated = [r["path"] for r in again if r["path"] in fetched]
            if repeated:
                raise Failure(f"pass 2 fetched {len(repeated)} file(s) again: "
                              + ", ".join(repeated[:10]))

        with steps.step("stop the server; a loader must fail offline, clearly"):
            stop_server(server, url)
            server = None
            offline = work / "data-offline"
            offline.mkdir()
            start = time.perf_counter()
            message = check_offline(python, dict(nb_env, IMGEN_DATA=str(offline)), offline)
            say(f"DataNotFoundError after {time.perf_counter() - start:.1f} s:\n{message}")
    except Failure as err:
        say(f"\nFAILED: {err}")
        say(f"the work folder is kept: {work}")
        return 1
    finally:
        if server is not None:
            stop_server(server, url)
        summary(steps, passes, served)

    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        say(f"kept {work}")
    say("\nfirst run: OK")
    return 0


def summary(steps: Steps, passes: list[list[tuple]], served: dict[str, list]) -> None:
    say("\n=== summary")
    for title, seconds in steps.times:
        say(f"{seconds:8.1f} s  {title}")
    say(f"{steps.total():8.1f} s  total")
    for number, rows in enumerate(passes, 1):
        say(f"pass {number}: " + ", ".join(
            f"{name} {seconds:.0f} s{'' if error is None else ' FAILED'}"
            for name, seconds, error in rows))
    for label, requests in served.items():
        per_set: dict[str, list[int]] = {}
        for r in requests:
            counts = per_set.setdefault(r.get("dataset") or r["path"], [0, 0])
            counts[0] += 1
            counts[1] += r["bytes"]
        listing = ", ".join(f"{name} {n} file(s) {size:,} bytes"
                            for name, (n, size) in sorted(per_set.items())) or "nothing"
        total = sum(r["bytes"] for r in requests)
        say(f"served in {label}: {listing} (total {total:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
