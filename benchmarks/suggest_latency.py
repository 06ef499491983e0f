"""Bayesian suggestion latency: p50/p90 of one proposal (GP fit + acquisition) at N observations.

    python benchmarks/suggest_latency.py [--observations 20 100 300] [--repeats 7] [--out benchmarks/out]

Hartmann6-like 6-D continuous space plus a mixed space (2 continuous, 1 log-integer, 1 categorical);
each proposal sees N finished training jobs and 3 running ones (pending points). Torch gets one
thread, as in the suggester. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.bayesian import BayesianSearch
from tunestream.trials import TrainingJobRecord, TrainingJobStatus

SPACES = {
    "continuous-6d": SearchSpace(tuple(ContinuousParam(f"x{i}", 0.0, 1.0) for i in range(6))),
    "mixed-4d": SearchSpace(
        (
            IntegerParam("units", 10, 1000, "Logarithmic"),
            ContinuousParam("lr", 1e-4, 1e-1, "Logarithmic"),
            ContinuousParam("l2", 1e-6, 2.0, "Logarithmic"),
            CategoricalParam("activation", ("relu", "tanh", "gelu")),
        )
    ),
}


def objective(values: dict[str, int | float | str], space: SearchSpace) -> float:
    u = np.array(space.to_unit(values))
    return float(-np.sum((u - 0.3) ** 2) + 0.01 * np.sin(20 * u).sum())


def history(space: SearchSpace, n: int, pending: int, seed: int) -> list[TrainingJobRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n + pending):
        values = space.from_unit(rng.random(len(space.params)).tolist())
        done = i < n
        records.append(
            TrainingJobRecord(
                index=i,
                name=f"t{i}",
                values=values,
                status=TrainingJobStatus.COMPLETED if done else TrainingJobStatus.IN_PROGRESS,
                objective=objective(values, space) + rng.normal(0, 0.01) if done else None,
            )
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, nargs="+", default=[20, 100, 300])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as the suggester runs it (TUNESTREAM_SUGGESTER_THREADS)
    rows = []
    for space_name, space in SPACES.items():
        for n in args.observations:
            times, fits = [], []
            for r in range(args.repeats):
                # As in the suggester, the strategy lives across proposals; the first one in a process
                # also pays torch's and BoTorch's first-call costs, so it is not timed.
                hist = history(space, n + 1, pending=3, seed=r)
                strategy = BayesianSearch(space, seed=r, max_jobs=10_000, maximize=True)
                strategy.propose(len(hist), hist[: n - 1] + hist[n + 1 :])
                started = time.perf_counter()
                proposal = strategy.propose(len(hist), hist)
                times.append(time.perf_counter() - started)
                fits.append(float(proposal.details.get("fit_s", 0.0)))
            q = np.quantile(times, [0.5, 0.9])
            rows.append(
                {
                    "space": space_name,
                    "observations": n,
                    "p50_s": round(float(q[0]), 3),
                    "p90_s": round(float(q[1]), 3),
                    "fit_p50_s": round(statistics.median(fits), 3),
                    "repeats": args.repeats,
                }
            )
            fit = statistics.median(fits)
            print(f"{space_name:<14} n={n:<4} p50 {q[0]:.3f}s  p90 {q[1]:.3f}s  (fit p50 {fit:.3f}s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "suggest_latency.json").write_text(json.dumps(rows, indent=2))
    print("\n| space | observations | p50 s | p90 s | GP fit p50 s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['space']} | {r['observations']} | {r['p50_s']} | {r['p90_s']} | {r['fit_p50_s']} |")


if __name__ == "__main__":
    main()
