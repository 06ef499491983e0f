"""A launcher run with no program behind it, for the unit tests of TrainingRun's own logic (output,
reporting, its folder): the program "starts" as pid 4242 and exits 0 at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import EventBase, TrainingJobSpec
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.run import Attempt, RunOptions, TrainingRun


def spec(**changes: Any) -> TrainingJobSpec:
    values: dict[str, Any] = {
        "training_job_name": "tj-001-abcdef12",
        "index": 0,
        "tuned_hyperparameters": {},
        "hyperparameters": {"x": "1"},
        "command": ["python", "train.py"],
        "environment": {"MY_VAR": "1"},
        "input_channels": [],
        "output_s3_path": "s3://b/out/",
        "max_runtime_s": 10,
        "metric_definitions": [MetricDefinition(Name="score", Regex=r"score=(\S+)")],
        "objective_metric_name": "score",
        "objective_type": "Maximize",
    }
    return TrainingJobSpec(**{**values, **changes})


class ProgramlessRun(TrainingRun):
    async def _launch(self) -> int:
        return 4242

    async def _pump_output(self) -> None:
        return None

    async def _wait_exit(self) -> int:
        return 0

    async def _signal(self, kill: bool) -> None:
        return None

    async def _cleanup(self) -> None:
        return None


def capturing_run(
    layout: JobLayout | Path, store: Any = None, **options: Any
) -> tuple[ProgramlessRun, list[EventBase]]:
    """A run whose published events land in the returned list; `options` override RunOptions."""
    sent: list[EventBase] = []

    async def publish(events: Sequence[EventBase]) -> None:
        sent.extend(events)

    settings: dict[str, Any] = {
        "launcher_id": "l",
        "cwd": None,
        "stop_grace_s": 1,
        "batch_interval_s": 1,
        "batch_lines": 100,
        **options,
    }
    where = layout if isinstance(layout, JobLayout) else JobLayout(layout)
    run = ProgramlessRun(spec(), "tj", Attempt(0), where, store, publish, RunOptions(**settings))
    return run, sent
