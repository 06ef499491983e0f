"""The attempt ledger the scheduler and the launchers keep from the same events."""

from __future__ import annotations

from tunestream.attempts import Attempts
from tunestream.events.v1 import TrainingJobAssignedData


def assigned(attempt: int, launcher: str = "l1") -> TrainingJobAssignedData:
    return TrainingJobAssignedData(training_job_name="t", attempt=attempt, launcher_id=launcher, incarnation="i")


def test_ledger_in_any_arrival_order() -> None:
    a = Attempts()
    assert a.latest() is None and a.current() is None and a.next_number() == 0
    a.assign(assigned(0))
    assert a.current() == assigned(0) and a.next_number() == 1
    assert a.fail(0, "launcher lost") and not a.fail(0, "again")
    assert a.current() is None and a.latest() == assigned(0) and a.failed == {0: "launcher lost"}
    a.assign(assigned(0, "other"))  # a repeat never replaces the first
    assert a.assigned[0].launcher_id == "l1"
    # A failure read before its assignment (a rebuild reads topics independently) still counts.
    a.fail(1, "crashed")
    a.assign(assigned(1, "l2"))
    assert a.current() is None and a.next_number() == 2
