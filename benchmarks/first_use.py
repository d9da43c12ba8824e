"""What first use of each data set costs: bytes fetched and seconds to fetch, verify and unpack.

Builds, from the offline copies in ``shared/data``, the files each download host would serve
(MNIST's four ``.gz``; ``cifar-100-python.tar.gz``; GitHub-style commit archives for LFW and
Fruits-360 with their real top folders; the four paintings), serves them on 127.0.0.1 from a
separate process, points ``IMGEN_MIRROR`` at it, and times the loaders' own fetch path into a
fresh data folder, three times per set (median). Decoding images is not included: it is the
same on every load (``benchmarks/data_load.py``).

    python benchmarks/first_use.py [--data ../shared/data] [--repeats 3]

Differences from the real hosts: loopback instead of the internet, so the seconds are a lower
bound set by CPU (gzip, sha256, writing files); the CIFAR archive is the course copy (20,000
training images; its md5 differs, so it is accepted by the image digests, the slower path); the
Fruits archive holds only the two kept classes (the real commit archive also has six others).
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"


def _target(tree: Path, url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    path = tree / parts.netloc / urllib.parse.unquote(parts.path).lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _tar(path: Path, members: list[tuple[str, Path]]) -> None:
    """A deterministic tar.gz (sorted names, fixed time and owner), gzip level 6 like git's."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, source in sorted(members):
                    info = tarfile.TarInfo(name)
                    info.size = source.stat().st_size
                    info.mtime, info.mode = 1_500_000_000, 0o644
                    with open(source, "rb") as f:
                        tar.addfile(info, f)


def build(data: Path, tree: Path) -> dict[str, list[str]]:
    """Writes the served files under ``tree/HOST/PATH``; returns set -> original URLs."""
    from imgen.data import sources

    for name in sources.MNIST_SHA256:
        shutil.copyfile(data / "MNIST" / "raw" / name, _target(tree, sources.MNIST_URL + name))
    cifar = data / "cifar-100-python"
    members = [(f"cifar-100-python/{n}", cifar / n) for n in ("meta", "test", "train")]
    _tar(_target(tree, sources.CIFAR100_URL), members)
    faces = data / "lfw" / "lfw-deepfunneled"
    members = [
        (sources.LFW_MEMBER + p.relative_to(faces).as_posix(), p) for p in faces.rglob("*.jpg")
    ]
    _tar(_target(tree, sources.LFW_URL), members)
    fruits = data / "fruits-360"
    back = {ours: theirs for theirs, ours in sources.FRUITS_SPLITS.items()}
    members = []
    for p in fruits.rglob("*.jpg"):
        split, rest = p.relative_to(fruits).as_posix().split("/", 1)
        members.append((f"{sources.FRUITS_MEMBER}{back[split]}/{rest}", p))
    _tar(_target(tree, sources.FRUITS_URL), members)
    for painting in sources.PAINTINGS.values():
        url = sources.PAINTINGS_URL + painting.file
        shutil.copyfile(data / "paintings" / painting.file, _target(tree, url))
    return {k: list(v) for k, v in sources.URLS.items() if k != "cifar10"}


def serve(tree: Path, log: Path) -> None:
    """Serve ``tree`` on a free loopback port; print the port; log ``path bytes`` per GET."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tree), **kwargs)

        def do_GET(self):
            super().do_GET()
            path = Path(self.translate_path(self.path))
            size = path.stat().st_size if path.is_file() else 0
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "bytes": size}) + "\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def first_use(name: str, root: Path) -> None:
    """The loader's fetch path for every split of ``name``, into the empty folder ``root``."""
    from imgen.data import cifar, fruits, lfw, mnist, painting_path, sources

    if name == "mnist":
        for split in ("train", "test"):
            mnist.load_mnist(split, root=root)  # reading the IDX files takes ~0.2 s of this
    elif name == "cifar":
        cifar._ensure(cifar.CIFAR100, root, "train", True)
    elif name == "lfw":
        lfw._find(root, True)
    elif name == "fruits":
        fruits._find(root, "train", True)
    elif name == "paintings":
        for key in sources.PAINTINGS:
            painting_path(key, root=root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.log)
        return
    from imgen.data import sources

    work = Path(tempfile.mkdtemp(prefix="imgen-first-use-"))
    try:
        tree, log = work / "served", work / "requests.jsonl"
        start = time.perf_counter()
        sets = build(args.data, tree)
        print(f"built the served files in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(tree), "--log", str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(server.stdout.readline())
            os.environ[sources.MIRROR_ENV] = f"http://127.0.0.1:{port}"
            rows = []
            for name in sets:
                seconds, fetched = [], []
                for i in range(args.repeats):
                    root = work / f"data-{name}-{i}"
                    log.write_text("")
                    start = time.perf_counter()
                    first_use(name, root)
                    seconds.append(time.perf_counter() - start)
                    lines = log.read_text().splitlines()
                    fetched.append(sum(json.loads(line)["bytes"] for line in lines))
                    shutil.rmtree(root)
                rows.append((name, statistics.median(fetched), len(lines), seconds))
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| set | files fetched | bytes fetched | fetch + verify + unpack (median of "
          f"{args.repeats}) | runs |")
    print("|---|---|---|---|---|")
    for name, fetched, files, seconds in rows:
        runs = ", ".join(f"{s:.1f}" for s in seconds)
        print(f"| {name} | {files} | {fetched:,.0f} ({fetched / 1e6:.1f} MB) | "
              f"{statistics.median(seconds):.1f} s | {runs} |")


if __name__ == "__main__":
    main()
