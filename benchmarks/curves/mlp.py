"""The seed task: examples/mlp/train.py (the Hyperband blog's 3-layer MLP, numpy backend), 20 epochs.

Each configuration runs the program as a subprocess with one BLAS thread, as a tuning job's training
job would. The subprocess is the program's own `main()`, started through a small wrapper that prints
the process's CPU and wall clocks once the data are loaded and training starts, and after every
`epoch=<k> ... validation:accuracy=<v>` line: epoch 1 runs from the start of training (Python's
start, the imports and loading the data are not counted), every later epoch from the line before.

A diverged network cannot yield a NaN accuracy (its logits compare False), so nothing is replaced.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from programs import ROOT, Curve, argv

from tunestream.space import ContinuousParam, IntegerParam, SearchSpace

NAME = "mlp"
DESCRIPTION = (
    "examples/mlp/train.py, numpy backend, one BLAS thread: a 3-layer MLP (units per layer) trained with "
    "Adam on make_classification(5000, 20 features); validation accuracy on 1,000 held-out rows after "
    "each of 20 epochs. The seed task."
)
SPACE = SearchSpace(
    (
        IntegerParam("units", 10, 1000, "Logarithmic"),
        IntegerParam("batch_size", 10, 200, "Logarithmic"),
        ContinuousParam("learning_rate", 1e-4, 1e-1, "Logarithmic"),
        ContinuousParam("l2", 1e-6, 2.0, "Logarithmic"),
    )
)
METRIC = "validation:accuracy"
MAXIMIZE = True
RESOURCE = "epoch"
STEPS = 20
CHANCE = 0.5
THREADS = "a subprocess per training job, OMP/OPENBLAS/MKL_NUM_THREADS=1"
PACKAGES = ("numpy", "scikit-learn")
PROGRAM = ROOT / "examples" / "mlp" / "train.py"
STATIC = {"epochs": str(STEPS), "backend": "numpy"}

READY = "tunestream-curves:"
# The program's own main(), with its `report` (called after every epoch's validation) and
# `train_numpy` (called once the data are loaded) wrapped to print the process's clocks.
WRAPPER = f"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("train", sys.argv[1])
program = importlib.util.module_from_spec(spec)
spec.loader.exec_module(program)
train_numpy, report = program.train_numpy, program.report
def clocks():
    print({READY!r}, repr(time.process_time()), repr(time.perf_counter()), flush=True)
def timed_train_numpy(*args):
    clocks()
    train_numpy(*args)
def timed_report(*args):
    report(*args)
    clocks()
program.train_numpy, program.report = timed_train_numpy, timed_report
sys.argv = sys.argv[1:]
program.main()
"""
LINE = re.compile(r"^epoch=(\d+) .*validation:accuracy=(\S+)")


def run(hyperparameters: dict[str, str]) -> Curve:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="mlp-curves-") as scratch, open(Path(scratch) / "stderr", "w+") as err:
        env["SM_MODEL_DIR"] = str(Path(scratch) / "model")
        command = [sys.executable, "-c", WRAPPER, str(PROGRAM), *argv({**STATIC, **hyperparameters})]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert process.stdout is not None
        curve = Curve()
        value: float | None = None
        last: tuple[float, float] | None = None
        for line in process.stdout:
            if line.startswith(READY):
                cpu, wall = (float(x) for x in line.split()[1:3])
                if last is not None and value is not None:
                    curve.add(value, cpu - last[0], wall - last[1], CHANCE)
                last, value = (cpu, wall), None
            elif match := LINE.match(line):
                value = float(match.group(2))
        if process.wait() != 0 or len(curve.values) != STEPS:
            err.seek(0)
            tail = err.read()[-2000:]
            raise RuntimeError(
                f"{PROGRAM} {hyperparameters}: exit {process.returncode}, {len(curve.values)} epochs\n{tail}"
            )
    return curve
