"""How long the runs of issue 14 take here: the article's cells re-run faithfully, and ours.

    python benchmarks/article_plan.py measure        # time each model, one thread; writes JSON
    python benchmarks/article_plan.py                # the plan from benchmarks/article_speed.json

``measure`` times, on one CPU thread, up to ``--steps`` training steps or ``--seconds`` of them
(after a few warm-up ones) of
every distinct model of :data:`imgen.article.CELLS` at the cell's shape, latent and batch size
(32, Keras' default), through :func:`imgen.train.fit` itself (batches, occlusion, Adam), in
float32 and, for the convolutional models on a CPU with bfloat16 instructions, under bf16
autocast; and the same for our ``conv`` model at batch 128. It also times the forward pass that
scores images. The CPU may be shared: the JSON records the load average while measuring.

The plan: seconds per epoch = training steps x seconds per step + the validation images scored
once per epoch (as Keras' ``validation_data`` did) + the evaluation set scored at the end; then
each cell's epochs, the total, and a schedule of the runs on ``--lanes`` single-thread lanes
(longest first). Ours: one run per (data set, task, latent the code used), each given the epochs
that fit in ``--ours-minutes``. Nothing is trained twice: cells that share data set, task and
latent share our run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch

from imgen import article, replicate
from imgen.checkpoint import write_text
from imgen.models import build_model
from imgen.train import cpu_supports_bf16, evaluate, fit

SPEED_FILE = Path(__file__).with_name("article_speed.json")
OURS = {"model": "conv", "batch_size": 128}
# What the next session trains, per data set: (train, val, evaluation) images here.
SIZES = {
    "mnist": (48_000, 12_000, 10_000),
    "lfw": (10_586, 2_647, 2_647),
    "cifar": (16_000, 4_000, 10_000),
}


def configurations():
    """Every distinct (data, model, latent, batch) to time: the article's cells, then ours."""
    seen = {}
    for cell in article.CELLS:
        key = (cell.data, cell.model, cell.latent, cell.batch_size)
        seen.setdefault(key, dict(cell.model_options))
    for cell in article.CELLS:
        key = (cell.data, OURS["model"], cell.latent, OURS["batch_size"])
        seen.setdefault(key, {"in_shape": cell.protocol.shape, "latent": cell.latent})
    return seen


def time_training(name, options, batch, steps, seconds, amp):
    """Seconds per training step of a fresh model on random images, one thread: ``steps`` steps,
    or as many rounds of 10 as fit in ``seconds`` (at least 10)."""
    model = build_model(name, **options)
    images = torch.randint(0, 256, (batch * 10, *options["in_shape"]), dtype=torch.uint8)
    settings = dict(batch_size=batch, device="cpu", progress=False, amp=amp, task="complete")
    settings["occlusion"] = article.OCCLUSION
    fit(model, images[: 3 * batch], max_steps=3, **settings)  # warm-up
    done, start = 0, time.perf_counter()
    while done < steps and (done == 0 or time.perf_counter() - start < seconds):
        fit(model, images, max_steps=10, **settings)
        done += 10
    return (time.perf_counter() - start) / done, done


def time_scoring(name, options, images=1024):
    """Seconds per image of scoring (forward only, batches of 256), one thread."""
    model = build_model(name, **options)
    batch = torch.randint(0, 256, (images, *options["in_shape"]), dtype=torch.uint8)
    evaluate(model, batch[:256], device="cpu", batch_size=256)
    start = time.perf_counter()
    evaluate(model, batch, device="cpu", batch_size=256)
    return (time.perf_counter() - start) / images


def measure(args):
    torch.set_num_threads(1)
    bf16 = cpu_supports_bf16()
    rows = []
    for (data, name, latent, batch), options in configurations().items():
        row = {"data": data, "model": name, "latent": latent, "batch_size": batch}
        limits = dict(steps=args.steps, seconds=args.seconds)
        row["step_seconds"], row["steps"] = time_training(name, options, batch, **limits, amp=False)
        if bf16 and name != "article-basic":
            timed = time_training(name, options, batch, **limits, amp=True)
            row["step_seconds_bf16"], row["steps_bf16"] = timed
        row["score_seconds_per_image"] = time_scoring(name, options)
        row["load_average"] = os.getloadavg()[0]  # the CPU is shared: how busy it was
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {
        "steps": args.steps,
        "seconds": args.seconds,
        "threads": 1,
        "cpu_bf16": bf16,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "torch": torch.__version__,
        "rows": rows,
    }
    args.speeds.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.speeds}")


