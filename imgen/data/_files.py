"""Safe file handling for the loaders: safe extraction of archives, safe unpickling."""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np

from ._core import CorruptDataError

CHUNK = 1 << 20

def _safe_name(archive: Path, name: str) -> PurePosixPath:
    """The member name as a relative path, refusing names that would leave the target folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise CorruptDataError(
            f"{archive}: refused member {name!r}, it would land outside the target"
        )
    return path


def _plan(archive: Path, name: str, is_link: bool, link: str, is_special: bool, select):
    """Where a member goes (a relative path), or None when ``select`` skips it; refuses the
    unsafe ones: absolute names, ``..``, links, devices and other special files."""
    target = select(str(_safe_name(archive, name)))
    if target is None:
        return None
    if is_link:
        raise CorruptDataError(
            f"{archive}: refused member {name!r}, a link to {link!r} "
            "(these archives hold only files and folders)"
        )
    if is_special:
        raise CorruptDataError(f"{archive}: refused member {name!r}, not a file or folder")
    target = _safe_name(archive, target)
    return None if not target.parts else target


def _tar_plan(archive: Path, tar: tarfile.TarFile, select) -> list:
    plan = []
    for info in tar.getmembers():
        is_link = info.issym() or info.islnk()
        special = not (info.isfile() or info.isdir() or is_link)
        target = _plan(archive, info.name, is_link, info.linkname, special, select)
        if target is not None:
            plan.append((target, info.isdir(), lambda info=info: tar.extractfile(info)))
    return plan


def _zip_plan(archive: Path, zf: zipfile.ZipFile, select) -> list:
    plan = []
    for info in zf.infolist():
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        target = _plan(archive, info.filename, is_link, "?", False, select)
        if target is not None:
            plan.append((target, info.is_dir(), lambda info=info: zf.open(info)))
    return plan


def extract(archive: Path, dest: Path, select: Callable[[str], str | None]) -> int:
    """Unpack the members of a tar or zip ``archive`` that ``select`` keeps into the new folder
    ``dest``; returns how many files were written.

    ``select`` sees each member's name ("/" separators, no "./" steps) and returns the path to
    give it inside ``dest``, or None to skip it (so ``top/data/x.jpg`` can become ``x.jpg``).
    Every kept member is checked before anything is written: absolute names, ``..``, links and
    special files raise CorruptDataError (tarfile's ``extractall`` is not used). Members are
    written to a temporary folder beside ``dest``, renamed to ``dest`` once all are there, so an
    interrupted extraction leaves no half-filled folder. ``dest`` must not exist yet.
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; extract() only creates new folders")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extract-"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                written = _write_all(staging, _zip_plan(archive, zf, select))
        else:
            try:
                tar = tarfile.open(archive, "r:*")
            except tarfile.TarError as err:
                raise CorruptDataError(
                    f"{archive}: not a readable tar or zip archive ({err})"
                ) from err
            with tar:
                written = _write_all(staging, _tar_plan(archive, tar, select))
        os.replace(staging, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise CorruptDataError(f"{archive}: extraction failed ({err})") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _write_all(staging: Path, plan: list) -> int:
    written = 0
    for target, is_dir, open_member in plan:
        path = staging.joinpath(*target.parts)
        if is_dir:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as src, open(path, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        written += 1
    return written


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as pickles use it for bytes, limited to that use."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def _empty_bytes(*args) -> bytes:
    """``bytes()`` as pickles use it for ``b""``; ``bytes(n)`` would allocate n bytes."""
    if args:
        raise pickle.UnpicklingError("refused bytes() with arguments")
    return b""


# The only globals the CIFAR pickles need: numpy's array reconstructor (stored under
# numpy.core in files written by numpy 1, numpy._core by numpy 2), the array type and dtype.
# Python 3 pickles of protocol 2 store bytes as _codecs.encode(str, "latin1") (b"" as
# bytes()), and protocol 5 stores arrays with numpy's _frombuffer; all are data, not code.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
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
    strings arrive as str; pickles written by Python 3 (any protocol from 2) are read too.
    Any other global (a function, a class) raises CorruptDataError naming the file and the
    global, before anything is called; so do truncated files.
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
