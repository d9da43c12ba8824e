"""imgen.data fetches each set on first use, verifies it, and places it atomically.

A real HTTP server on 127.0.0.1 (a thread, port 0) stands in for the hosts: ``IMGEN_MIRROR``
points every download at it, and it serves tiny archives built in ``tmp_path`` under the same
``HOST/PATH`` names as the real ones (GitHub's top folders included). The expected digests are
monkeypatched to the tiny sets'. Nothing here needs the internet or the real data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import socket
import struct
import tarfile
import threading
import urllib.parse
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import tar_gz
from PIL import Image

from imgen.data import (
    CorruptDataError,
    DataNotFoundError,
    _fetch,
    _rows,
    cifar,
    lfw,
    load_cifar,
    load_fruits,
    load_lfw,
    load_mnist,
    load_painting,
    sources,
)

# ------------------------------------------------------------------------------ the mirror


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A loopback HTTP server for ``tmp_path/served/HOST/PATH``, logging each GET, with
    ``IMGEN_MIRROR`` pointing at it and no retries (a test that wants them sets them)."""
    served = tmp_path / "served"
    served.mkdir()
    state = SimpleNamespace(folder=served, requests=[], agents=[], failures=0)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            state.requests.append(urllib.parse.unquote(self.path))
            state.agents.append(self.headers.get("User-Agent"))
            if state.failures:
                state.failures -= 1
                self.send_error(503, "try again")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv(sources.MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(_fetch, "RETRIES", 0)
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def serve(state, url: str, data: bytes) -> None:
    """Put ``data`` where the mirror serves the original ``url`` (``HOST/PATH``)."""
    parts = urllib.parse.urlsplit(url)
    path = state.folder / parts.netloc / urllib.parse.unquote(parts.path).lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def jpeg(size: tuple[int, int], colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def content_digest(files: dict[str, bytes]) -> str:
    """The content digest as lfw/SOURCE.md and fruits-360/SOURCE.md define it."""
    lines = sorted(f"{name} {hashlib.sha256(data).hexdigest()}\n" for name, data in files.items())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def leftovers(root: Path) -> list[str]:
    """Everything under the data folder, as relative paths (hidden staging folders included)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


# ------------------------------------------------------------------------------- IMGEN_MIRROR


def test_url_is_the_original_without_a_mirror(monkeypatch):
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    assert sources.url(sources.LFW_URL) == sources.LFW_URL


def test_mirror_serves_host_and_path_under_its_base(monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:8765/")
    assert sources.url(sources.CIFAR100_URL) == (
        "http://127.0.0.1:8765/www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    )
    rewritten = sources.url("https://example.org/a/b.tgz?x=1")
    assert rewritten == "http://127.0.0.1:8765/example.org/a/b.tgz?x=1"


def test_every_source_is_a_fixed_https_url():
    for name, urls in sources.URLS.items():
        for url in urls:
            assert url.startswith("https://"), name
    assert sources.LFW_COMMIT in sources.LFW_URL and sources.FRUITS_COMMIT in sources.FRUITS_URL


# ---------------------------------------------------------------------------------------- LFW

LFW_PEOPLE = [f"Person_{chr(65 + i)}" for i in range(12)]  # both splits get someone


def lfw_archive(extra: dict[str, bytes] | None = None) -> tuple[bytes, dict[str, bytes]]:
    """A GitHub-style archive of the LFW commit: one face per person, plus other repo files."""
    faces = {
        f"lfw-deepfunneled/{p}/{p}_0001.jpg": jpeg((250, 250), (20 * i, 100, 50))
        for i, p in enumerate(LFW_PEOPLE)
    }
    top = sources.LFW_MEMBER.removesuffix("lfw-deepfunneled/")
    members = {f"{top}{name}": data for name, data in faces.items()}
    members[f"dfi-tensorflow-{sources.LFW_COMMIT}/README.md"] = b"# dfi"
    members[f"{top}other/x.jpg"] = b"not kept"
    members[f"{top}lfw-deepfunneled/lfw-names.txt"] = b"not an image, not kept"
    return tar_gz({**members, **(extra or {})}), faces


def offer_lfw(mirror, monkeypatch, archive: bytes, digest: str) -> None:
    """Serve ``archive`` at LFW's pinned address and pin ``digest`` as its content digest."""
    serve(mirror, sources.LFW_URL, archive)
    monkeypatch.setattr(sources, "LFW_DIGEST", digest)


@pytest.fixture
def tiny_lfw(monkeypatch):
    monkeypatch.setattr(lfw, "COMPLETE_IMAGES", len(LFW_PEOPLE))
    monkeypatch.setattr(lfw, "COMPLETE_PEOPLE", len(LFW_PEOPLE))


def test_lfw_first_use_fetches_verifies_and_places_the_folder(
    tmp_path, mirror, tiny_lfw, monkeypatch
):
    archive, faces = lfw_archive()
    offer_lfw(mirror, monkeypatch, archive, content_digest(faces))
    root = tmp_path / "data"
    train = load_lfw("train", size=4, root=root)
    test = load_lfw("test", size=4, root=root)
    assert len(train) + len(test) == len(LFW_PEOPLE) and len(test) > 0
    expected = ["lfw", "lfw/lfw-deepfunneled"] + [
        f"lfw/{name.rsplit('/', 1)[0]}" for name in faces
    ] + [f"lfw/{name}" for name in faces]
    assert leftovers(root) == sorted(expected)  # no archive, no staging folder, no README
    github = "/github.com/braun-steven/dfi-tensorflow/archive/"
    assert mirror.requests == [f"{github}{sources.LFW_COMMIT}.tar.gz"]
    assert mirror.agents[0].startswith("imgen/")


def test_lfw_second_load_fetches_nothing(tmp_path, mirror, tiny_lfw, monkeypatch):
    archive, faces = lfw_archive()
    offer_lfw(mirror, monkeypatch, archive, content_digest(faces))
    root = tmp_path / "data"
    first = load_lfw("test", size=2, root=root)
    again = load_lfw("test", size=2, root=root)
    assert len(mirror.requests) == 1 and torch.equal(first.images, again.images)


def test_lfw_with_a_wrong_digest_raises_and_leaves_nothing(tmp_path, mirror, tiny_lfw, monkeypatch):
    archive, _ = lfw_archive()
    offer_lfw(mirror, monkeypatch, archive, "0" * 64)
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match=r"the 12 images under .* have the content digest"):
        load_lfw(root=root)
    assert leftovers(root) == []


def test_lfw_archive_with_a_path_traversal_member_is_refused(
    tmp_path, mirror, tiny_lfw, monkeypatch
):
    escape = sources.LFW_MEMBER + "Person_A/../../../../../escaped.jpg"
    archive, faces = lfw_archive({escape: b"evil"})
    offer_lfw(mirror, monkeypatch, archive, content_digest(faces))
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match="would land outside the target"):
        load_lfw(root=root)
    assert leftovers(root) == [] and not list(tmp_path.rglob("escaped.jpg"))


