"""What first use of each data set costs: bytes fetched and seconds to fetch, verify and unpack.

Builds the download mirror of ``tools/mirror_server.py`` from the offline copies in
``shared/data`` (the files each download host would serve: MNIST's four ``.gz``;
``cifar-100-python.tar.gz``; GitHub-style commit archives for LFW and Fruits-360 with their real
top folders; the four paintings), serves it on 127.0.0.1 from a separate process
(``mirror_server.py serve``), points ``IMGEN_MIRROR`` at it, and times the loaders' own fetch path
into a fresh data folder, three times per set (median). Decoding images is not included: it is
the same on every load (``benchmarks/data_load.py``).

    python benchmarks/first_use.py [--data ../shared/data] [--repeats 3]

Differences from the real hosts: loopback instead of the internet, so the seconds are a lower
bound set by CPU (gzip, sha256, writing files); the archives are gzipped at level 1 (GitHub's
use 6, a little smaller); the CIFAR archive is the course copy (20,000 training images; its md5
differs, so it is accepted by the image digests, the slower path); the Fruits archive holds only
the two kept classes (the real commit archive also has six others).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIRROR_SERVER = REPO / "tools" / "mirror_server.py"
sys.path.insert(0, str(MIRROR_SERVER.parent))
import mirror_server  # noqa: E402  (tools/ is not a package)

DEFAULT_DATA = mirror_server.SHARED_DATA


def served_sets(data: Path) -> list[str]:
    """The data sets (``sources.URLS``' names) whose every URL the mirror serves, in order."""
    from imgen.data import sources

    served = {entry.url_path for entry in mirror_server.entries(data)}
    return [
        name for name, urls in sources.URLS.items()
        if all(mirror_server.url_path(url) in served for url in urls)
    ]


def start_server(tree: Path, data: Path, log: Path, errors: Path) -> tuple[subprocess.Popen, str]:
    """``mirror_server.py serve`` of ``tree`` in its own process; returns (process, base URL)."""
    cmd = [sys.executable, MIRROR_SERVER, "serve", "--out", tree, "--data", data, "--log", log]
    with open(errors, "w") as stderr:  # it logs each request there too
        server = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=stderr,
                                  text=True)
    match = re.match(r"serving (http://127\.0\.0\.1:\d+)", server.stdout.readline())
    if not match:
        server.kill()
        server.wait()
        raise SystemExit(f"the mirror server did not start:\n{errors.read_text()}")
    return server, match.group(1)


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
    args = parser.parse_args()
    from imgen.data import sources

    work = Path(tempfile.mkdtemp(prefix="imgen-first-use-"))
    try:
        tree, log = work / "served", work / "requests.jsonl"
        start = time.perf_counter()
        mirror_server.build(tree, args.data, log=lambda message: None)
        print(f"built the served files in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        server, base = start_server(tree, args.data, log, work / "server.log")
        try:
            os.environ[sources.MIRROR_ENV] = base
            rows = []
            for name in served_sets(args.data):
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
