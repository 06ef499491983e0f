"""The search bench: tunestream's strategies and the peers on recorded curve tables.

    python benchmarks/search_bench.py [--tasks mlp xgboost digits costly] [--workers 2 4 8]
        [--seeds 100] [--slow-seeds 30] [--methods NAME ...] [--processes 2]
        [--decision-time zero|measured] [--answer nearest|fitted] [--max-jobs N] [--smoke]
        [--ceiling] [--out benchmarks/out/search_bench]

Each cell (task, W, method) simulates `--seeds` tuning jobs on the task's curve table
(benchmarks/tables/<task>.json.gz) with W workers (tunestream.bench.simulator). Prints, per task
and W, the median time to the targets reached by 10 %, 5 % and 2 % of the table's configurations,
with bootstrap 95 % intervals of the speed-up over Random and over the best peer; writes each cell
as JSON (a rerun skips cells already there unless --fresh), the summary as JSON, and a
best-so-far plot per task. Methods whose proposals fit a model (tunestream Bayesian, Optuna GP)
run `--slow-seeds` seeds. `--answer fitted` trains a proposed configuration as the forests fitted
to the table's rows predict it instead of as its nearest row (tunestream.bench.surrogate), with
targets from that answer; `--max-jobs N` caps the training jobs of a run and lets every run go on
to N jobs after it reached the targets, so that the best objective after N jobs is not cut short.
`--ceiling` adds, per task and W with a Random cell, how much faster than Random a clairvoyant that
knows which configurations reach each target would be (tunestream.bench.ceiling), and the best
tunestream method's and the best peer's speed-ups as shares of it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tunestream.bench import ceiling, runner
from tunestream.bench.report import RANDOM, Cell, by_jobs_markdown, markdown, overview_markdown, plot, rows
from tunestream.bench.simulator import Outcome, nearest_row

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "benchmarks" / "tables"
SLOW = ("tunestream Bayesian*", "Optuna GP*", "tunestream Hyperband (promotion, model*")
SMOKE_METHODS = ("tunestream Random", "tunestream Hyperband", "tunestream Random + Auto", "Optuna TPE + Hyperband")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None, help="table names (default: every table)")
    parser.add_argument("--tables", type=Path, default=TABLES)
    parser.add_argument("--workers", nargs="*", type=int, default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--slow-seeds", type=int, default=30)
    parser.add_argument("--methods", nargs="*", default=["*"], help="names or glob patterns")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--decision-time", choices=("zero", "measured"), default="zero")
    parser.add_argument(
        "--start-cost",
        type=float,
        default=0.0,
        help="worker seconds every training job (new or resumed) spends before its first epoch",
    )
    parser.add_argument(
        "--answer",
        choices=runner.ANSWERS,
        default="nearest",
        help="what a proposed configuration trains as: the nearest recorded row or the forests fitted to the rows",
    )
    parser.add_argument("--max-jobs", type=int, default=runner.MAX_JOBS, help="training jobs a run may start")
    parser.add_argument("--full-jobs", type=int, default=runner.FULL_JOBS, help="horizon in average full jobs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "search_bench")
    parser.add_argument("--plots", type=Path, default=None, help="folder for the per-task plots (default: --out)")
    parser.add_argument("--fresh", action="store_true", help="recompute cells already in --out")
    parser.add_argument("--smoke", action="store_true", help="3 seeds, W=2, a few methods, short horizon")
    parser.add_argument("--report-only", action="store_true", help="summarise the cells already in --out")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="add the clairvoyant's speed-up over Random per task and W (tunestream.bench.ceiling)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.slow_seeds, args.workers, args.full_jobs = 3, 2, [2], 40
        if args.methods == ["*"]:
            args.methods = list(SMOKE_METHODS)
    return args


def timing_label(
    decision_time: str, start_cost: float, answer: str = "nearest", max_jobs: int = runner.MAX_JOBS
) -> str:
    """What names a run's cells and summary apart from others': decision time, start cost, the
    answer and the job cap when they are not the defaults."""
    return (
        decision_time
        + (f"-start{start_cost:g}s" if start_cost else "")
        + ("" if answer == "nearest" else f"-{answer}")
        + ("" if max_jobs == runner.MAX_JOBS else f"-jobs{max_jobs}")
    )


def label_of(args: argparse.Namespace) -> str:
    return timing_label(args.decision_time, args.start_cost, args.answer, args.max_jobs)


def cell_path(out: Path, task: str, workers: int, method: str, label: str) -> Path:
    slug = "".join(ch if ch.isalnum() else "-" for ch in method).strip("-")
    return out / "cells" / f"{task}-W{workers}-{label}-{slug}.json"


def store_cell(args: argparse.Namespace, run: runner.Run, results: list[Outcome]) -> Cell:
    table = runner.load_table(run.table)
    targets = runner.targets_of(run.table, run.answer)
    shares = runner.TARGET_SHARES
    cell = Cell(
        task=table.task,
        workers=run.workers,
        method=run.method,
        targets=dict(zip(shares, targets, strict=True)),
        times={s: [o.time_to_target[t] for o in results] for s, t in zip(shares, targets, strict=True)},
        traces=[o.trace for o in results],
        by_jobs=[o.by_jobs for o in results],
        decision_seconds=[o.decision_seconds for o in results],
        train_seconds=[o.train_seconds for o in results],
        epochs=[o.epochs for o in results],
        horizon_s=runner.horizon_of(table, run.workers, args.full_jobs),
        maximize=table.maximize,
    )
    stored = cell_path(args.out, table.task, run.workers, run.method, label_of(args))
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(cell.as_json()))
    return cell


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[runner.Run, Outcome], None]]:
    """A live bar on a terminal; in a log, a line every 2 % of the runs."""
    if sys.stderr.isatty():
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as progress:
            bar = progress.add_task("simulated tuning jobs", total=total)

            def advance(run: runner.Run, outcome: Outcome) -> None:
                progress.update(bar, advance=1, description=f"{outcome.task} W={run.workers} {run.method}")

            yield advance
        return
    done, started, every = 0, time.perf_counter(), max(1, total // 50)

    def line(run: runner.Run, outcome: Outcome) -> None:
        nonlocal done
        done += 1
        if done % every == 0 or done == total:
            elapsed = time.perf_counter() - started
            where = f"{outcome.task} W={run.workers} {run.method}"
            print(f"{done}/{total} runs, {elapsed:.0f} s ({where})", file=sys.stderr, flush=True)

    yield line


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    paths = sorted(args.tables.glob("*.json.gz"))
    if args.tasks:
        paths = [p for p in paths if p.name.removesuffix(".json.gz") in args.tasks]
    if not paths:
        print(f"no curve tables under {args.tables}", file=sys.stderr)
        return 2
    available = runner.method_names()
    methods = [m for m in available if any(fnmatch.fnmatch(m, pat) for pat in args.methods)]
    unknown = [p for p in args.methods if not any(fnmatch.fnmatch(m, p) for m in available)]
    if unknown:
        print(f"no method matches {unknown}; known: {', '.join(available)}", file=sys.stderr)
        return 2

    cells: list[Cell] = []
    todo: list[tuple[Path, str, int, int]] = []
    for path in paths:
        task = path.name.removesuffix(".json.gz")
        for workers in args.workers:
            for method in methods:
                stored = cell_path(args.out, task, workers, method, label_of(args))
                if stored.exists() and not args.fresh:
                    cells.append(Cell.from_json(json.loads(stored.read_text())))
                    continue
                if args.report_only:
                    continue
                slow = any(fnmatch.fnmatch(method, pat) for pat in SLOW)
                todo.append((path, method, workers, args.slow_seeds if slow else args.seeds))

    runs = [
        runner.Run(
            str(path),
            method,
            workers,
            seed,
            args.decision_time,
            args.full_jobs,
            args.start_cost,
            args.answer,
            args.max_jobs,
            stop_at_targets=args.max_jobs == runner.MAX_JOBS,
        )
        for path, method, workers, seeds in todo
        for seed in range(seeds)
    ]
    started = time.perf_counter()
    seeds_of = {(str(path), method, workers): seeds for path, method, workers, seeds in todo}
    outcomes: dict[tuple[str, str, int], list[Outcome]] = {}
    with progress_bar(len(runs)) as tick:
        for run, outcome in zip(runs, runner.run_all(runs, args.processes, tick), strict=True):
            key = (run.table, run.method, run.workers)
            outcomes.setdefault(key, []).append(outcome)
            if len(outcomes[key]) == seeds_of[key]:  # the cell is complete: keep it at once
                cells.append(store_cell(args, run, outcomes.pop(key)))

    seeds = {(c.task, c.workers, c.method): len(c.traces) for c in cells}
    table_rows = rows(cells)
    sections = [overview_markdown(table_rows), markdown(table_rows, seeds, cells), by_jobs_markdown(cells)]
    if args.ceiling:
        ceilings = clairvoyant_ceilings(args, paths, cells)
        sections.append(ceiling.markdown(ceilings, table_rows))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"ceiling-{label_of(args)}.json").write_text(
            json.dumps([ceiling_json(c) for c in ceilings], indent=1)
        )
    text = "\n\n".join(sections)
    print(text)
    print(f"\n{len(runs)} simulated tuning jobs in {time.perf_counter() - started:.0f} s")
    summary = [
        {
            "task": r.task,
            "workers": r.workers,
            "method": r.method,
            "target_share": r.share,
            "median_s": _num(r.median_s.value),
            "median_ci": [_num(r.median_s.low), _num(r.median_s.high)],
            "vs_random": _num(r.vs_random.value),
            "vs_random_ci": [_num(r.vs_random.low), _num(r.vs_random.high)],
            "vs_best_peer": _num(r.vs_best_peer.value),
            "vs_best_peer_ci": [_num(r.vs_best_peer.low), _num(r.vs_best_peer.high)],
            "best_peer": r.best_peer,
            "reached": r.reached,
            "seeds": seeds[(r.task, r.workers, r.method)],
        }
        for r in table_rows
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    timing = label_of(args)
    (args.out / f"summary-{timing}.json").write_text(json.dumps(summary, indent=1))
    (args.out / f"summary-{timing}.md").write_text(text + "\n")
    plots = args.plots or args.out
    for task in sorted({c.task for c in cells}):
        plot([c for c in cells if c.task == task], task, plots / f"search_bench_{task}.png")
    return 0


def clairvoyant_ceilings(args: argparse.Namespace, paths: list[Path], cells: list[Cell]) -> list[ceiling.Ceiling]:
    """The ceiling of every task and W that has a Random cell, at each target."""
    random = {(c.task, c.workers): c for c in cells if c.method == RANDOM}
    out: list[ceiling.Ceiling] = []
    for path in paths:
        table = runner.load_table(str(path))
        baselines = [(w, random[table.task, w]) for w in args.workers if (table.task, w) in random]
        if not baselines:  # no Random cell to measure against: skip the draws
            continue
        answer = runner.answer_of(str(path), args.answer) or nearest_row(table)
        targets = runner.targets_of(str(path), args.answer)
        for share, target in zip(runner.TARGET_SHARES, targets, strict=True):
            hits, drawn = ceiling.hitting_times(table, answer, target, start_s=args.start_cost)
            for workers, cell in baselines:
                out.append(ceiling.ceiling_of(table.task, workers, share, target, hits, drawn, cell.times[share]))
    return out


def ceiling_json(c: ceiling.Ceiling) -> dict[str, object]:
    return {
        "task": c.task,
        "workers": c.workers,
        "target_share": c.share,
        "target": c.target,
        "hit_share": c.hit_share,
        "random_median_s": _num(c.random_s.value),
        "clairvoyant_median_s": c.clairvoyant_s,
        "fastest_hit_s": c.fastest_hit_s,
        "ceiling": _num(c.ceiling.value),
        "ceiling_ci": [_num(c.ceiling.low), _num(c.ceiling.high)],
        "absolute": _num(c.absolute),
    }


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


if __name__ == "__main__":
    sys.exit(main())
