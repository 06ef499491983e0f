"""Record real learning curves of the examples/mlp training program for a pool of random configurations.

    python benchmarks/mlp_curves.py [--configs 60] [--epochs 20] [--workers 2] [--out benchmarks/out]

Each configuration (units, learning_rate, l2, batch_size drawn log-uniformly from the blog's ranges,
seeded) runs `examples/mlp/train.py` as a subprocess, one thread each; every epoch's validation
accuracy and the wall time of each epoch are kept. `hyperband_epochs.py` replays these curves.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tunestream.space import ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.random import RandomSearch

ROOT = Path(__file__).resolve().parents[1]
SPACE = SearchSpace(
    (
        IntegerParam("units", 10, 1000, "Logarithmic"),
        IntegerParam("batch_size", 10, 200, "Logarithmic"),
        ContinuousParam("learning_rate", 1e-4, 1e-1, "Logarithmic"),
        ContinuousParam("l2", 1e-6, 2.0, "Logarithmic"),
    )
)
LINE = re.compile(r"epoch=(\d+) .*validation:accuracy=([0-9.]+)")


def train(values: dict[str, str], epochs: int) -> dict[str, object]:
    argv = [sys.executable, str(ROOT / "examples" / "mlp" / "train.py"), "--epochs", str(epochs)]
    for name, value in values.items():
        argv += [f"--{name}", value]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "SM_MODEL_DIR": "/tmp/mlp-curves-model",
    }
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    accuracy, seconds, last = [], [], started
    assert process.stdout is not None
    for line in process.stdout:
        match = LINE.search(line)
        if match:
            now = time.perf_counter()
            accuracy.append(float(match.group(2)))
            seconds.append(now - last)
            last = now
    process.wait()
    return {"hyperparameters": values, "accuracy": accuracy, "epoch_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    random = RandomSearch(SPACE, args.seed, args.configs)
    configs = [SPACE.format(random.propose(i, []).values) for i in range(args.configs)]
    curves = []
    with ThreadPoolExecutor(args.workers) as pool:
        for i, curve in enumerate(pool.map(lambda c: train(c, args.epochs), configs)):
            curves.append(curve)
            acc = curve["accuracy"]
            print(f"{i + 1:>3}/{args.configs} {curve['hyperparameters']} final {acc[-1] if acc else 'n/a'}", flush=True)  # type: ignore[index]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlp_curves.json").write_text(json.dumps({"epochs": args.epochs, "curves": curves}, indent=1))


if __name__ == "__main__":
    main()
