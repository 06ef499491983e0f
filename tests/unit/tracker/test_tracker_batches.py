"""The tracker's writing without a database: one transaction per batch, a failed batch written again
event by event, PostgreSQL being away waited out, each event claimed once, and what a writer passes on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tunestream.events.v1 import (
    Event,
    TrainingJobStopRequested,
    TrainingJobStopRequestedData,
    TuningJobStopRequested,
    TuningJobStopRequestedData,
)
from tunestream.tracker import handler as tracker_module
from tunestream.tracker.handler import TrackerHandler


def stop_training(event_id: str, **numbers: Any) -> TrainingJobStopRequested:
    return TrainingJobStopRequested(
        event_id=event_id,
        tuning_job_name="tj",
        payload=TrainingJobStopRequestedData(training_job_name=f"tj-{event_id}", reason="early stop", **numbers),
    )


def stop_tuning(event_id: str) -> TuningJobStopRequested:
    return TuningJobStopRequested(
        event_id=event_id, tuning_job_name="tj", payload=TuningJobStopRequestedData(reason="user")
    )


class _Batches(TrackerHandler):
    """Records each transaction's events; fails those that hold an event named in `bad`."""

    def __init__(self, bad: set[str] = frozenset(), away: int = 0) -> None:  # type: ignore[assignment]
        super().__init__(engine=None, store=None, bucket="b")  # type: ignore[arg-type]
        self.bad, self.away = bad, away
        self.transactions: list[list[str]] = []

    def write(self, events: Sequence[Event]) -> None:
        self.transactions.append([e.event_id for e in events])
        if self.away:
            self.away -= 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database restarts"))
        if self.bad & {e.event_id for e in events}:
            raise ValueError("a row the schema refuses")


def test_a_batch_is_one_transaction() -> None:
    tracker = _Batches()
    asyncio.run(tracker.react_batch([stop_tuning("a"), stop_tuning("b"), stop_tuning("c")]))
    assert tracker.transactions == [["a", "b", "c"]]


def test_a_bad_event_fails_alone_after_the_events_before_it_are_written() -> None:
    tracker = _Batches(bad={"b"})
    with pytest.raises(ValueError):
        asyncio.run(tracker.react_batch([stop_tuning("a"), stop_tuning("b"), stop_tuning("c")]))
    assert tracker.transactions == [["a", "b", "c"], ["a"], ["b"]]


def test_postgresql_away_is_waited_out_and_the_batch_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracker_module, "RETRY_DELAYS_S", (0.0,))
    tracker = _Batches(away=2)
    asyncio.run(tracker.react_batch([stop_tuning("a"), stop_tuning("b")]))
    assert tracker.transactions == [["a", "b"]] * 3


class _Engine:
    """One connection object per transaction, and how many transactions began."""

    def __init__(self) -> None:
        self.began = 0

    @contextmanager
    def begin(self) -> Iterator[object]:
        self.began += 1
        yield object()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The writes module as a recorder; an event id is claimed once, as the processed_events table does."""
    recorded: list[tuple[str, tuple[Any, ...]]] = []
    claimed: set[str] = set()

    def claim_event(conn: object, event_id: str, at: object) -> bool:
        first = event_id not in claimed
        claimed.add(event_id)
        return first

    def recorder(name: str) -> Any:
        return lambda conn, *args, **kwargs: recorded.append((name, (*args, *kwargs.values())))

    monkeypatch.setattr(tracker_module.writes, "claim_event", claim_event)
    for name in ("record_stop_requested", "set_tuning_job_stopping"):
        monkeypatch.setattr(tracker_module.writes, name, recorder(name))
    return recorded


def test_each_event_is_written_once_however_often_it_is_delivered(calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    engine = _Engine()
    tracker = TrackerHandler(engine=engine, store=None, bucket="b")  # type: ignore[arg-type]
    event = stop_tuning("a")
    tracker.write([event, event])
    tracker.write([event])
    assert [name for name, _ in calls] == ["set_tuning_job_stopping"] and engine.began == 2


def test_a_stop_keeps_the_numbers_its_stopper_gave(calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    tracker = TrackerHandler(engine=_Engine(), store=None, bucket="b")  # type: ignore[arg-type]
    tracker.write([stop_training("a", rule="median", step=3, value=0.5, cutoff=0.6), stop_training("b")])
    (_, first), (_, second) = calls
    assert first[:3] == ("tj-a", "early stop", {"Rule": "median", "Step": 3, "Value": 0.5, "Cutoff": 0.6})
    # A stop no stopper decided (the user's, MaxRuntime) has no numbers: None, not an empty object.
    assert second[:3] == ("tj-b", "early stop", None)
