"""Record a curve table: train random configurations of one task for real and keep every epoch.

    python benchmarks/curves/record.py <task> [--configs 300] [--workers 2] [--seed N] [--out PATH]

Tasks: mlp, xgboost, digits, costly (one module each in this folder: mlp.py, xgboost_rounds.py,
digits.py, costly.py). Configuration i is `RandomSearch(space, seed, configs).propose(i, [])`,
formatted as the strings a training program gets. `--workers` worker processes each train one
configuration at a time with one thread, so on a machine with as many cores the seconds per epoch
are those of a training job running beside others. One progress line per configuration; the table
goes to benchmarks/tables/<task>.json.gz (tunestream.bench.tables.save), rows in index order.

A row's seconds are the CPU seconds of the (one-threaded) training process in each epoch: what the
epoch takes on a core of its own, and what its wall seconds are on an otherwise idle machine. They
are kept instead of the wall seconds because the recording machine may be shared (other processes
took turns on its cores); `recorded_with.wall_over_cpu` says how far the wall seconds were from them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import multiprocessing
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from programs import ROOT, Curve

from tunestream.bench.tables import CurveRow, CurveTable, save
from tunestream.strategies.random import RandomSearch

TASKS = {"mlp": "mlp", "xgboost": "xgboost_rounds", "digits": "digits", "costly": "costly"}
SEEDS = {"mlp": 2026, "xgboost": 2027, "digits": 2028, "costly": 2029}
VALUE_DIGITS = 5  # decimals kept of each value (seconds: 4, by tables.save)
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _prepare(module_name: str) -> None:
    """Worker start: load the task's data and warm its libraries up, so no timed epoch pays for it."""
    module = importlib.import_module(module_name)
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        prepare()


def _run(module_name: str, index: int, hyperparameters: dict[str, str]) -> tuple[int, Curve, float]:
    started = time.perf_counter()
    curve = importlib.import_module(module_name).run(hyperparameters)
    return index, curve, time.perf_counter() - started


def _wall_over_cpu(curves: list[Curve]) -> dict[str, float]:
    """Quantiles of wall / CPU seconds over all epochs, and the two totals."""
    ratios = sorted(w / c for curve in curves for w, c in zip(curve.wall, curve.seconds, strict=True) if c > 0)
    cpu = sum(sum(curve.seconds) for curve in curves)
    wall = sum(sum(curve.wall) for curve in curves)

    def q(share: float) -> float:
        return round(ratios[min(int(share * len(ratios)), len(ratios) - 1)], 3)

    return {"p10": q(0.1), "median": q(0.5), "p90": q(0.9), "total": round(wall / cpu, 3)}


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None, help="RandomSearch seed (default: the task's own)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/tables/<task>.json.gz")
    args = parser.parse_args()
    seed = SEEDS[args.task] if args.seed is None else args.seed
    out = args.out or ROOT / "benchmarks" / "tables" / f"{args.task}.json.gz"
    # Inherited by the worker processes (started fresh, not forked) and the programs they start.
    for name in ONE_THREAD:
        os.environ[name] = "1"
    module_name = TASKS[args.task]
    task = importlib.import_module(module_name)
    random = RandomSearch(task.SPACE, seed, args.configs)
    configs = [task.SPACE.format(random.propose(i, []).values) for i in range(args.configs)]

    started = time.perf_counter()
    curves: dict[int, Curve] = {}
    walls: list[float] = []
    loads: list[float] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, initializer=_prepare, initargs=(module_name,)) as pool:
        pending = {pool.submit(_run, module_name, i, c) for i, c in enumerate(configs)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise RuntimeError(f"a {args.task} training job failed") from future.exception()
                index, curve, wall = future.result()
                curves[index] = curve
                walls.append(wall)
                loads.append(os.getloadavg()[0])
                elapsed = time.perf_counter() - started
                left = elapsed / len(curves) * (args.configs - len(curves))
                note = f" ({curve.replaced} NaN as chance)" if curve.replaced else ""
                print(
                    f"[{len(curves):>3}/{args.configs}] #{index:<3} {wall:6.1f}s "
                    f"(epochs {sum(curve.seconds):.1f} CPU s, {sum(curve.wall):.1f} wall s) "
                    f"{task.METRIC}={curve.values[-1]:.5f}{note} {configs[index]}  "
                    f"elapsed {elapsed / 60:.1f} min, ~{left / 60:.1f} min left",
                    flush=True,
                )
    wall_seconds = time.perf_counter() - started

    rows = [
        CurveRow(
            configs[i],
            tuple(round(v, VALUE_DIGITS) for v in curves[i].values),
            tuple(max(round(s, 4), 0.0001) for s in curves[i].seconds),  # never 0 s: tables.save keeps 4 decimals
        )
        for i in range(args.configs)
    ]
    recorded_with: dict[str, Any] = {
        "command": shlex.join(["python", *[os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]]),
        "task_module": f"benchmarks/curves/{module_name}.py",
        "seed": seed,
        "configs": args.configs,
        "draws": f"RandomSearch(space, {seed}, {args.configs}).propose(i, []) for i in 0..{args.configs - 1}",
        "static_hyperparameters": getattr(task, "STATIC", {}),
        "workers": args.workers,
        "threads": task.THREADS,
        "versions": _versions(task.PACKAGES),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "wall_seconds": round(wall_seconds, 1),
        "job_seconds_median": round(statistics.median(walls), 3),
        "seconds": "CPU seconds of the one-threaded training process per epoch (see wall_over_cpu)",
        "wall_over_cpu": _wall_over_cpu(list(curves.values())),
        "load_average_1min": {"median": round(statistics.median(loads), 2), "max": round(max(loads), 2)},
        "nan_values_recorded_as_chance": sum(c.replaced for c in curves.values()),
        "chance": task.CHANCE,
    }
    table = CurveTable(
        task=task.NAME,
        description=task.DESCRIPTION,
        space=task.SPACE,
        metric=task.METRIC,
        maximize=task.MAXIMIZE,
        resource=task.RESOURCE,
        rows=rows,
        recorded_with=recorded_with,
    )
    save(table, out)
    print(
        f"{out}: {len(rows)} rows x {task.STEPS} {task.RESOURCE}s, {out.stat().st_size} bytes, "
        f"recorded in {wall_seconds / 60:.1f} min",
        flush=True,
    )


if __name__ == "__main__":
    main()
