"""A launcher run with no program behind it, for the unit tests of TrainingRun's own logic (output,
reporting, its folder): the program "starts" as pid 4242 and exits 0 at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import EventBase, TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LineSink, RunOptions
from tunestream.launcher.layout import JobLayout, failure_reason
from tunestream.launcher.run import TrainingRun


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


class ProgramlessProgram:
    def __init__(self, layout: JobLayout) -> None:
        self.layout = layout

    async def launch(self) -> int:
        return 4242

    async def pump(self, line: LineSink) -> None:
        return None

    async def wait_exit(self) -> Exit:
        return Exit(0)

    async def signal(self, kill: bool) -> None:
        return None

    async def cleanup(self) -> None:
        return None

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        return failure_reason(self.layout, exit_code, stderr_tail)


class ProgramlessBackend:
    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> ProgramlessProgram:
        return ProgramlessProgram(layout)

    def reap(self, launcher_id: str) -> int:
        return 0

    def kill_leftover(self, layout: JobLayout) -> None:
        return None


def capturing_run(layout: JobLayout | Path, store: Any = None, **options: Any) -> tuple[TrainingRun, list[EventBase]]:
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
    run = TrainingRun(spec(), "tj", Attempt(0), where, store, publish, RunOptions(**settings), ProgramlessBackend())
    return run, sent
