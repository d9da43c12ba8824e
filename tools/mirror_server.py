"""A loopback stand-in for the course's download hosts, serving the real bytes of shared/data.

``imgen`` fetches ``https://HOST/PATH`` from ``$IMGEN_MIRROR/HOST/PATH`` when ``IMGEN_MIRROR`` is
set, with its checksums and digests still enforced. This tool builds such a tree from the offline
copies in ``shared/data`` and serves it on 127.0.0.1:

- MNIST: the four original ``.gz`` files, copied (byte-identical to the published ones);
- CIFAR-100: ``cifar-100-python.tar.gz`` built from ``cifar-100-python/{train,test,meta}`` (its
  md5 is not the original archive's; the loader accepts it by the order-free pickle digests);
- LFW and Fruits-360: GitHub-style commit archives (``<repo>-<commit>/...``) holding the folders
  the loaders keep; paintings: the four raw files.

Every URL, archive folder, member name, file list and class comes from ``imgen.data.sources``
(the loaders' own), so this runs with a Python that imports ``imgen``: the checkout's venv.

The archives are deterministic (sorted members, fixed times and owners), so a rebuild gives the
same bytes. A build is cached: ``build()`` skips the work when its stamp records the same source
files (path, size, mtime) and the same ``BUILD_VERSION``.

    python tools/mirror_server.py build [--out DIR]
    python tools/mirror_server.py serve [--out DIR] [--port 0] [--log requests.jsonl]

``serve`` builds when needed, then prints one line ``serving http://127.0.0.1:PORT`` and logs
every request as a JSON line ``{"path", "status", "bytes", "dataset"}`` to ``--log``
(and stderr). Used by ``tools/first_run.py``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imgen.data import cifar, sources

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "imgen-first-run" / "mirror"
# Bump when what a build writes changes, so cached trees are rebuilt.
BUILD_VERSION = 1
STAMP = ".mirror-stamp.json"
# Archive members get this modification time (the LFW commit's year), owner 0 and no names.
ARCHIVE_MTIME = 1_500_000_000
GZIP_LEVEL = 1  # JPEG and pickled pixels barely compress; level 1 is fast


@dataclass(frozen=True)
class Entry:
    """One served file: its URL path (``HOST/PATH``), its data set and how to make it."""

    dataset: str
    url_path: str
    sources: tuple[Path, ...]  # the shared/data files it is made of (for the cache stamp)
    make: Callable[[Path], None]  # writes the file to the given path


def _copy(src: Path) -> Callable[[Path], None]:
    return lambda dest: shutil.copyfile(src, dest)


def _files_under(folder: Path, suffix: str = "") -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name.endswith(suffix)
        and not p.name.startswith(".")
    )


def _tar_gz(members: list[tuple[str, Path]]) -> Callable[[Path], None]:
    """A writer of a deterministic tar.gz holding ``(archive name, source file)`` pairs, with
    an entry for every folder above each file (as GitHub's archives have)."""

    def make(dest: Path) -> None:
        folders = sorted({
            "/".join(name.split("/")[:i])
            for name, _ in members
            for i in range(1, name.count("/") + 1)
        })
        with open(dest, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=ARCHIVE_MTIME
        ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for folder in folders:
                tar.addfile(_info(folder + "/", tarfile.DIRTYPE, 0o755, 0))
            for name, src in sorted(members):
                info = _info(name, tarfile.REGTYPE, 0o644, src.stat().st_size)
                with open(src, "rb") as f:
                    tar.addfile(info, f)

    return make


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, ARCHIVE_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def url_path(url: str) -> str:
    """Where the mirror keeps ``url``'s file: ``HOST/PATH`` (what :func:`sources.url` asks for)."""
    parts = urllib.parse.urlsplit(url)
    return parts.netloc + urllib.parse.unquote(parts.path)


def entries(data: Path = SHARED_DATA) -> list[Entry]:
    """Every file the mirror serves, made from the copies in ``data`` (shared/data).

    URLs, archive folders, member names, file lists and classes all come from
    :mod:`imgen.data.sources` (and CIFAR-100's folder layout from :mod:`imgen.data.cifar`), so
    the mirror serves exactly what the loaders fetch; only ``data``'s own layout is named here.
    """
    out = []
    for name in sources.MNIST_SHA256:
        src = data / "MNIST" / "raw" / name
        out.append(Entry("mnist", url_path(sources.MNIST_URL + name), (src,), _copy(src)))

    layout = cifar.CIFAR100
    names = (*layout.files["train"], *layout.files["test"], layout.meta)  # the stamp's order
    pickles = [(f"{layout.folder}/{n}", data / layout.folder / n) for n in names]
    out.append(Entry("cifar100", url_path(sources.CIFAR100_URL),
                     tuple(src for _, src in pickles), _tar_gz(pickles)))

    faces = data / "lfw" / "lfw-deepfunneled"
    lfw = [(sources.LFW_MEMBER + p.relative_to(faces).as_posix(), p)
           for p in _files_under(faces, ".jpg")]
    out.append(Entry("lfw", url_path(sources.LFW_URL), tuple(src for _, src in lfw),
                     _tar_gz(lfw)))

    fruits = []
    for served, split in sources.FRUITS_SPLITS.items():  # archive folder -> shared/data's
        for cls in sources.FRUITS_CLASSES:
            folder = data / "fruits-360" / split / cls
            fruits += [(f"{sources.FRUITS_MEMBER}{served}/{cls}/{p.name}", p)
                       for p in _files_under(folder, ".jpg")]
    out.append(Entry("fruits", url_path(sources.FRUITS_URL), tuple(src for _, src in fruits),
                     _tar_gz(fruits)))

    for painting in sources.PAINTINGS.values():
        src = data / "paintings" / painting.file
        out.append(Entry("paintings", url_path(sources.PAINTINGS_URL + painting.file), (src,),
                         _copy(src)))
    return out


def _stamp(items: list[Entry]) -> dict:
    """What a build depends on: the version and every source file's path, size and mtime."""
    digest = hashlib.sha256()
    for entry in items:
        digest.update(entry.url_path.encode() + b"\n")
        for src in entry.sources:
            st = src.stat()
            digest.update(f"{src}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return {"version": BUILD_VERSION, "sources": digest.hexdigest(),
            "files": sorted(e.url_path for e in items)}


def missing_sources(data: Path = SHARED_DATA) -> list[str]:
    """What ``data`` lacks of the mirror's sources (files, or a whole archive's folder)."""
    missing = []
    for entry in entries(data):
        if not entry.sources:
            missing.append(f"the files of {entry.url_path}")
        missing += [str(src) for src in entry.sources if not src.is_file()]
    return missing


def build(out: Path = DEFAULT_OUT, data: Path = SHARED_DATA, log=print) -> Path:
    """The mirror's tree in ``out`` (built, or reused when its stamp still matches). Returns out.

    A fresh build goes to a temporary folder beside ``out`` that then replaces it, so an
    interrupted build never leaves a half-written tree that looks finished.
    """
    missing = missing_sources(data)
    if missing:
        raise FileNotFoundError(f"the mirror's sources are missing under {data}: {missing[:5]}")
    items = entries(data)
    stamp = _stamp(items)
    stamp_file = out / STAMP
    try:
        if json.loads(stamp_file.read_text()) == stamp and all(
            (out / e.url_path).is_file() for e in items
        ):
            log(f"mirror: reusing the build in {out}")
            return out
    except (OSError, ValueError):
        pass
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for entry in items:
            start = time.perf_counter()
            dest = staging / entry.url_path
            dest.parent.mkdir(parents=True, exist_ok=True)
            entry.make(dest)
            log(f"mirror: built {entry.url_path} ({dest.stat().st_size:,} bytes, "
                f"{time.perf_counter() - start:.1f} s)")
        (staging / STAMP).write_text(json.dumps(stamp, indent=1))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def make_handler(root: Path, log_file: Path | None, names: dict[str, str]):
    """A request handler serving ``root`` read-only, logging each request as a JSON line."""
    lock = threading.Lock()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def list_directory(self, path):  # a download host does not list folders
            self.send_error(404, "no listings here")
            return None

        def send_head(self):
            if self.path.split("?")[0].rstrip("/").endswith(STAMP):
                self.send_error(404)
                return None
            return super().send_head()

        def copyfile(self, source, outputfile):
            sent = 0
            while chunk := source.read(1 << 20):
                outputfile.write(chunk)
                sent += len(chunk)
            self._sent = sent

        def log_request(self, code="-", size="-"):
            self._code = code

        def handle_one_request(self):
            self._sent, self._code = 0, None
            super().handle_one_request()
            if self._code is None:  # the client closed a connection without a request
                return
            path = urllib.parse.unquote(self.path.split("?")[0]) if hasattr(self, "path") else ""
            record = {
                "method": getattr(self, "command", None),
                "path": path,
                "status": int(self._code) if str(self._code).isdigit() else self._code,
                "bytes": self._sent,
                "dataset": names.get(path.lstrip("/")),
            }
            line = json.dumps(record)
            print(f"mirror: {line}", file=sys.stderr, flush=True)
            if log_file is not None:
                with lock, open(log_file, "a") as f:
                    f.write(line + "\n")

        def log_message(self, format, *args):  # errors go through handle_one_request's record
            pass

    return Handler


def serve(root: Path, port: int = 0, log_file: Path | None = None, data: Path = SHARED_DATA):
    """A ThreadingHTTPServer on 127.0.0.1 (``port`` 0: a free one) serving ``root``."""
    names = {e.url_path: e.dataset for e in entries(data)}
    handler = make_handler(root, log_file, names)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    # server_close() then waits for every request thread, so the log is whole once it returns
    # (a request's line is written after its response has gone out)
    server.daemon_threads = False
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "serve"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the mirror's tree (default {DEFAULT_OUT})")
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help=f"the offline copies (default {SHARED_DATA})")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    root = build(args.out, args.data, log=log)
    if args.command == "build":
        return 0
    server = serve(root, args.port, args.log, args.data)
    print(f"serving http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
