"""The tracker's writes, driven event by event against the real PostgreSQL and S3 store: one training
job's whole life lands in the read model, every event is written once however often it is delivered,
and a tuning job's request Tags become its tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from tests.conftest import minimal_job
from tunestream.db import reads
from tunestream.db.tables import metric_points, training_jobs
from tunestream.definitions import CreateTuningJobRequest, MetricDefinition
from tunestream.events import ids
from tunestream.events.v1 import (
    EventBase,
    MetricReported,
    MetricReportedData,
    ObjectiveCollected,
    ObjectiveCollectedData,
    OutputLine,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobProposed,
    TrainingJobProposedData,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingJobStartedData,
    TrainingOutputLogged,
    TrainingOutputLoggedData,
    TuningJobSubmitted,
    TuningJobSubmittedData,
)
from tunestream.naming import tuning_job_arn
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.tracker.handler import TrackerHandler
from tunestream.trials import ObjectiveStatus, TrainingJobStatus

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def life_of_one_training_job(name: str) -> list[EventBase]:
    job = minimal_job(name)
    job["Tags"] = [{"Key": "team", "Value": "search"}]
    training = f"{name}-001-abcdef12"

    def at(seconds: float) -> dict[str, Any]:
        return {"tuning_job_name": name, "occurred_at": T0 + timedelta(seconds=seconds)}

    spec = TrainingJobSpec(
        training_job_name=training,
        index=0,
        tuned_hyperparameters={"x": "0.5"},
        hyperparameters={"x": "0.5", "epochs": "3"},
        command=["python", "train.py"],
        environment={},
        input_channels=[],
        output_s3_path="s3://tunestream/it/tracker",
        max_runtime_s=60,
        metric_definitions=[MetricDefinition(Name="score", Regex=r"score=(\S+)")],
        objective_metric_name="score",
        objective_type="Maximize",
    )
    lines = [
        OutputLine(stream="stdout", text=f"epoch={e} score=0.{e}", at=T0 + timedelta(seconds=2 + e)) for e in (1, 2)
    ]
    return [
        TuningJobSubmitted(
            event_id=ids.submitted(name),
            payload=TuningJobSubmittedData(
                request=CreateTuningJobRequest.model_validate(job), random_seed=7, created_at=T0
            ),
            **at(0),
        ),
        TrainingJobProposed(
            event_id=ids.proposed(training), payload=TrainingJobProposedData(spec=spec, reason="random"), **at(1)
        ),
        TrainingJobStarted(
            event_id=ids.started(training, 0),
            payload=TrainingJobStartedData(
                training_job_name=training,
                launcher_id="l1",
                pid=42,
                work_dir="/tmp/w",
                metric_definitions=spec.metric_definitions,
                objective_metric_name="score",
            ),
            **at(2),
        ),
        TrainingOutputLogged(
            event_id=ids.output_batch(training, 0),
            payload=TrainingOutputLoggedData(training_job_name=training, seq=0, first_line=0, lines=lines),
            **at(4),
        ),
        *(
            MetricReported(
                event_id=ids.metric(training, "score", e),
                payload=MetricReportedData(
                    training_job_name=training, metric_name="score", value=e / 10, step=e, at=lines[e - 1].at
                ),
                **at(4),
            )
            for e in (1, 2)
        ),
        TrainingJobFinished(
            event_id=ids.finished(training),
            payload=TrainingJobFinishedData(
                training_job_name=training,
                status=TrainingJobStatus.COMPLETED,
                secondary_status="Completed",
                exit_code=0,
                failure_reason=None,
                model_artifact_s3_uri=f"s3://tunestream/it/tracker/{training}/output/model.tar.gz",
                log_batches=1,
                log_lines=2,
            ),
            **at(5),
        ),
        ObjectiveCollected(
            event_id=ids.objective(training),
            payload=ObjectiveCollectedData(
                training_job_name=training,
                status=TrainingJobStatus.COMPLETED,
                failure_reason=None,
                objective_value=0.2,
                objective_status=ObjectiveStatus.SUCCEEDED,
                objective_reason=None,
            ),
            **at(5),
        ),
    ]


def test_one_training_jobs_life_is_written_once_however_often_delivered(
    engine: Engine, store: S3ObjectStore, run_id: str
) -> None:
    name = f"trk-{run_id}"
    events = life_of_one_training_job(name)
    tracker = TrackerHandler(engine, store, "tunestream")
    tracker.write(events)
    tracker.write(events)  # redelivered after a crash before the offsets were committed
    tracker.write(events[3:5])

    with engine.connect() as conn:
        (row,) = conn.execute(select(training_jobs).where(training_jobs.c.tuning_job_name == name)).mappings()
        points = conn.execute(
            select(metric_points.c.step, metric_points.c.value).where(metric_points.c.training_job_name == row["name"])
        ).all()
        tags = reads.list_tags(conn, tuning_job_arn(name), offset=0, limit=50)
        tuning = reads.get_tuning_job(conn, name)
    assert row["status"] == "Completed" and row["final_objective_value"] == 0.2
    assert row["launcher_id"] == "l1" and row["started_at"] == T0 + timedelta(seconds=2)
    assert sorted(points) == [(1, 0.1), (2, 0.2)]  # once each, not three times
    assert tags == [{"Key": "team", "Value": "search"}]
    assert tuning is not None and tuning["random_seed"] == 7
    log = store.get_bytes(row["log_s3_uri"]).decode()
    assert log.count("epoch=1 score=0.1") == 1 and log.count("epoch=2 score=0.2") == 1
