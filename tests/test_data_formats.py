"""imgen.data reads each set's original on-disk format, and refuses bad, partial or unsafe files.

Every test writes a tiny data set in the publisher's layout into ``tmp_path``; nothing here
needs the network or the real data (downloads come from ``file://`` URLs or a closed port;
``test_fetch.py`` covers downloads over HTTP).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tar_gz
from PIL import Image

from imgen.data import (
    DATASETS,
    CorruptDataError,
    DataNotFoundError,
    ImageData,
    _fetch,
    _files,
    _rows,
    cifar,
    lfw,
    load,
    load_cifar,
    load_cifar10,
    load_cifar100,
    load_fruits,
    load_lfw,
    load_lfw_all,
    load_mnist,
    sources,
)

# ---------------------------------------------------------------- writers of the original formats


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


MNIST_IMAGES = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28) % 256
MNIST_LABELS = np.array([7, 0, 9])


def write_mnist(root: Path, prefix: str = "train") -> Path:
    raw = root / "MNIST" / "raw"
    write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", MNIST_IMAGES, 2051)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", MNIST_LABELS, 2049)
    return raw


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the original CIFAR pickles do."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def write_py2_pickle(path: Path, obj) -> None:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    # numpy 1, which wrote the originals, names the reconstructor under numpy.core.
    data = buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def cifar_rows(n: int, start: int) -> np.ndarray:
    return ((np.arange(n * 3072) + start) % 251).astype(np.uint8).reshape(n, 3072)


CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer"] + [b"x"] * 5


def write_cifar10(root: Path) -> Path:
    """Five training batches of one image each (label = batch number), test and meta."""
    folder = root / "cifar-10-batches-py"
    write_py2_pickle(folder / "batches.meta", {b"label_names": CIFAR10_NAMES})
    for i in range(1, 6):
        batch = {b"data": cifar_rows(1, 7 * i), b"labels": [i]}
        write_py2_pickle(folder / f"data_batch_{i}", batch)
    write_py2_pickle(folder / "test_batch", {b"data": cifar_rows(1, 3), b"labels": [9]})
    return folder


def write_cifar100(root: Path) -> Path:
    folder = root / "cifar-100-python"
    fine = [f"fine{i}".encode() for i in range(100)]
    coarse = [f"coarse{i}".encode() for i in range(20)]
    write_py2_pickle(folder / "meta", {b"fine_label_names": fine, b"coarse_label_names": coarse})
    for split, n in (("train", 4), ("test", 2)):
        batch = {
            b"data": cifar_rows(n, 5),
            b"fine_labels": list(range(90, 90 + n)),
            b"coarse_labels": list(range(10, 10 + n)),
        }
        write_py2_pickle(folder / split, batch)
    return folder


def write_jpeg(path: Path, size: tuple[int, int], colour, inner=None, box=None) -> None:
    """A JPEG of one colour, optionally with the rectangle ``box`` painted ``inner``."""
    image = Image.new("RGB", size, colour)
    if inner is not None:
        image.paste(inner, box)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=100, subsampling=0)


def grey(i: int) -> tuple[int, int, int]:
    return (20 * i + 10,) * 3


PEOPLE = [f"Person_{chr(65 + i)}" for i in range(12)]  # sha256 puts some of these in test


def write_lfw(root: Path, folder: Path = Path("lfw", "lfw-deepfunneled")) -> None:
    """Two photos per person: the person's grey inside the face box, red outside it.

    Tests that load it use the ``tiny_lfw`` fixture, which makes these 24 images the complete set.
    """
    for i, person in enumerate(PEOPLE):
        for k in (1, 2):
            path = root / folder / person / f"{person}_{k:04d}.jpg"
            write_jpeg(path, (250, 250), (255, 0, 0), grey(i), lfw.FACE_BOX)


FRUITS = {"Apple Golden 1": (250, 220, 40), "Apple Red 2": (200, 20, 20), "Banana": (240, 240, 0)}


def write_fruits(root: Path, folder: str = "fruits-360") -> None:
    for split, n in (("Training", 2), ("Test", 1)):
        for name, colour in {**FRUITS, "Cherry 1": (90, 0, 30)}.items():
            for k in range(n):
                write_jpeg(root / folder / split / name / f"{k}_100.jpg", (100, 100), colour)


def make_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    path.write_bytes(tar_gz(members, links))
    return path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def closed_port() -> int:
    """A loopback port that nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_network(monkeypatch) -> None:
    """Every download goes to a closed loopback port (through IMGEN_MIRROR), without retries."""
    monkeypatch.setenv(sources.MIRROR_ENV, f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(_fetch, "RETRIES", 0)


@pytest.fixture
def tiny_lfw(monkeypatch):
    """``write_lfw``'s 12 people and 24 images count as the complete LFW."""
    monkeypatch.setattr(lfw, "COMPLETE_IMAGES", 2 * len(PEOPLE))
    monkeypatch.setattr(lfw, "COMPLETE_PEOPLE", len(PEOPLE))


# ------------------------------------------------------------------------------------ ImageData


def tiny_data(n: int = 5) -> ImageData:
    images = torch.arange(n * 3 * 2 * 2, dtype=torch.int64).remainder(256).to(torch.uint8)
    labels = torch.arange(n) % 2
    return ImageData(images.reshape(n, 3, 2, 2), labels, ("a", "b"), "tiny", "train")


def test_imagedata_float_is_float32_in_0_1():
    data = tiny_data()
    x = data.float()
    assert x.dtype == torch.float32 and x.shape == (5, 3, 2, 2)
    assert torch.equal(x * 255, data.images.float())
    assert data.images.dtype == torch.uint8  # converting leaves the stored images alone


def test_imagedata_float_with_index_converts_only_those_images():
    data = tiny_data()
    assert torch.equal(data.float(slice(1, 3)), data.float()[1:3])


def test_imagedata_len_and_shape():
    data = tiny_data()
    assert len(data) == 5 and data.shape == (3, 2, 2)
    assert "tiny train: 5 images of 3x2x2" in repr(data)


def test_subset_is_reproducible_and_keeps_labels_with_images():
    data = tiny_data(10)
    a, b, c = data.subset(4, seed=1), data.subset(4, seed=1), data.subset(4, seed=2)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    index = [int(torch.nonzero((data.images == img).all(dim=(1, 2, 3)))) for img in a.images]
    assert torch.equal(a.labels, data.labels[index])
    assert (a.name, a.split, a.classes) == (data.name, data.split, data.classes)


def test_subset_larger_than_the_set_is_refused():
    with pytest.raises(ValueError, match="from 0 to 5"):
        tiny_data().subset(6)


def test_imagedata_refuses_float_images():
    with pytest.raises(ValueError, match="torch.uint8"):
        ImageData(torch.zeros(1, 1, 2, 2), None, (), "x", "train")


# ---------------------------------------------------------------------------------------- MNIST


def test_mnist_reads_idx_values_exactly(tmp_path):
    write_mnist(tmp_path, "t10k")
    data = load_mnist("test", root=tmp_path, download=False)
    assert data.images.shape == (3, 1, 28, 28) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(MNIST_IMAGES.astype(np.uint8)))
    assert data.labels.tolist() == [7, 0, 9] and data.labels.dtype == torch.int64
    assert data.classes == tuple("0123456789") and data.name == "MNIST" and data.split == "test"


