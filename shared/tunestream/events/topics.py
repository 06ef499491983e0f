"""Topic names and which events go where.

All of a tuning job's events are keyed by its name, and every topic has the same partition count,
so one job's events sit in the same partition number of each topic, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITIONS = 3


@dataclass(frozen=True)
class Topics:
    prefix: str = "tunestream"

    @property
    def jobs(self) -> str:
        """api -> TuningJobSubmitted, TuningJobStopRequested."""
        return f"{self.prefix}.jobs"

    @property
    def trials(self) -> str:
        """suggester -> TrainingJobProposed, TrainingJobStopRequested, TuningJobEnded."""
        return f"{self.prefix}.trials"

    @property
    def training(self) -> str:
        """launcher -> TrainingJobStarted, TrainingOutputLogged, TrainingJobFinished (in that order)."""
        return f"{self.prefix}.training"

    @property
    def metrics(self) -> str:
        """collector -> MetricReported, ObjectiveCollected."""
        return f"{self.prefix}.metrics"

    def all(self) -> tuple[str, ...]:
        return (self.jobs, self.trials, self.training, self.metrics)

    def for_event(self, event_type: str) -> str:
        return {
            "TuningJobSubmitted": self.jobs,
            "TuningJobStopRequested": self.jobs,
            "TrainingJobProposed": self.trials,
            "TrainingJobStopRequested": self.trials,
            "TuningJobEnded": self.trials,
            "TrainingJobStarted": self.training,
            "TrainingOutputLogged": self.training,
            "TrainingJobFinished": self.training,
            "MetricReported": self.metrics,
            "ObjectiveCollected": self.metrics,
        }[event_type]