def test_lfw_archive_with_a_link_in_the_kept_folder_is_refused(
    tmp_path, mirror, tiny_lfw, monkeypatch
):
    link = {sources.LFW_MEMBER + "Person_A/Person_A_0002.jpg": "/etc/passwd"}
    archive, faces = lfw_archive()
    buffer = io.BytesIO(archive)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    offer_lfw(mirror, monkeypatch, tar_gz(members, links=link), content_digest(faces))
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match="a link to '/etc/passwd'"):
        load_lfw(root=root)
    assert leftovers(root) == []


# ----------------------------------------------------------------------------------- Fruits-360


def fruits_archive() -> tuple[bytes, dict[str, bytes]]:
    """A GitHub-style archive of the Fruits commit: 8 classes in Training/Validation."""
    top = sources.FRUITS_MEMBER
    members, kept = {}, {}
    for split, ours, n in (("Training", "Training", 3), ("Validation", "Test", 2)):
        for i, cls in enumerate(("Apple Golden 1", "Banana", "Cherry 1", "Apple Red 2")):
            for k in range(n):
                data = jpeg((100, 100), (60 * i, 200, 10 * k))
                members[f"{top}{split}/{cls}/{k}_100.jpg"] = data
                if cls in sources.FRUITS_CLASSES:
                    kept[f"{ours}/{cls}/{k}_100.jpg"] = data
    members[f"AI-training-data-{sources.FRUITS_COMMIT}/README.md"] = b"# data"
    return tar_gz(members), kept


