"""The first-run tools: the download mirror's layout and server, and the pins the setup cells use.

``tools/first_run.py`` itself takes minutes (a fresh venv, every chapter); ``make test``
runs it after pytest. These tests check its pieces quickly, on a tiny stand-in for shared/data.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import missing_data

from imgen.data import sources

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
LFW_ARCHIVE = "github.com/braun-steven/dfi-tensorflow/archive/"


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"_tool_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


mirror_server = _load_tool("mirror_server")
first_run = _load_tool("first_run")


def _fake_shared_data(root: Path) -> Path:
    """A few files in each of shared/data's layouts (contents: their own names)."""
    files = [
        *(f"MNIST/raw/{name}" for name in sources.MNIST_SHA256),
        "cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta",
        "lfw/lfw-deepfunneled/Ann_Smith/Ann_Smith_0001.jpg",
        "lfw/lfw-deepfunneled/Ann_Smith/Ann_Smith_0002.jpg",
        "lfw/lfw-deepfunneled/Bo_Li/Bo_Li_0001.jpg",
        "lfw/pairs.txt",
        "fruits-360/Training/Apple Golden 1/0_100.jpg",
        "fruits-360/Training/Banana/r_1_100.jpg",
        "fruits-360/Test/Apple Golden 1/2_100.jpg",
        "fruits-360/Test/Banana/3_100.jpg",
        "fruits-360/Test/Cherry/4_100.jpg",  # a class the mirror does not serve
        *(f"paintings/{p.file}" for p in sources.PAINTINGS.values()),
    ]
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
    return root


