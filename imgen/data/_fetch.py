"""Downloads for the loaders: retried, with a progress bar, verified, and placed atomically.

HTTP(S) downloads go through pooch (retries, a tqdm progress bar, a User-Agent header, a
temporary file renamed only once its checksum matches). pooch has no downloader for
``file://`` URLs (a mirror on a shared disk, ``IMGEN_MIRROR=file:///...``), so those are copied
here with the same checks. Archives are unpacked by :func:`imgen.data._files.extract`, not by
pooch's processors, whose ``Untar`` trusts ``extractall``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from imgen import __version__

from . import _files, sources
from ._core import CorruptDataError, DataNotFoundError
from ._digest import file_digest, verify

RETRIES = 2  # further attempts after a failed one (pooch waits 1 s, then 2 s)
TIMEOUT_S = 60  # seconds without a byte before an attempt fails
CHUNK = 1 << 20
# Some hosts answer 403 to clients that do not say who they are.
USER_AGENT = f"imgen/{__version__} (course data loader; python-requests via pooch)"


class FetchError(OSError):
    """A download failed for a network reason: refused, timed out, or an HTTP error status."""


def fetch(original: str, dest: Path, checksum: str | None = None) -> Path:
    """Download ``original`` (or its copy under ``$IMGEN_MIRROR``) to ``dest``, and return it.

    ``checksum`` is ``"sha256:<hex>"`` or ``"md5:<hex>"``, or None when the caller verifies the
    content itself. The bytes go to a temporary file beside ``dest``, renamed onto it only when
    complete and matching; otherwise it is deleted. Network failures (after :data:`RETRIES`
    retries) raise :class:`FetchError`, a mismatch raises CorruptDataError.
    """
    source = sources.url(original)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if urllib.parse.urlsplit(source).scheme == "file":
        _copy(source, dest, checksum)
        return dest
    import pooch  # imported here: only a download needs it (and requests)
    import requests

    downloader = pooch.HTTPDownloader(
        headers={"User-Agent": USER_AGENT}, progressbar=True, timeout=TIMEOUT_S, chunk_size=CHUNK
    )
    store = pooch.create(
        path=dest.parent,
        base_url="",
        registry={dest.name: checksum},
        urls={dest.name: source},
        retry_if_failed=RETRIES,
    )
    try:
        store.fetch(dest.name, downloader=downloader)
    except requests.exceptions.RequestException as err:
        raise FetchError(f"fetching {_where(original, source)} failed ({err})") from err
    except ValueError as err:  # pooch's word for a checksum mismatch
        raise CorruptDataError(f"{source}: {err} The download was deleted.") from err
    return dest


def _where(original: str, source: str) -> str:
    if source == original:
        return original
    return f"{original} from the mirror {source} (${sources.MIRROR_ENV})"


def _copy(source: str, dest: Path, checksum: str | None) -> None:
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path))
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
        except FileNotFoundError as err:
            raise FetchError(f"fetching {source} failed ({err})") from err
        if checksum is not None:
            algorithm, expected = checksum.split(":")
            actual = file_digest(tmp, algorithm)
            if actual != expected:
                raise CorruptDataError(
                    f"{source}: the downloaded file's {algorithm} is {actual}, expected "
                    f"{expected}; it was deleted"
                )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def install(
    target: Path,
    select: Callable[[str], str | None],
    check: Callable[[Path, Path], None],
    *,
    url: str | None = None,
    archive: Path | None = None,
    checksum: str | None = None,
) -> Path:
    """Make the folder ``target`` from an archive: downloaded from ``url``, or the local
    ``archive`` (a file the user put in the data folder, which is kept).

    ``checksum`` (``"md5:<hex>"``, optional) is checked on the archive before it is unpacked.
    ``select`` maps member names to paths inside ``target`` (None skips a member, see
    :func:`imgen.data._files.extract`); ``check(folder, archive)`` raises CorruptDataError
    unless the unpacked folder is the expected data. The download and the unpacked folder live
    in a hidden work folder beside ``target``, renamed to ``target`` only once the check passes;
    the work folder (with the downloaded archive) is always removed, so a failed or interrupted
    fetch leaves nothing behind. Returns ``target``.
    """
    if (url is None) == (archive is None):
        raise ValueError("install() needs exactly one of url and archive")
    made = [parent for parent in (target.parent, *target.parent.parents) if not parent.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.fetch-"))
    try:
        if archive is None:
            name = Path(urllib.parse.urlsplit(url).path).name
            archive = fetch(url, work / name, checksum)
        elif checksum is not None:
            verify(archive, checksum)
        staged = work / target.name
        if _files.extract(archive, staged, select) == 0:
            raise CorruptDataError(f"{archive}: holds none of the files of {target.name}/")
        check(staged, archive)
        try:
            os.replace(staged, target)
        except OSError:
            if not target.is_dir():  # else another process placed the same data first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for parent in made:  # folders made for a target that did not come
            if not target.exists() and not any(parent.iterdir()):
                parent.rmdir()
    return target


def offline(missing: DataNotFoundError, err: FetchError) -> DataNotFoundError:
    """The loader's not-found error, told that the download failed and why."""
    return DataNotFoundError(f"{missing} The download failed: {err}")


def members_under(prefix: str, suffix: str = "") -> Callable[[str], str | None]:
    """A ``select`` for :func:`install`: the members under ``prefix`` whose names end with
    ``suffix`` (``".jpg"``: the images only), renamed without the prefix."""
    prefix = prefix.rstrip("/") + "/"

    def select(name: str) -> str | None:
        if name.startswith(prefix) and name.endswith(suffix):
            return name[len(prefix) :]
        return None

    return select