def test_fruits_first_use_keeps_two_classes_renaming_validation_to_test(
    tmp_path, mirror, monkeypatch
):
    archive, kept = fruits_archive()
    serve(mirror, sources.FRUITS_URL, archive)
    monkeypatch.setattr(sources, "FRUITS_DIGEST", content_digest(kept))
    root = tmp_path / "data"
    train, test = load_fruits("train", size=4, root=root), load_fruits("test", size=4, root=root)
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1] and test.labels.tolist() == [0, 0, 1, 1]
    files = [p for p in leftovers(root) if p.endswith(".jpg")]
    assert files == sorted(f"fruits-360/{name}" for name in kept)
    assert sorted(p.name for p in (root / "fruits-360").iterdir()) == ["Test", "Training"]
    assert len(mirror.requests) == 1  # the second split came from the folder


def test_fruits_with_a_wrong_digest_raises_and_leaves_nothing(tmp_path, mirror, monkeypatch):
    archive, _ = fruits_archive()
    serve(mirror, sources.FRUITS_URL, archive)
    monkeypatch.setattr(sources, "FRUITS_DIGEST", "f" * 64)
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match="the 10 images kept from .* content digest"):
        load_fruits(root=root)
    assert leftovers(root) == []


# ---------------------------------------------------------------------------- MNIST, CIFAR, art


def idx_gz(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_mnist_first_use_fetches_both_files_of_the_split_by_sha256(tmp_path, mirror, monkeypatch):
    files = {
        "t10k-images-idx3-ubyte.gz": idx_gz(np.full((2, 28, 28), 7), 2051),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.array([3, 4]), 2049),
    }
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(sources, "MNIST_SHA256", sums)
    for name, data in files.items():
        serve(mirror, sources.MNIST_URL + name, data)
    root = tmp_path / "data"
    assert load_mnist("test", root=root).labels.tolist() == [3, 4]
    assert leftovers(root) == ["MNIST", "MNIST/raw"] + [f"MNIST/raw/{n}" for n in sorted(files)]
    host = "/ossci-datasets.s3.amazonaws.com/mnist/"
    assert sorted(mirror.requests) == sorted(host + name for name in files)


def test_mnist_download_with_a_wrong_sha256_is_deleted(tmp_path, mirror, monkeypatch):
    serve(mirror, sources.MNIST_URL + "train-images-idx3-ubyte.gz", b"tampered")
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match="train-images-idx3-ubyte.gz"):
        load_mnist(root=root)
    assert [p for p in leftovers(root) if "." in Path(p).name] == []  # no file, no .part


def test_a_failed_attempt_is_retried(tmp_path, mirror, monkeypatch):
    data = idx_gz(np.array([1]), 2049)
    serve(mirror, sources.MNIST_URL + "x.gz", data)
    monkeypatch.setattr(_fetch, "RETRIES", 1)
    mirror.failures = 1  # the first GET gets a 503
    checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    dest = _fetch.fetch(sources.MNIST_URL + "x.gz", tmp_path / "x.gz", checksum)
    assert dest.read_bytes() == data and len(mirror.requests) == 2


def test_a_download_shows_a_progress_bar(tmp_path, mirror, capfd):
    serve(mirror, sources.MNIST_URL + "x.gz", b"x" * 5000)
    _fetch.fetch(sources.MNIST_URL + "x.gz", tmp_path / "x.gz")
    assert "100%" in capfd.readouterr().err


def cifar100_archive(train_rows: np.ndarray, test_rows: np.ndarray) -> bytes:
    def dump(obj) -> bytes:
        return pickle.dumps(obj, protocol=2)

    names = {"fine_label_names": [f"f{i}" for i in range(100)], "coarse_label_names": ["c"] * 20}
    members = {"cifar-100-python/meta": dump(names)}
    for split, rows in (("train", train_rows), ("test", test_rows)):
        n = len(rows)
        batch = {"data": rows, "fine_labels": [1] * n, "coarse_labels": [0] * n}
        members[f"cifar-100-python/{split}"] = dump(batch)
    return tar_gz(members)


