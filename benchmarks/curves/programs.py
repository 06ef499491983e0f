"""What the task modules share: loading an example training program in-process and timing its epochs.

A task module (mlp.py, xgboost_rounds.py, digits.py, costly.py) names its table (NAME, DESCRIPTION,
SPACE, METRIC, MAXIMIZE, RESOURCE, STEPS, CHANCE, THREADS, PACKAGES, STATIC) and has
`run(hyperparameters)`, which trains one configuration for STEPS epochs (or boosting rounds) and
returns its `Curve`. record.py runs it in a pool of worker processes, one training job per worker.

Two clocks per epoch: the training process's CPU seconds (time.process_time) and wall seconds. A
training job has one thread and waits on nothing, so on a core of its own the two agree; on a
machine that other work shares, the wall seconds also count the time the job waited for a core.
The table keeps the CPU seconds (`Curve.seconds`), the cost an epoch has on a core of its own;
record.py reports how far the wall seconds were from them.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Curve:
    values: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # CPU seconds of the training process per epoch
    wall: list[float] = field(default_factory=list)  # wall seconds per epoch
    replaced: int = 0  # NaN or infinite values recorded as the task's chance value instead

    def add(self, value: float, cpu: float, wall: float, chance: float) -> None:
        if not math.isfinite(value):
            value = chance
            self.replaced += 1
        self.values.append(float(value))
        self.seconds.append(cpu)
        self.wall.append(wall)


def load_program(example: str) -> ModuleType:
    """examples/<example>/train.py as a module (once per process)."""
    name = f"tunestream_example_{example}_train"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / example / "train.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def argv(hyperparameters: Mapping[str, str]) -> list[str]:
    """The `--name value` arguments SageMaker gives a training program."""
    return [item for name, value in hyperparameters.items() for item in (f"--{name}", value)]


def timed(train: Callable[[Callable[[float], None]], Any], steps: int, chance: float) -> Curve:
    """Calls `train(record)`; the program calls `record(value)` after every epoch. Each epoch's
    seconds run from the previous call (or from the start of `train`) to this one, so they cover the
    epoch's training and its validation, and nothing before the program's first epoch but building
    the model. A NaN or infinite value is recorded as `chance` (a diverged model)."""
    curve = Curve()
    last_cpu, last_wall = time.process_time(), time.perf_counter()

    def record(value: float) -> None:
        nonlocal last_cpu, last_wall
        cpu, wall = time.process_time(), time.perf_counter()
        curve.add(value, cpu - last_cpu, wall - last_wall, chance)
        last_cpu, last_wall = cpu, wall

    train(record)
    if len(curve.values) != steps:
        raise RuntimeError(f"the program reported {len(curve.values)} values, expected {steps}")
    return curve
