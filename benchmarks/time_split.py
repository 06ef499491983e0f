"""Where a method's time to a target goes on the bench: searching, or training what it found.

    python benchmarks/time_split.py [--tasks mlp xgboost digits costly] [--workers 2 8]
        [--methods "tunestream Random" "tunestream Hyperband (promotion)"] [--seeds 100]
        [--share 0.05] [--answer fitted|nearest] [--processes 2] [--out benchmarks/out/time_split]

For every (task, W, method) it simulates `--seeds` runs as search_bench.py does (no start cost,
no decision time) and splits each run's time to the target reached by `--share` of the table's
configurations (tunestream.bench.time_split): when the first configuration able to reach it was
started (search), what that configuration needs to train to get there (training), and how often
it is the one that gets there first. Prints a table of medians and writes it as JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tunestream.bench import runner
from tunestream.bench.simulator import nearest_row, simulate
from tunestream.bench.time_split import Split, recording, split

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "benchmarks" / "tables"
COLUMNS = (
    "task",
    "W",
    "method",
    "time to target",
    "first able started",
    "its training",
    "search's share",
    "first able got there",
)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=["mlp", "xgboost", "digits", "costly"])
    parser.add_argument("--tables", type=Path, default=TABLES)
    parser.add_argument("--workers", nargs="*", type=int, default=[2, 8])
    parser.add_argument("--methods", nargs="*", default=["tunestream Random", "tunestream Hyperband (promotion)"])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--share", type=float, default=0.05, choices=runner.TARGET_SHARES)
    parser.add_argument("--answer", choices=runner.ANSWERS, default="fitted")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "time_split")
    return parser.parse_args(argv)


def one(table: str, method: str, workers: int, seed: int, share: float, answer: runner.AnswerKind) -> Split:
    curves = runner.load_table(table)
    targets = runner.targets_of(table, answer)
    target = targets[runner.TARGET_SHARES.index(share)]
    factory, recorders = recording(runner.all_methods()[method])
    trained_as = runner.answer_of(table, answer)
    outcome = simulate(
        curves,
        factory,
        seed,
        workers,
        targets=targets,
        horizon_s=runner.horizon_of(curves, workers),
        max_jobs=runner.MAX_JOBS,
        answer=trained_as,
    )
    return split(
        recorders[0],
        curves,
        trained_as or nearest_row(curves),
        target,
        outcome.time_to_target[target],
    )


def _one(args: tuple[str, str, int, int, float, runner.AnswerKind]) -> Split:
    return one(*args)


@contextmanager
def splitting(processes: int) -> Iterator[Callable[..., Iterator[Split]]]:
    """A map over runs: in worker processes, or in this one (processes <= 1: what the tests use)."""
    if processes <= 1:
        runner._one_thread()
        yield map
        return
    with ProcessPoolExecutor(processes, initializer=runner._one_thread) as pool:
        yield functools.partial(pool.map, chunksize=4)


def summary(splits: Sequence[Split]) -> dict[str, float]:
    reached = [s for s in splits if math.isfinite(s.time_to_target)]
    able = [s for s in splits if math.isfinite(s.first_able_at)]
    return {
        "runs": len(splits),
        "reached": len(reached),
        "time_to_target_s": float(np.median([s.time_to_target for s in splits])),
        "first_able_at_s": float(np.median([s.first_able_at for s in splits])),
        "its_training_s": float(np.median([s.its_training_s for s in able])) if able else math.nan,
        "search_share": float(np.median([s.first_able_at / s.time_to_target for s in reached]))
        if reached
        else math.nan,
        "first_able_reached": float(np.mean([s.first_able_reached for s in splits])),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    cells = [(t, w, m) for t in args.tasks for w in args.workers for m in args.methods]
    rows = []
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    with splitting(args.processes) as map_splits:
        for task, workers, method in cells:
            table = str(args.tables / f"{task}.json.gz")
            jobs = [(table, method, workers, seed, args.share, args.answer) for seed in range(args.seeds)]
            row = {
                "task": task,
                "workers": workers,
                "method": method,
                **summary(list(map_splits(_one, jobs))),
            }
            rows.append(row)
            print(
                f"| {task} | {workers} | {method} | {row['time_to_target_s']:.3g} s | {row['first_able_at_s']:.3g} s "
                f"| {row['its_training_s']:.3g} s | {row['search_share']:.0%} | {row['first_able_reached']:.0%} |",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"time-split-{args.answer}-{args.share:g}.json"
    path.write_text(
        json.dumps({"share": args.share, "answer": args.answer, "seeds": args.seeds, "rows": rows}, indent=2)
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
