"""Load time and peak memory of each full data set, median of 3 fresh processes.

    IMGEN_DATA=/path/to/data python benchmarks/data_load.py [--repeat 3] [NAME ...]

Each run loads one set (both splits) in a new Python process, so the file cache is warm but no
memory is shared between runs. "peak MB" is the growth of the process's peak resident memory
during the load (``ru_maxrss`` after minus before); "tensor MB" is what the images occupy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

SETS = ["mnist", "cifar", "lfw", "fruits"]


def measure_one(name: str) -> dict:
    """Load ``name`` (train and test) in this process and report time and memory."""
    import resource
    import time

    from imgen.data import load

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    sets = [load(name, split, download=False) for split in ("train", "test")]
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "set": sets[0].name,
        "images": "+".join(str(len(d)) for d in sets),
        "shape": "x".join(map(str, sets[0].shape)),
        "tensor_mb": sum(d.images.numel() for d in sets) / 2**20,
        "seconds": seconds,
        "peak_mb": (after - before) / 1024,  # ru_maxrss is in KiB on Linux
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=SETS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one)))
        return
    print("| set | images (train+test) | image | tensor MB | load s | peak MB |")
    print("|---|---|---|---|---|---|")
    for name in args.names:
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--one", name],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(args.repeat)
        ]
        first = runs[0]
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_mb"] for r in runs)
        print(
            f"| {first['set']} | {first['images']} | {first['shape']} | "
            f"{first['tensor_mb']:.1f} | {seconds:.2f} | {peak:.0f} |"
        )


if __name__ == "__main__":
    main()