def test_mnist_missing_names_set_folder_layout_variable_and_url(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_mnist(root=tmp_path, download=False)
    message = str(err.value)
    for part in ("MNIST", str(tmp_path), "MNIST/raw/train-images-idx3-ubyte.gz", "IMGEN_DATA"):
        assert part in message
    assert sources.MNIST_URL in message


def test_mnist_corrupt_gzip_is_named(tmp_path):
    raw = write_mnist(tmp_path)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorruptDataError, match="train-images-idx3-ubyte.gz: not a readable gzip"):
        load_mnist(root=tmp_path, download=False)


def test_mnist_wrong_magic_is_named(tmp_path):
    raw = write_mnist(tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte.gz", MNIST_LABELS, 2051)
    with pytest.raises(CorruptDataError, match="magic number is 2051, expected 2049"):
        load_mnist(root=tmp_path, download=False)


def test_mnist_byte_count_must_match_header(tmp_path):
    raw = write_mnist(tmp_path)
    header = struct.pack(">IIII", 2051, 3, 28, 28)
    with gzip.open(raw / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + bytes(100))  # truncated pixels
    with pytest.raises(CorruptDataError, match="3x28x28 uint8"):
        load_mnist(root=tmp_path, download=False)


def test_mnist_without_network_says_where_to_put_the_files(tmp_path, monkeypatch):
    no_network(monkeypatch)
    with pytest.raises(DataNotFoundError) as err:
        load_mnist(root=tmp_path, download=True)
    assert str(tmp_path) in str(err.value) and "IMGEN_DATA" in str(err.value)
    assert "The download failed" in str(err.value) and "refused" in str(err.value)


def serve_mnist(tmp_path: Path, monkeypatch) -> Path:
    """A local 'mirror' (file:// URL) of tiny MNIST archives, with their true sha256s."""
    mirror = write_mnist(tmp_path / "mirror")
    monkeypatch.setattr(sources, "MNIST_URL", mirror.as_uri() + "/")
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    monkeypatch.setattr(sources, "MNIST_SHA256", sums)
    return mirror


def test_mnist_download_fetches_verified_files(tmp_path, monkeypatch):
    serve_mnist(tmp_path, monkeypatch)
    data = load_mnist(root=tmp_path / "data", download=True)
    assert data.labels.tolist() == [7, 0, 9]
    assert sorted(p.name for p in (tmp_path / "data" / "MNIST" / "raw").iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


def test_mnist_download_with_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    mirror = serve_mnist(tmp_path, monkeypatch)
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(b"tampered")
    with pytest.raises(CorruptDataError, match="sha256"):
        load_mnist(root=tmp_path / "data", download=True)
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert [p.name for p in raw.iterdir()] == []  # no file, no leftover temporary file


# ---------------------------------------------------------------------------------------- CIFAR


def test_cifar10_reads_python2_pickles_of_all_five_batches(tmp_path):
    write_cifar10(tmp_path)
    train = load_cifar10(root=tmp_path, download=False)
    rows = np.concatenate([cifar_rows(1, 7 * i) for i in range(1, 6)])
    order = cifar.canonical_order(rows)
    assert train.images.shape == (5, 3, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images, torch.from_numpy(rows[order].reshape(5, 3, 32, 32)))
    assert train.labels.tolist() == (np.arange(1, 6)[order]).tolist()
    assert train.classes[:3] == ("airplane", "automobile", "bird") and train.name == "CIFAR-10"


def test_cifar10_test_split_is_test_batch(tmp_path):
    write_cifar10(tmp_path)
    test = load_cifar10("test", root=tmp_path, download=False)
    assert test.labels.tolist() == [9]
    assert torch.equal(test.images[0].flatten(), torch.from_numpy(cifar_rows(1, 3)[0]))


def test_cifar10_missing_a_training_batch_is_refused_as_incomplete(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataNotFoundError, match="incomplete: data_batch_3 missing"):
        load_cifar10(root=tmp_path, download=False)


@pytest.mark.parametrize("missing", ["meta", "test", "train"])
def test_cifar100_folder_without_one_of_its_files_is_refused_as_incomplete(tmp_path, missing):
    folder = write_cifar100(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(DataNotFoundError, match=f"CIFAR-100 in .* incomplete: {missing} missing"):
        load_cifar100("test", root=tmp_path, download=True)  # never downloads over a folder


def test_cifar100_fine_and_coarse_labels(tmp_path):
    write_cifar100(tmp_path)
    fine = load_cifar100(root=tmp_path, download=False)
    coarse = load_cifar100(root=tmp_path, download=False, labels="coarse")
    assert fine.labels.tolist() == [90, 91, 92, 93] and fine.classes[90] == "fine90"
    assert coarse.labels.tolist() == [10, 11, 12, 13] and len(coarse.classes) == 20
    assert torch.equal(fine.images, torch.from_numpy(cifar_rows(4, 5).reshape(4, 3, 32, 32)))
    assert fine.name == "CIFAR-100"


def test_cifar100_bad_labels_argument(tmp_path):
    with pytest.raises(ValueError, match="'fine' or 'coarse', got 'medium'"):
        load_cifar100(root=tmp_path, labels="medium")


def test_load_cifar_is_cifar100_even_beside_cifar10(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(DataNotFoundError, match="cifar-100-python/test"):
        load_cifar("test", root=tmp_path, download=False)
    write_cifar100(tmp_path)
    assert load_cifar("test", root=tmp_path, download=False).name == "CIFAR-100"


def test_load_cifar_missing_names_the_layout_variable_and_url(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_cifar(root=tmp_path, download=False)
    message = str(err.value)
    for part in ("CIFAR-100", "cifar-100-python/meta", "cifar-100-python/train", "IMGEN_DATA"):
        assert part in message
    assert str(tmp_path) in message and sources.CIFAR100_URL in message


def test_truncated_pickle_is_named(tmp_path):
    folder = write_cifar10(tmp_path)
    batch = folder / "test_batch"
    batch.write_bytes(batch.read_bytes()[:1000])
    with pytest.raises(CorruptDataError, match="test_batch: not a readable pickle"):
        load_cifar10("test", root=tmp_path, download=False)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_pickle_written_by_python3_is_read(tmp_path, protocol):
    folder = write_cifar100(tmp_path)
    batch = {
        "data": cifar_rows(2, 1),
        "fine_labels": [3, 4],
        "coarse_labels": [0, 1],
        "filenames": [b"a.png", b""],  # bytes: _codecs.encode under protocol 2, b"" as bytes()
        "batch_label": "testing batch 1 of 1",
    }
    (folder / "test").write_bytes(pickle.dumps(batch, protocol=protocol))
    data = load_cifar100("test", root=tmp_path, download=False)
    assert torch.equal(data.images, torch.from_numpy(cifar_rows(2, 1).reshape(2, 3, 32, 32)))


def test_pickle_codecs_encode_is_allowed_only_as_latin1_bytes(tmp_path):
    folder = write_cifar100(tmp_path)
    evil = b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00xX\x04\x00\x00\x00zlibq\x01\x86R."
    (folder / "test").write_bytes(evil)
    with pytest.raises(CorruptDataError, match="refused _codecs.encode"):
        load_cifar100("test", root=tmp_path, download=False)


class CallsSystem:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_calls_a_function_is_refused_before_the_call(tmp_path):
    folder = write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    (folder / "test_batch").write_bytes(pickle.dumps({"data": CallsSystem(marker)}, protocol=2))
    with pytest.raises(CorruptDataError, match=r"test_batch: refused to load the global .*system"):
        load_cifar10("test", root=tmp_path, download=False)
    assert not marker.exists()


def test_pickle_without_data_key_is_named(tmp_path):
    folder = write_cifar10(tmp_path)
    write_py2_pickle(folder / "test_batch", {b"labels": [1]})
    with pytest.raises(CorruptDataError, match="test_batch: key 'data' missing"):
        load_cifar10("test", root=tmp_path, download=False)


def test_pickle_with_fewer_labels_than_images_is_named(tmp_path):
    folder = write_cifar10(tmp_path)
    write_py2_pickle(folder / "test_batch", {b"data": cifar_rows(2, 0), b"labels": [1]})
    with pytest.raises(CorruptDataError, match="2 images but 1 entries"):
        load_cifar10("test", root=tmp_path, download=False)


def test_pickle_with_wrong_row_length_is_named(tmp_path):
    folder = write_cifar10(tmp_path)
    write_py2_pickle(folder / "test_batch", {b"data": np.zeros((1, 100), np.uint8), b"labels": [1]})
    with pytest.raises(CorruptDataError, match="3072 bytes"):
        load_cifar10("test", root=tmp_path, download=False)


def cifar10_archive(tmp_path: Path, monkeypatch) -> Path:
    """A cifar-10-python.tar.gz of the tiny set (plus a stray file), with its md5 registered."""
    source = write_cifar10(tmp_path / "src")
    members = {f"cifar-10-batches-py/{p.name}": p.read_bytes() for p in source.iterdir()}
    archive = make_tar(tmp_path / "cifar-10-python.tar.gz", {**members, "stray.txt": b"x"})
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, md5=md5(archive)))
    return archive


def test_cifar_download_checks_and_unpacks_only_the_set_folder(tmp_path, monkeypatch):
    archive = cifar10_archive(tmp_path, monkeypatch)
    monkeypatch.setattr(cifar, "URL", tmp_path.as_uri() + "/")
    root = tmp_path / "data"
    assert len(load_cifar10("test", root=root, download=True)) == 1
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py"]  # archive removed
    assert archive.exists()


def test_cifar_archive_left_in_the_folder_is_unpacked_without_network(tmp_path, monkeypatch):
    archive = cifar10_archive(tmp_path, monkeypatch)
    no_network(monkeypatch)
    assert len(load_cifar10(root=tmp_path, download=False)) == 5
    assert not (tmp_path / "stray.txt").exists()
    assert archive.exists()  # the user's archive is kept


def test_cifar100_archive_with_another_md5_but_the_same_images_is_accepted(tmp_path, monkeypatch):
    source = write_cifar100(tmp_path / "src")
    members = {f"cifar-100-python/{p.name}": p.read_bytes() for p in source.iterdir()}
    make_tar(tmp_path / "cifar-100-python.tar.gz", members)
    digests = {
        split: frozenset({_rows.rows_digest(cifar_rows(n, 5))})
        for split, n in [("train", 4), ("test", 2)]
    }
    monkeypatch.setattr(cifar, "CIFAR100", replace(cifar.CIFAR100, rows_sha256=digests))
    assert len(load_cifar100("test", root=tmp_path, download=False)) == 2


def test_cifar100_archive_with_other_images_is_refused_and_nothing_kept(tmp_path, monkeypatch):
    source = write_cifar100(tmp_path / "src")
    members = {f"cifar-100-python/{p.name}": p.read_bytes() for p in source.iterdir()}
    make_tar(tmp_path / "cifar-100-python.tar.gz", members)
    with pytest.raises(CorruptDataError, match="test images' order-free digest is"):
        load_cifar100("test", root=tmp_path, download=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-100-python.tar.gz", "src"]


def test_cifar_archive_with_wrong_md5_is_refused(tmp_path, monkeypatch):
    cifar10_archive(tmp_path, monkeypatch)
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, md5="0" * 32))
    with pytest.raises(CorruptDataError, match="cifar-10-python.tar.gz: md5"):
        load_cifar10(root=tmp_path, download=False)


# ------------------------------------------------------------------------ downloads and archives


def test_file_url_download_with_matching_checksum_renames_into_place(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    dest = tmp_path / "out" / "file.bin"
    _fetch.fetch(source.as_uri(), dest, "sha256:" + hashlib.sha256(b"payload").hexdigest())
    assert dest.read_bytes() == b"payload"
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]


def test_file_url_download_with_wrong_checksum_deletes_the_file(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(CorruptDataError, match="expected 0000"):
        _fetch.fetch(source.as_uri(), dest, "md5:" + "0" * 32)
    assert list(dest.parent.iterdir()) == []


def every_member(name: str) -> str:
    return name


def test_zip_member_with_dotdot_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("../escaped.txt", b"evil")
    dest = tmp_path / "dest"
    with pytest.raises(CorruptDataError, match="'../escaped.txt'"):
        _files.extract(archive, dest, every_member)
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]  # no dest, no staging


@pytest.mark.parametrize("name", ["/tmp/imgen-absolute.txt", "a/../../escaped.txt"])
def test_tar_member_outside_the_target_is_refused(tmp_path, name):
    archive = make_tar(tmp_path / "evil.tar.gz", {"ok.txt": b"fine", name: b"evil"})
    dest = tmp_path / "dest"
    with pytest.raises(CorruptDataError, match="outside the target"):
        _files.extract(archive, dest, every_member)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]


def test_tar_symlink_escaping_the_target_is_refused(tmp_path):
    archive = make_tar(tmp_path / "evil.tar.gz", {}, links={"data/link": "../../../etc/passwd"})
    dest = tmp_path / "dest"
    with pytest.raises(CorruptDataError, match="a link to '../../../etc/passwd'"):
        _files.extract(archive, dest, every_member)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]


