"""Topic names and which events go where.

All of a tuning job's events are keyed by its name, and every topic has the same partition count,
so one job's events sit in the same partition number of each topic, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITIONS = 3
# The job topics (jobs, trials, training, metrics) keep every event by default (-1 = forever): a
# tuning job's history is what the services rebuild from and what `tunestream replay` re-derives.
JOB_TOPIC_RETENTION_MS = -1
# Heartbeats are only about liveness; an hour of them is plenty to rebuild from.
LAUNCHERS_TOPIC_CONFIG = {"retention.ms": str(3600 * 1000), "segment.ms": str(600 * 1000)}


@dataclass(frozen=True)
class Topics:
    prefix: str = "tunestream"

    @property
    def jobs(self) -> str:
        """api -> TuningJobSubmitted, TuningJobStopRequested, ApiCallRecorded."""
        return f"{self.prefix}.jobs"

    @property
    def trials(self) -> str:
        """suggester -> TrainingJobProposed, TrainingJobStopRequested, TrainingJobAssigned, TuningJobEnded."""
        return f"{self.prefix}.trials"

    @property
    def training(self) -> str:
        """launcher -> TrainingJobStarted, TrainingOutputLogged, TrainingJobFinished (in that order);
        TrainingJobAttemptFailed (launcher or scheduler) between attempts."""
        return f"{self.prefix}.training"

    @property
    def metrics(self) -> str:
        """collector -> MetricReported, ObjectiveCollected."""
        return f"{self.prefix}.metrics"

    @property
    def launchers(self) -> str:
        """launcher -> LauncherHeartbeat; short retention, since only recent heartbeats matter."""
        return f"{self.prefix}.launchers"

    def config(self, topic: str, retention_ms: int = JOB_TOPIC_RETENTION_MS) -> dict[str, str]:
        """Topic configuration at creation: heartbeats for an hour, job topics for `retention_ms`."""
        if topic == self.launchers:
            return dict(LAUNCHERS_TOPIC_CONFIG)
        return {"retention.ms": str(retention_ms)}

    def all(self) -> tuple[str, ...]:
        return (self.jobs, self.trials, self.training, self.metrics, self.launchers)

    def for_event(self, event_type: str) -> str:
        return {
            "TuningJobSubmitted": self.jobs,
            "TuningJobStopRequested": self.jobs,
            "ApiCallRecorded": self.jobs,
            "TrainingJobProposed": self.trials,
            "TrainingJobStopRequested": self.trials,
            "TuningJobEnded": self.trials,
            "TrainingJobAssigned": self.trials,
            "TrainingJobAttemptFailed": self.training,
            "LauncherHeartbeat": self.launchers,
            "TrainingJobStarted": self.training,
            "TrainingOutputLogged": self.training,
            "TrainingJobFinished": self.training,
            "MetricReported": self.metrics,
            "ObjectiveCollected": self.metrics,
        }[event_type]