def test_cifar_copy_with_another_md5_is_accepted_by_its_image_digests(
    tmp_path, mirror, monkeypatch
):
    train = np.arange(3 * 3072).reshape(3, 3072).astype(np.uint8)
    test = train[::-1] // 2
    serve(mirror, sources.CIFAR100_URL, cifar100_archive(train, test))
    digests = {"train": {_rows.rows_digest(train)}, "test": {_rows.rows_digest(test)}}
    monkeypatch.setattr(cifar, "CIFAR100", replace(cifar.CIFAR100, rows_sha256=digests))
    root = tmp_path / "data"
    assert len(load_cifar("test", root=root)) == 3
    assert leftovers(root) == ["cifar-100-python"] + [
        f"cifar-100-python/{n}" for n in ("meta", "test", "train")
    ]


def test_cifar_copy_with_other_images_is_refused_and_nothing_kept(tmp_path, mirror):
    rows = np.zeros((2, 3072), np.uint8)
    serve(mirror, sources.CIFAR100_URL, cifar100_archive(rows, rows))
    root = tmp_path / "data"
    with pytest.raises(CorruptDataError, match="md5 is .*, not the published"):
        load_cifar(root=root)
    assert leftovers(root) == []


def test_painting_first_use_fetches_it_and_gives_the_credit(tmp_path, mirror, monkeypatch):
    data = jpeg((40, 20), (200, 150, 10))
    painting = replace(sources.PAINTINGS["starry_night"], sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(sources.PAINTINGS, "starry_night", painting)
    serve(mirror, sources.PAINTINGS_URL + "starry_night.jpg", data)
    root = tmp_path / "data"
    image, credit = load_painting("starry_night", root=root)
    assert image.shape == (3, 20, 40) and image.dtype == torch.uint8
    assert credit == "The Starry Night, Vincent van Gogh, 1889 (public domain)"
    small, _ = load_painting("starry_night", size=10, root=root)
    assert small.shape == (3, 5, 10) and len(mirror.requests) == 1
    (root / "paintings" / "starry_night.jpg").write_bytes(jpeg((40, 20), (0, 0, 0)))
    with pytest.raises(CorruptDataError, match="starry_night.jpg: sha256 is"):
        load_painting("starry_night", root=root)


def test_unknown_painting_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown painting 'mona_lisa'; expected one of starry"):
        load_painting("mona_lisa")


# -------------------------------------------------------------------------------------- offline


def painting(root, download=True):
    return load_painting("the_scream", root=root, download=download)


@pytest.mark.parametrize(
    ("loader", "name", "url", "layout"),
    [
        (load_mnist, "MNIST", sources.MNIST_URL, "MNIST/raw/train-images-idx3-ubyte.gz"),
        (load_cifar, "CIFAR-100", sources.CIFAR100_URL, "cifar-100-python/train"),
        (load_lfw, "LFW", sources.LFW_URL, "lfw/lfw-deepfunneled/<Person>/<Person>_NNNN.jpg"),
        (load_fruits, "Fruits-360", sources.FRUITS_URL, "fruits-360/Training/Banana*/*.jpg"),
        (painting, "the_scream", sources.PAINTINGS_URL, "paintings/the_scream.jpg"),
    ],
)
def test_offline_says_which_set_from_where_and_which_folder_to_fill(
    tmp_path, monkeypatch, loader, name, url, layout
):
    monkeypatch.setenv(sources.MIRROR_ENV, f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(_fetch, "RETRIES", 0)
    root = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as err:
        loader(root=root)
    message = str(err.value)
    for part in (name, url, str(root), layout, "IMGEN_DATA", "The download failed", "refused"):
        assert part in message
    assert [p for p in leftovers(root) if (root / p).is_file() or "/." in f"/{p}"] == []


def test_a_mirror_without_the_file_is_reported_as_not_found(tmp_path, mirror):
    with pytest.raises(DataNotFoundError, match=r"The download failed: fetching .*404"):
        load_fruits(root=tmp_path / "data")
    assert leftovers(tmp_path / "data") == []