def test_extract_writes_only_selected_members_under_their_new_names(tmp_path):
    members = {"./top/keep/a.txt": b"a", "top/skip/b.txt": b"b"}
    archive = make_tar(tmp_path / "a.tar.gz", members)
    select = _fetch.members_under("top/keep")
    assert _files.extract(archive, tmp_path / "dest", select) == 1
    assert (tmp_path / "dest" / "a.txt").read_bytes() == b"a"
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["a.txt"]


def test_extract_refuses_to_write_into_an_existing_folder(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"a.txt": b"a"})
    (tmp_path / "dest").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        _files.extract(archive, tmp_path / "dest", every_member)


# ------------------------------------------------------------------------------------------ LFW


def test_lfw_crops_the_face_box_and_resizes(tmp_path, tiny_lfw):
    write_lfw(tmp_path)
    data = load_lfw(size=4, root=tmp_path, download=False)
    assert data.images.shape[1:] == (3, 4, 4) and data.images.dtype == torch.uint8
    for image, label in zip(data.images, data.labels, strict=True):
        value = grey(PEOPLE.index(data.classes[label]))[0]
        assert (image.int() - value).abs().max() <= 3  # only the face box, no red border


def test_lfw_all_is_every_image_centre_cropped_and_halved_as_article_ds_code_did(
    tmp_path, tiny_lfw
):
    write_lfw(tmp_path)
    data = load_lfw_all(root=tmp_path, download=False)
    assert data.images.shape == (24, 3, 45, 45) and data.split == "all"
    assert data.classes == tuple(PEOPLE) and data.labels.tolist() == [i // 2 for i in range(24)]
    for image, label in zip(data.images, data.labels, strict=True):
        assert (image.int() - grey(int(label))[0]).abs().max() <= 3  # inside the face box
    # No pooling: the central 90x90 as it is; a border of 61 reaches the red outside the box.
    assert load_lfw_all(pool=1, root=tmp_path, download=False).shape == (3, 90, 90)
    wide = load_lfw_all(border=45, pool=2, root=tmp_path, download=False)
    assert wide.shape == (3, 80, 80) and wide.images[0, 0, 0, 0] > 200  # red


@pytest.mark.parametrize(
    "options, message",
    [(dict(pool=4), "pool must be >= 1 and divide the 90-pixel crop"), (dict(border=-1), "border")],
)
def test_lfw_all_refuses_a_crop_it_cannot_pool(options, message):
    with pytest.raises(ValueError, match=message):
        load_lfw_all(**options)


def test_lfw_split_is_person_disjoint_and_covers_everyone(tmp_path, tiny_lfw):
    write_lfw(tmp_path)
    train = load_lfw("train", size=2, root=tmp_path, download=False)
    test = load_lfw("test", size=2, root=tmp_path, download=False)
    assert set(train.classes).isdisjoint(test.classes)
    assert sorted(train.classes + test.classes) == PEOPLE
    assert list(test.classes) == sorted(p for p in PEOPLE if lfw.is_test_person(p))
    assert len(train) + len(test) == 2 * len(PEOPLE) and len(test) > 0


def test_lfw_split_rule_is_a_fixed_hash_of_the_name():
    assert lfw.is_test_person("Person_A") == (
        int(hashlib.sha256(b"Person_A").hexdigest(), 16) % 5 == 0
    )


def test_lfw_accepts_the_folder_directly_under_the_root(tmp_path, tiny_lfw):
    write_lfw(tmp_path, Path("lfw-deepfunneled"))
    assert len(load_lfw("test", size=2, root=tmp_path, download=False)) > 0


def test_lfw_image_of_the_wrong_size_is_named(tmp_path, tiny_lfw):
    write_lfw(tmp_path)
    bad = tmp_path / "lfw" / "lfw-deepfunneled" / "Person_A" / "Person_A_0001.jpg"
    write_jpeg(bad, (100, 100), (0, 0, 0))
    with pytest.raises(CorruptDataError, match="Person_A_0001.jpg: image is 100x100, expected 250"):
        load_lfw(split="test" if lfw.is_test_person("Person_A") else "train", root=tmp_path)


def test_lfw_undecodable_jpeg_is_named(tmp_path, tiny_lfw):
    write_lfw(tmp_path)
    bad = tmp_path / "lfw" / "lfw-deepfunneled" / "Person_A" / "Person_A_0002.jpg"
    bad.write_bytes(bad.read_bytes()[:300])  # truncated
    with pytest.raises(CorruptDataError, match="Person_A_0002.jpg: not a readable image"):
        load_lfw(split="test" if lfw.is_test_person("Person_A") else "train", root=tmp_path)


def test_lfw_missing_says_what_to_download_and_where(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_lfw(root=tmp_path, download=False)
    message = str(err.value)
    for part in ("LFW", str(tmp_path), "lfw/lfw-deepfunneled/<Person>", "IMGEN_DATA"):
        assert part in message
    assert sources.LFW_URL in message and sources.LFW_DIGEST in message
    assert "lfw-deepfunneled.tgz" in message and sources.LFW_ORIGINAL_MD5 in message


def test_lfw_partial_folder_is_refused_saying_how_much_is_there(tmp_path, tiny_lfw):
    write_lfw(tmp_path)
    for path in (tmp_path / "lfw" / "lfw-deepfunneled" / "Person_C").iterdir():
        path.unlink()
    with pytest.raises(DataNotFoundError, match="holds 22 images of 11 people, but the complete"):
        load_lfw(root=tmp_path, download=False)


def test_lfw_short_folder_is_refused_against_the_real_counts(tmp_path):
    write_lfw(tmp_path)
    with pytest.raises(DataNotFoundError, match="has 13,233 images of 5,749 people"):
        load_lfw("test", root=tmp_path, download=False)


def test_lfw_archive_in_the_folder_is_checked_and_unpacked(tmp_path, monkeypatch, tiny_lfw):
    write_lfw(tmp_path / "src", Path("lfw-deepfunneled"))
    members = {
        p.relative_to(tmp_path / "src").as_posix(): p.read_bytes()
        for p in (tmp_path / "src").rglob("*.jpg")
    }
    root = tmp_path / "data"
    root.mkdir()
    archive = make_tar(root / "lfw-deepfunneled.tgz", members)
    monkeypatch.setattr(sources, "LFW_ORIGINAL_MD5", md5(archive))
    no_network(monkeypatch)
    assert len(load_lfw("test", size=2, root=root)) > 0
    assert (root / "lfw" / "lfw-deepfunneled" / "Person_B" / "Person_B_0001.jpg").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["lfw", "lfw-deepfunneled.tgz"]


def test_lfw_archive_in_the_folder_with_wrong_md5_is_refused(tmp_path):
    make_tar(tmp_path / "lfw-deepfunneled.tgz", {"lfw-deepfunneled/A/A_0001.jpg": b"x"})
    with pytest.raises(CorruptDataError, match="lfw-deepfunneled.tgz: md5 is"):
        load_lfw(root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lfw-deepfunneled.tgz"]


def test_lfw_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="positive int"):
        load_lfw(size=0, root=tmp_path)


# ----------------------------------------------------------------------------------- Fruits-360


def test_fruits_keeps_apples_and_bananas_labelled_by_kind(tmp_path):
    write_fruits(tmp_path)
    data = load_fruits(size=4, root=tmp_path, download=False)
    assert data.classes == ("apple", "banana") and data.name == "Fruits-360"
    assert data.images.shape == (6, 3, 4, 4)  # 2 per folder, the cherries left out
    assert data.labels.tolist() == [0, 0, 0, 0, 1, 1]
    means = data.images.float().mean(dim=(2, 3))
    expected = [FRUITS["Apple Golden 1"]] * 2 + [FRUITS["Apple Red 2"]] * 2 + [FRUITS["Banana"]] * 2
    assert (means - torch.tensor(expected, dtype=torch.float32)).abs().max() <= 3


def test_fruits_test_split_reads_the_test_folder(tmp_path):
    write_fruits(tmp_path)
    data = load_fruits("test", root=tmp_path, download=False)
    assert data.images.shape == (3, 3, 16, 16) and data.split == "test"


def test_fruits_accepts_the_official_repository_folder_name(tmp_path):
    write_fruits(tmp_path, "fruits-360-100x100")
    assert len(load_fruits("test", root=tmp_path)) == 3


def test_fruits_missing_gives_the_url_and_folder(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_fruits(root=tmp_path, download=False)
    message = str(err.value)
    for part in ("Fruits-360", str(tmp_path), "fruits-360/Training/Apple*", "IMGEN_DATA"):
        assert part in message
    assert sources.FRUITS_URL in message and sources.FRUITS_DIGEST in message


def test_fruits_without_bananas_is_refused_naming_the_missing_class(tmp_path):
    write_fruits(tmp_path)
    for path in (tmp_path / "fruits-360" / "Test" / "Banana").iterdir():
        path.unlink()
    with pytest.raises(DataNotFoundError, match=r"no Banana class folder with images .*/Banana"):
        load_fruits("test", root=tmp_path)


def test_fruits_without_a_split_folder_is_refused_and_not_downloaded_over(tmp_path, monkeypatch):
    write_fruits(tmp_path)
    shutil.rmtree(tmp_path / "fruits-360" / "Test")
    no_network(monkeypatch)
    with pytest.raises(DataNotFoundError, match="incomplete: Test/ is missing"):
        load_fruits("test", root=tmp_path)


# ------------------------------------------------------------------------------ load by name


def test_load_by_name_passes_arguments_to_the_loader(tmp_path):
    write_fruits(tmp_path)
    data = load("fruits", "test", size=2, root=tmp_path)
    assert data.shape == (3, 2, 2)
    assert set(DATASETS) == {"mnist", "cifar", "cifar10", "cifar100", "lfw", "fruits"}


def test_load_accepts_the_published_spelling(tmp_path):
    write_cifar10(tmp_path)
    assert load("CIFAR-10", "test", root=tmp_path).name == "CIFAR-10"


def test_load_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'; expected one of mnist"):
        load("imagenet")


@pytest.mark.parametrize("loader", [load_mnist, load_cifar, load_lfw, load_fruits])
def test_unknown_split_is_refused(loader, tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test', got 'valid'"):
        loader("valid", root=tmp_path)
