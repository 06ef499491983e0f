from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tunestream.collector.handler import CollectorHandler
from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import (
    MetricReported,
    ObjectiveCollected,
    OutputLine,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobStarted,
    TrainingJobStartedData,
    TrainingOutputLogged,
    TrainingOutputLoggedData,
)
from tunestream.metric_values import Match, MetricExtractor
from tunestream.trials import ObjectiveStatus, TrainingJobStatus

DEFS = [
    MetricDefinition(Name="validation:auc", Regex=r"validation:auc=([0-9\.]+)"),
    MetricDefinition(Name="loss", Regex=r"loss: (\S+)"),
]


def test_extractor_steps_last_value_and_garbage() -> None:
    x = MetricExtractor(DEFS)
    assert x.feed("[0] validation:auc=0.9 loss: 0.5") == [Match("validation:auc", 0.9, 1), Match("loss", 0.5, 1)]
    x.feed("loss: nan")
    x.feed("loss: abc")
    x.feed("validation:auc=0.95")
    assert x.last == {"validation:auc": 0.95, "loss": 0.5}
    assert x.counts == {"validation:auc": 2, "loss": 1}


def _events(name: str, lines: list[list[str]], status: str = "Completed") -> list:
    at = datetime.now(UTC)
    events: list = [
        TrainingJobStarted(
            event_id=f"{name}:started",
            tuning_job_name="tj",
            payload=TrainingJobStartedData(
                training_job_name=name,
                launcher_id="l",
                pid=1,
                work_dir="/tmp",
                metric_definitions=DEFS,
                objective_metric_name="validation:auc",
            ),
        )
    ]
    first = 0
    for seq, batch in enumerate(lines):
        events.append(
            TrainingOutputLogged(
                event_id=f"{name}:log:{seq}",
                tuning_job_name="tj",
                payload=TrainingOutputLoggedData(
                    training_job_name=name,
                    seq=seq,
                    first_line=first,
                    lines=[OutputLine(stream="stdout", text=t, at=at) for t in batch],
                ),
            )
        )
        first += len(batch)
    events.append(
        TrainingJobFinished(
            event_id=f"{name}:finished",
            tuning_job_name="tj",
            payload=TrainingJobFinishedData(
                training_job_name=name,
                status=TrainingJobStatus(status),
                secondary_status=status,
                exit_code=0,
                failure_reason=None,
                model_artifact_s3_uri=None,
                log_batches=len(lines),
                log_lines=first,
            ),
        )
    )
    return events


def run(handler: CollectorHandler, events: list) -> list:
    out = []
    for e in events:
        handler.apply(e)
        out += asyncio.run(handler.react(e))
    return out


def test_objective_is_last_match_and_metrics_have_deterministic_ids() -> None:
    out = run(
        CollectorHandler(), _events("t1", [["validation:auc=0.8"], ["validation:auc=0.9", "validation:auc=0.85"]])
    )
    metrics = [e for e in out if isinstance(e, MetricReported)]
    assert [(m.payload.step, m.payload.value) for m in metrics] == [(1, 0.8), (2, 0.9), (3, 0.85)]
    assert metrics[1].event_id == "t1:metric:validation:auc:2"
    (objective,) = [e for e in out if isinstance(e, ObjectiveCollected)]
    assert objective.payload.objective_value == 0.85 and objective.payload.objective_status == ObjectiveStatus.SUCCEEDED


def test_completed_without_objective_is_reported_not_silent() -> None:
    out = run(CollectorHandler(), _events("t2", [["hello"]]))
    (objective,) = [e for e in out if isinstance(e, ObjectiveCollected)]
    assert objective.payload.objective_value is None
    assert objective.payload.objective_status == ObjectiveStatus.FAILED
    assert "without printing the objective metric 'validation:auc'" in (objective.payload.objective_reason or "")


def test_duplicate_batch_is_ignored() -> None:
    events = _events("t3", [["validation:auc=0.5"], ["validation:auc=0.7"]])
    events.insert(3, events[1])
    out = run(CollectorHandler(), events)
    steps = [e.payload.step for e in out if isinstance(e, MetricReported)]
    assert steps == [1, 2, 1]  # the copy re-sends batch 0's event, it does not invent step 3
    assert len({e.event_id for e in out if isinstance(e, MetricReported)}) == 2


def _attempt(events: list, attempt: int, step_offset: int) -> list:
    """The events of one attempt of a resumed training job (TrainingJobSpec.step_offset)."""
    started, *rest = events
    payload = started.payload.model_copy(update={"attempt": attempt, "step_offset": step_offset})
    out = [started.model_copy(update={"event_id": f"{started.event_id}:{attempt}", "payload": payload})]
    for e in rest:
        if isinstance(e, TrainingOutputLogged):  # the launcher numbers each attempt's batches apart
            seq = attempt * 1000 + e.payload.seq
            e = e.model_copy(
                update={"event_id": f"{e.event_id}:{attempt}", "payload": e.payload.model_copy(update={"seq": seq})}
            )
        out.append(e)
    return out


def test_a_retried_attempt_counts_its_steps_from_the_start_again() -> None:
    handler = CollectorHandler()
    lost = _attempt(_events("t4", [["validation:auc=0.5", "validation:auc=0.6"]])[:2], 0, 3)
    retry = _attempt(_events("t4", [["validation:auc=0.5", "validation:auc=0.6", "validation:auc=0.7"]]), 1, 3)
    assert [e.payload.step for e in run(handler, lost) if isinstance(e, MetricReported)] == [4, 5]
    # The retry runs the program again from the same checkpoint: its values are steps 4, 5 (the same
    # ids as before) and 6, not 6, 7 and 8.
    assert [e.payload.step for e in run(handler, retry) if isinstance(e, MetricReported)] == [4, 5, 6]


def test_a_retry_from_a_checkpoint_of_its_own_counts_on_from_its_step() -> None:
    handler = CollectorHandler()
    lost = _attempt(_events("t5", [["validation:auc=0.5", "validation:auc=0.6", "validation:auc=0.7"]])[:2], 0, 0)
    # The launcher restored the checkpoint its first attempt pushed after step 2 and says so.
    retry = _attempt(_events("t5", [["validation:auc=0.7", "validation:auc=0.8"]]), 1, 2)
    assert [e.payload.step for e in run(handler, lost) if isinstance(e, MetricReported)] == [1, 2, 3]
    assert [e.payload.step for e in run(handler, retry) if isinstance(e, MetricReported)] == [3, 4]