def _members(archive: Path) -> dict[str, bytes | None]:
    with tarfile.open(archive) as tar:
        return {
            m.name: tar.extractfile(m).read() if m.isfile() else None for m in tar.getmembers()
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = _fake_shared_data(tmp_path_factory.mktemp("shared"))
    out = mirror_server.build(tmp_path_factory.mktemp("mirror") / "tree", data, log=lambda m: None)
    return data, out


def test_mirror_serves_every_source_at_its_host_path(built):
    data, out = built
    paths = {e.url_path: e.dataset for e in mirror_server.entries(data)}
    assert set(paths.values()) == {"mnist", "cifar100", "lfw", "fruits", "paintings"}
    for path in paths:
        assert (out / path).is_file(), path
    mnist = out / "ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz"
    assert mnist.read_bytes() == b"MNIST/raw/t10k-images-idx3-ubyte.gz"  # copied as is
    painting = out / mirror_server.url_path(sources.PAINTINGS_URL + "the_scream.jpg")
    assert painting.read_bytes() == b"paintings/the_scream.jpg"


def test_mirror_serves_every_url_the_loaders_fetch(built, monkeypatch):
    """Each original URL in imgen.data.sources has its file (CIFAR-10 is not in shared/data)."""
    data, out = built
    served = {e.url_path for e in mirror_server.entries(data)}
    wanted = {url for name, urls in sources.URLS.items() if name != "cifar10" for url in urls}
    assert served == {mirror_server.url_path(url) for url in wanted}
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:1")
    for url in wanted:  # where IMGEN_MIRROR sends the loaders
        assert sources.url(url) == f"http://127.0.0.1:1/{mirror_server.url_path(url)}"


def test_cifar_archive_holds_the_three_pickles(built):
    data, out = built
    members = _members(out / "www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz")
    assert {name: body for name, body in members.items() if body is not None} == {
        f"cifar-100-python/{n}": f"cifar-100-python/{n}".encode() for n in ("train", "test", "meta")
    }


def test_lfw_archive_is_the_commit_archive_layout(built):
    data, out = built
    commit = sources.LFW_COMMIT
    archive = out / f"github.com/braun-steven/dfi-tensorflow/archive/{commit}.tar.gz"
    members = _members(archive)
    top = f"dfi-tensorflow-{commit}/data/lfw-deepfunneled"
    assert {name for name, body in members.items() if body is not None} == {
        f"{top}/Ann_Smith/Ann_Smith_0001.jpg", f"{top}/Ann_Smith/Ann_Smith_0002.jpg",
        f"{top}/Bo_Li/Bo_Li_0001.jpg",
    }
    assert members[f"{top}/Bo_Li/Bo_Li_0001.jpg"] == b"lfw/lfw-deepfunneled/Bo_Li/Bo_Li_0001.jpg"
    assert f"dfi-tensorflow-{commit}" in members  # folder entries, as GitHub's archives have


def test_fruits_archive_calls_the_test_split_validation(built):
    data, out = built
    commit = sources.FRUITS_COMMIT
    members = _members(out / f"github.com/MorrisOh/AI-training-data/archive/{commit}.tar.gz")
    top = f"AI-training-data-{commit}/fruits-360-small"
    assert {name for name, body in members.items() if body is not None} == {
        f"{top}/Training/Apple Golden 1/0_100.jpg", f"{top}/Training/Banana/r_1_100.jpg",
        f"{top}/Validation/Apple Golden 1/2_100.jpg", f"{top}/Validation/Banana/3_100.jpg",
    }


def test_build_is_deterministic_and_cached(built, tmp_path):
    data, out = built
    logs = []
    again = mirror_server.build(tmp_path / "again", data, log=logs.append)
    assert not any("reusing" in m for m in logs)
    for entry in mirror_server.entries(data):
        assert (again / entry.url_path).read_bytes() == (out / entry.url_path).read_bytes()
    logs.clear()
    mirror_server.build(again, data, log=logs.append)
    assert logs == [f"mirror: reusing the build in {again}"]
    extra = data / "lfw/lfw-deepfunneled/Cy_Do/Cy_Do_0001.jpg"
    extra.parent.mkdir()
    extra.write_bytes(b"new face")
    try:
        logs.clear()
        mirror_server.build(again, data, log=logs.append)
        assert not any("reusing" in m for m in logs)  # a new source file means a rebuild
    finally:
        extra.unlink()
        extra.parent.rmdir()


def test_build_refuses_missing_sources(tmp_path):
    data = _fake_shared_data(tmp_path / "shared")
    (data / "MNIST/raw/train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        mirror_server.build(tmp_path / "tree", data, log=lambda m: None)


def test_server_serves_files_and_logs_each_request(built, tmp_path):
    data, out = built
    log = tmp_path / "requests.jsonl"
    server = mirror_server.serve(out, 0, log, data)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        path = "ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz"
        with urllib.request.urlopen(f"{base}/{path}", timeout=10) as response:
            assert response.read() == (out / path).read_bytes()
        for missing in ("", "ossci-datasets.s3.amazonaws.com/mnist/", mirror_server.STAMP,
                        "nothing/here"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"{base}/{missing}", timeout=10)
            assert err.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
    # a line is written once its response has gone out, so lines need not come in request order
    records = [json.loads(line) for line in log.read_text().splitlines()]
    served = [r for r in records if r["status"] == 200]
    assert served == [{
        "method": "GET", "path": f"/{path}", "status": 200,
        "bytes": (out / path).stat().st_size, "dataset": "mnist",
    }]
    refused = [r for r in records if r is not served[0]]
    assert sorted(r["path"] for r in refused) == sorted(
        f"/{m}" for m in ("", "ossci-datasets.s3.amazonaws.com/mnist/", mirror_server.STAMP,
                          "nothing/here"))
    assert all(r["status"] == 404 and r["bytes"] == 0 for r in refused)


def test_real_data_feeds_every_mirror_file():
    """The folder the first run serves ($IMGEN_DATA or ../shared/data) holds every set whole."""
    data, problems = first_run.find_sources(mirror_server, None)
    if data is None:
        missing_data("no folder holds the data sets the mirror serves: " + "; ".join(problems))
    items = mirror_server.entries(data)
    counts = {e.dataset: len(e.sources) for e in items if e.dataset in ("lfw", "fruits")}
    assert counts == {"lfw": 13_233, "fruits": 1_312}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_pins_the_package_version(notebook):
    """The setup cell installs tag v<IMGEN_VERSION>; the first run tags the clone v<version>."""
    version = first_run.project_version(REPO / "pyproject.toml")
    assert first_run.notebook_version(notebook) == version
    source = "".join(json.loads(notebook.read_text())["cells"][first_run.SETUP_CELL]["source"])
    assert 'os.environ.get("IMGEN_GIT_URL"' in source
    assert "@v{IMGEN_VERSION}" in source


def test_first_run_environment_forgets_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("IMGEN_DATA", "/somewhere")
    monkeypatch.setenv("IMGEN_REQUIRE_DATA", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("VIRTUAL_ENV", str(REPO / ".venv"))
    env = first_run.clean_env(IMGEN_QUICK="1")
    assert env["IMGEN_QUICK"] == "1"
    assert not {"IMGEN_DATA", "IMGEN_REQUIRE_DATA", "PYTHONPATH", "VIRTUAL_ENV"} & set(env)
    url = first_run.git_url(tmp_path / "clone")
    assert url == f"file://localhost{(tmp_path / 'clone').resolve().as_posix()}"


def test_sources_are_found_or_the_first_run_skips(monkeypatch, tmp_path, capsys):
    data = _fake_shared_data(tmp_path / "shared")
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = mirror_server.missing_sources(empty)
    assert any("cifar-100-python/train" in m for m in missing)
    assert any(LFW_ARCHIVE in m for m in missing)  # an archive with no files at all
    assert mirror_server.missing_sources(data) == []
    monkeypatch.setenv("IMGEN_DATA", str(data))
    assert first_run.find_sources(mirror_server, None) == (data, [])
    found, problems = first_run.find_sources(mirror_server, empty)
    assert found is None and str(empty) in problems[0]

    monkeypatch.delenv("IMGEN_REQUIRE_DATA", raising=False)
    work = tmp_path / "work"
    assert first_run.main(["--data", str(empty), "--work", str(work)]) == 0
    assert "first run skipped" in capsys.readouterr().out
    assert not work.exists()  # nothing was started
    monkeypatch.setenv("IMGEN_REQUIRE_DATA", "1")
    assert first_run.main(["--data", str(empty), "--work", str(work)]) == 1
    assert "first run FAILED" in capsys.readouterr().out
