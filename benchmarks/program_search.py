"""Search methods on a task's real training program instead of its curve table.

    python benchmarks/program_search.py --task xgboost [--seeds 20] [--jobs 40]
        [--methods "tunestream Random" "tunestream Bayesian"] [--processes 2] [--out benchmarks/out]

The bench (search_bench.py) answers a configuration with the table row nearest to it. In a space of
many dimensions and a few hundred rows those rows are far apart (7-D, 300 rows: a row's cell spans
about 0.44 of every unit axis), so a method that refines around its best configuration is answered
with that same row again, while the real program would have given a new value. This script checks
what the table cannot: each method runs `--jobs` training jobs one after another on the real
program (benchmarks/curves/<task module>, trained in-process, one thread), the objective being the
last value (SageMaker's rule). For every job it also notes what the table would have answered (its
nearest row, and the forests fitted to its rows: `--answer fitted` of search_bench.py), and how
many distinct table rows a run touched. Methods must not stop jobs early (the program always
trains to the end here). Prints the median best after 10/20/30/40 jobs, program and table side by
side, with a bootstrap 95 % interval of each method's difference to the first method; writes JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tunestream.bench import tables
from tunestream.bench.methods import Task

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "curves"))
TASK_MODULES = {"mlp": "mlp", "xgboost": "xgboost_rounds", "digits": "digits", "costly": "costly"}
CHECKPOINTS = (10, 20, 30, 40)
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _worker_start(module_name: str) -> None:
    for name in ONE_THREAD:
        os.environ.setdefault(name, "1")
    import torch

    torch.set_num_threads(1)
    module = importlib.import_module(module_name)
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        prepare()


def one_run(task_name: str, method_name: str, seed: int, jobs: int) -> dict[str, Any]:
    """One seed of one method: every job's program value, table value and table row."""
    from tunestream.bench.runner import all_methods, fitted_curves, load_table

    # Loaded once per worker process (cached), as the bench's runner does.
    path = str(ROOT / "benchmarks" / "tables" / f"{task_name}.json.gz")
    table, fitted = load_table(path), fitted_curves(path)
    module = importlib.import_module(TASK_MODULES[task_name])
    task = Task(task_name, table.space, table.metric, table.maximize, table.max_resource)
    method = all_methods()[method_name](task, seed, 1)
    program, table_values, fitted_values, rows = [], [], [], []
    for _ in range(jobs):
        start = method.ask(0.0)
        if start is None:
            break
        curve = module.run({name: str(value) for name, value in start.values.items()})
        for epoch, value in enumerate(curve.values, start=1):
            if not method.report(start.trial_id, epoch, value, 0.0):
                raise SystemExit(f"{method_name} stopped a training job early; this script trains every job to the end")
        method.finish(start.trial_id, curve.values[-1], False, 0.0)
        row = table.nearest(start.values)
        program.append(curve.values[-1])
        table_values.append(table.rows[row].final)
        fitted_values.append(fitted.curve(start.values).final)
        rows.append(row)
    return {
        "task": task_name,
        "method": method_name,
        "seed": seed,
        "program": program,
        "table": table_values,
        "fitted": fitted_values,
        "rows": rows,
    }


def best_after(values: list[float], n: int, maximize: bool) -> float:
    head = values[:n]
    return max(head) if maximize else min(head)


def bootstrap_median_difference(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, draws: int = 2000
) -> tuple[float, float]:
    """95 % interval of median(a) - median(b), resampling the seeds of each independently."""
    diffs = [np.median(rng.choice(a, len(a))) - np.median(rng.choice(b, len(b))) for _ in range(draws)]
    low, high = np.quantile(diffs, [0.025, 0.975])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="xgboost", choices=list(TASK_MODULES))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--methods", nargs="*", default=["tunestream Random", "tunestream Bayesian"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args()
    module_name = TASK_MODULES[args.task]
    table = tables.load(ROOT / "benchmarks" / "tables" / f"{args.task}.json.gz")
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    started = time.perf_counter()
    todo = [(m, s) for s in range(args.seeds) for m in args.methods]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        progress = bar.add_task(f"{args.task}: runs", total=len(todo))
        with ProcessPoolExecutor(args.processes, initializer=_worker_start, initargs=(module_name,)) as pool:
            futures = {pool.submit(one_run, args.task, m, s, args.jobs): (m, s) for m, s in todo}
            for future in as_completed(futures):
                runs[futures[future]] = future.result()
                bar.advance(progress)
    rng = np.random.default_rng(0)
    checkpoints = [c for c in CHECKPOINTS if c <= args.jobs] or [args.jobs]
    baseline = args.methods[0]
    summary = []
    header = (
        "| method | answer | "
        + " | ".join(f"best @ {n}" for n in checkpoints)
        + f" | @ {checkpoints[-1]} minus {baseline} (95 % CI) | distinct rows |"
    )
    lines = [header, "|" + "---|" * (len(checkpoints) + 4)]
    for method in args.methods:
        for answer in ("program", "table", "fitted"):
            per_seed = {
                n: np.array([best_after(runs[(method, s)][answer], n, table.maximize) for s in range(args.seeds)])
                for n in checkpoints
            }
            base = np.array(
                [best_after(runs[(baseline, s)][answer], checkpoints[-1], table.maximize) for s in range(args.seeds)]
            )
            last = per_seed[checkpoints[-1]]
            low, high = bootstrap_median_difference(last, base, rng) if method != baseline else (math.nan, math.nan)
            distinct = float(np.median([len(set(runs[(method, s)]["rows"])) for s in range(args.seeds)]))
            medians = {n: float(np.median(v)) for n, v in per_seed.items()}
            summary.append(
                {
                    "method": method,
                    "answer": answer,
                    "medians": medians,
                    "difference_ci": [low, high],
                    "distinct_rows": distinct,
                }
            )
            ci = "" if method == baseline else f"{np.median(last) - np.median(base):+.4f} [{low:+.4f}, {high:+.4f}]"
            lines.append(
                f"| {method} | {answer} | "
                + " | ".join(f"{medians[n]:.4f}" for n in checkpoints)
                + f" | {ci} | {distinct:g} |"
            )
    print(
        f"\n{args.task}: {args.seeds} seeds, {args.jobs} sequential jobs, {'max' if table.maximize else 'min'}imised; "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"program_search_{args.task}.json"
    path.write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary, "runs": list(runs.values())},
            indent=1,
        )
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
