"""Safe file handling for the loaders: checksummed downloads, safe extraction, safe unpickling."""

from __future__ import annotations

import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np

from ._core import CorruptDataError

CHUNK = 1 << 20
TIMEOUT_S = 60
# What a network failure can raise; URLError and timeouts are OSErrors.
NETWORK_ERRORS = (OSError, http.client.HTTPException)


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest (``"sha256"`` or ``"md5"``) of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, checksum: str) -> None:
    """Raise CorruptDataError unless ``path`` has ``checksum``, written ``"sha256:<hex>"``."""
    algorithm, expected = checksum.split(":")
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise CorruptDataError(f"{path}: {algorithm} is {actual}, expected {expected}")


def download(url: str, dest: Path, checksum: str) -> Path:
    """Fetch ``url`` to ``dest``, checked against ``checksum`` (``"sha256:<hex>"`` or md5).

    The bytes go to a temporary file beside ``dest``, which is renamed onto ``dest`` only once the
    checksum matches; on a mismatch it is deleted and CorruptDataError is raised. Network failures
    raise what urllib raises (an OSError). Shows a progress bar.
    """
    from tqdm.auto import tqdm  # imported here: only a download needs it

    algorithm, expected = checksum.split(":")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.new(algorithm)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"Downloading {dest.name}"
            ) as bar:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != expected:
            raise CorruptDataError(
                f"{url}: the downloaded file's {algorithm} is {digest.hexdigest()}, expected "
                f"{expected}; it was deleted"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _normal(name: str) -> str:
    """A member name with "/" separators and without "./" steps, as ``wanted`` sees it."""
    return str(PurePosixPath(name.replace("\\", "/")))


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    """The member name as a relative path, refusing names that would leave the target folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise CorruptDataError(
            f"{archive}: refused member {name!r}, it would land outside the target"
        )
    return path


def _tar_members(archive: Path, tar: tarfile.TarFile, wanted) -> list[tuple[str, tarfile.TarInfo]]:
    members = []
    for info in tar.getmembers():
        if not wanted(_normal(info.name)):
            continue
        _safe_name(archive, info.name)
        if info.issym() or info.islnk():
            raise CorruptDataError(
                f"{archive}: refused member {info.name!r}, a link to {info.linkname!r} "
                "(these archives hold only files and folders)"
            )
        if not (info.isfile() or info.isdir()):
            raise CorruptDataError(f"{archive}: refused member {info.name!r}, not a file or folder")
        members.append((info.name, info))
    return members


def _zip_members(archive: Path, zf: zipfile.ZipFile, wanted) -> list[tuple[str, zipfile.ZipInfo]]:
    members = []
    for info in zf.infolist():
        if not wanted(_normal(info.filename)):
            continue
        _safe_name(archive, info.filename)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise CorruptDataError(f"{archive}: refused member {info.filename!r}, a symbolic link")
        members.append((info.filename, info))
    return members


def extract(archive: Path, dest: Path, wanted: Callable[[str], bool]) -> None:
    """Extract the members of a tar or zip ``archive`` whose name passes ``wanted`` into ``dest``.

    ``wanted`` sees each name with "/" separators and no "./" steps. Every wanted member is
    checked before anything is written: absolute names, ``..``, links and special files raise
    CorruptDataError. Members are unpacked into a temporary folder inside ``dest`` and each
    top-level entry is then renamed into place, so an interrupted extraction leaves no
    half-filled data folder behind. Existing entries in ``dest`` are never replaced.
    """
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name, info in _zip_members(archive, zf, wanted):
                    _write(staging, name, info.is_dir(), lambda info=info: zf.open(info))
        else:
            try:
                tar = tarfile.open(archive, "r:*")
            except tarfile.TarError as err:
                raise CorruptDataError(
                    f"{archive}: not a readable tar or zip archive ({err})"
                ) from err
            with tar:
                for name, info in _tar_members(archive, tar, wanted):
                    _write(staging, name, info.isdir(), lambda info=info: tar.extractfile(info))
        for entry in staging.iterdir():
            target = dest / entry.name
            if not target.exists():
                os.replace(entry, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise CorruptDataError(f"{archive}: extraction failed ({err})") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(staging: Path, name: str, is_dir: bool, open_member) -> None:
    target = staging.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
    if is_dir:
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_member() as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)


# The only globals the CIFAR pickles need: numpy's array reconstructor (stored under
# numpy.core in files written by numpy 1, numpy._core by numpy 2), the array type and dtype.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise CorruptDataError(
                f"{self.path}: refused to load the global {module}.{name}; a data pickle may only "
                "hold dicts, lists, strings, numbers and numpy arrays"
            ) from None


def load_pickle(path: Path):
    """Unpickle a data file that may only hold plain containers and numpy arrays.

    Python-2 pickles (the CIFAR files) are read with ``encoding="latin1"``, so their byte
    strings arrive as str. Any other global (a function, a class) raises CorruptDataError
    naming the file and the global, before anything is called; so do truncated files.
    """
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, path).load()
    except CorruptDataError:
        raise
    except FileNotFoundError:
        raise
    except Exception as err:  # unpickling bad bytes can raise almost anything
        raise CorruptDataError(
            f"{path}: not a readable pickle ({type(err).__name__}: {err})"
        ) from err