def epoch_seconds(row, data, bf16):
    """Training steps of an epoch, plus the validation images scored once."""
    train, val, _ = SIZES[data]
    step = row.get("step_seconds_bf16") if bf16 else None
    step = step or row["step_seconds"]
    return math.ceil(train / row["batch_size"]) * step + val * row["score_seconds_per_image"]


def plan(args):
    speeds = json.loads(args.speeds.read_text())
    rows = {(r["data"], r["model"], r["latent"], r["batch_size"]): r for r in speeds["rows"]}
    print(
        f"Measured {speeds['date']}, up to {speeds['steps']} steps or {speeds['seconds']:g} s per "
        f"model on one thread, load average at the end {speeds['load_average'][0]:.1f} on "
        f"{speeds['cpus']} CPUs (bf16 autocast "
        f"{'available' if speeds['cpu_bf16'] else 'not available'}).\n"
    )
    faithful = {}  # cell -> seconds of its whole run (bf16 where measured)
    print("| # | cell | model | latent | epochs | s/epoch fp32 | s/epoch bf16 | whole run |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for cell in article.CELLS:
        row = rows[cell.data, cell.model, cell.latent, cell.batch_size]
        fp32 = epoch_seconds(row, cell.data, bf16=False)
        fast = epoch_seconds(row, cell.data, bf16=True)
        faithful[cell] = cell.epochs * fast + SIZES[cell.data][2] * row["score_seconds_per_image"]
        bf16 = f"{fast:,.0f}" if "step_seconds_bf16" in row else "–"
        print(
            f"| {cell.row} | {cell.id} | {cell.model} | {cell.latent} | {cell.epochs} | "
            f"{fp32:,.0f} | {bf16} | {hours(faithful[cell])} |"
        )
    print(f"\nFaithful cells: {hours(sum(faithful.values()))} of one thread in all.")
    if args.cost:
        write_text(args.cost, cost_table(faithful, speeds))
        print(f"{args.cost}: the cells not re-run yet, with what each would cost")
    for name in ("basic", "deep", "3layer"):
        part = [t for c, t in faithful.items() if c.model == f"article-{name}"]
        print(f"  article-{name}: {len(part)} cells, {hours(sum(part))}")

    # Issue 14: past ~15 CPU-hours of convolutional cells, run every basic cell and, per data
    # set, the cheapest convolutional reconstruction and completion cell; list the rest.
    conv = {c: t for c, t in faithful.items() if c.model != "article-basic"}
    chosen = set(faithful)
    if sum(conv.values()) > 3600 * args.deep_hours:
        chosen = {c for c in faithful if c.model == "article-basic"}
        for data in article.PROTOCOLS:
            for task in article.TASKS:
                some = [c for c in conv if (c.data, c.task) == (data, task)]
                chosen.add(min(some, key=conv.get))
        print(
            f"\nThe convolutional cells take {hours(sum(conv.values()))}, over "
            f"{args.deep_hours:g} h: run every basic cell and, per data set, the cheapest "
            "convolutional reconstruction and completion cell:"
        )
        for cell in sorted(chosen, key=lambda c: c.row):
            print(f"  run   #{cell.row} {cell.id} ({cell.model}): {hours(faithful[cell])}")
        for cell in sorted(set(faithful) - chosen, key=lambda c: c.row):
            print(f"  later #{cell.row} {cell.id} ({cell.model}): {hours(faithful[cell])}")
        print(f"  chosen: {hours(sum(faithful[c] for c in chosen))}")
    jobs = [(faithful[c], f"faithful #{c.row} {c.id}") for c in chosen]

    print(f"\nOurs (`{OURS['model']}`, batch {OURS['batch_size']}), one run per data set, task and")
    print(f"latent the code used, at most {args.ours_minutes:g} minutes each:\n")
    print("| data | task | latent | cells | s/epoch fp32 | epochs in budget |")
    print("|---|---|---:|---|---:|---:|")
    ours = {}
    for cell in article.CELLS:
        ours.setdefault((cell.data, cell.task, cell.latent), []).append(cell.row)
    budget = 60 * args.ours_minutes
    for (data, task, latent), cells in ours.items():
        row = rows[data, OURS["model"], latent, OURS["batch_size"]]
        per_epoch = epoch_seconds(row, data, bf16=False)
        epochs = max(1, int(budget // per_epoch))
        jobs.append((epochs * per_epoch, f"ours {data}/{task}/{latent}"))
        print(
            f"| {data} | {task} | {latent} | {', '.join(map(str, cells))} | {per_epoch:,.0f} | "
            f"{epochs} |"
        )
    ours_total = sum(t for t, what in jobs if what.startswith("ours"))
    print(f"\nOurs: {len(ours)} runs, {hours(ours_total)} of one thread at most.")

    lanes = [[0.0, []] for _ in range(args.lanes)]
    for seconds, what in sorted(jobs, reverse=True):
        lane = min(lanes, key=lambda lane: lane[0])
        lane[0] += seconds
        lane[1].append(f"{what} ({hours(seconds)})")
    print(
        f"\nScheduled: {hours(sum(t for t, _ in jobs))} of one thread; on {args.lanes} "
        f"single-thread lanes, longest first: {hours(max(lane[0] for lane in lanes))} of wall time."
    )
    for number, (seconds, runs) in enumerate(lanes, 1):
        print(f"  lane {number} ({hours(seconds)}): {'; '.join(runs)}")


def cost_table(faithful, speeds) -> str:
    """Markdown: the cells without a faithful re-run in ``article.csv``, with the estimated time
    of each, and for the cells re-run, the estimate beside what the run took."""
    done = replicate.read_rows(replicate.RESULTS / "article.csv")
    left = [cell for cell in faithful if cell.row not in done]
    lines = [
        "| # | cell | the code's model | epochs | estimated, one CPU thread |",
        "|---:|---|---|---:|---:|",
        *(f"| {c.row} | {c.id} | {c.model.removeprefix('article-')} | {c.epochs} "
          f"| {hours(faithful[c])} |" for c in left),
        "",
        f"In all {hours(sum(faithful[c] for c in left))} of one thread for these {len(left)} "
        f"cells (bfloat16 where the CPU has it), from training steps timed on "
        f"{speeds['date'][:10]} (`python benchmarks/article_plan.py measure`). The cells re-run "
        "so far, estimated and taken (on a shared machine, so often slower):",
        "",
        "| # | cell | estimated | took | on |",
        "|---:|---|---:|---:|---|",
        *(f"| {c.row} | {c.id} | {hours(faithful[c])} | {hours(float(done[c.row]['seconds']))} "
          f"| {done[c.row]['device']} |" for c in faithful if c.row in done),
    ]
    return "\n".join(lines) + "\n"


def hours(seconds):
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="plan", choices=["plan", "measure"])
    parser.add_argument("--steps", type=int, default=300, help="most timed steps per model")
    parser.add_argument(
        "--seconds", type=float, default=20, help="stop timing a model after this (measure)"
    )
    parser.add_argument("--speeds", type=Path, default=SPEED_FILE, help="the measurements JSON")
    parser.add_argument("--lanes", type=int, default=2, help="single-thread jobs at a time")
    parser.add_argument("--ours-minutes", type=float, default=30, help="budget per run of ours")
    parser.add_argument(
        "--deep-hours",
        type=float,
        default=15,
        help="past this, plan only the cheapest convolutional cells (issue 14)",
    )
    parser.add_argument(
        "--cost", type=Path, help="write the cells not re-run yet, with their cost, here (Markdown)"
    )
    args = parser.parse_args()
    measure(args) if args.command == "measure" else plan(args)


if __name__ == "__main__":
    main()
