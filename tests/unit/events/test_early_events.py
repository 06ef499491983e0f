"""Events read before their subject exists are held, then applied in order, or forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from tunestream.events.early import EarlyEvents
from tunestream.events.v1 import TuningJobStopRequested, TuningJobStopRequestedData


def stop(job: str, reason: str) -> TuningJobStopRequested:
    return TuningJobStopRequested(
        event_id=f"{job}:{reason}",
        tuning_job_name=job,
        occurred_at=datetime.now(UTC),
        payload=TuningJobStopRequestedData(reason=reason),
    )


def test_hold_release_in_arrival_order() -> None:
    early = EarlyEvents()
    first, second, other = stop("a", "1"), stop("a", "2"), stop("b", "3")
    early.hold("a", first)
    early.hold("b", other)
    early.hold("a", second)
    assert early.held("a") == 2 and early.subjects() == 2
    assert early.release("a") == [first, second]
    assert early.release("a") == [] and early.held("a") == 0
    early.forget("b")
    assert early.subjects() == 0 and early.release("b") == []
