"""The launcher's choices: which assigned attempts it runs, when it ends its own copy, what it
reports for an earlier incarnation's attempts. Runs are stand-ins; no process is started."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from tests.unit.scheduler.test_fleet import proposed, spec
from tunestream.events.v1 import (
    EventBase,
    TrainingJobAssigned,
    TrainingJobAssignedData,
    TrainingJobAttemptFailed,
    TrainingJobAttemptFailedData,
    TrainingJobSpec,
)
from tunestream.launcher.factory import parse_backends
from tunestream.launcher.gpus import detect_gpus
from tunestream.launcher.handler import LauncherHandler
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.process import gpu_environment
from tunestream.launcher.run import Attempt


class StandInRun:
    def __init__(self, spec: TrainingJobSpec, attempt: Attempt) -> None:
        self.spec = spec
        self.attempt = attempt
        self.revoked: str | None = None
        self.stopped: str | None = None
        self.done = asyncio.Event()

    async def run(self) -> None:
        await self.done.wait()

    def revoke(self, why: str) -> None:
        self.revoked = why
        self.done.set()

    def request_stop(self, reason: str, secondary_status: str = "Stopped") -> None:
        self.stopped = reason
        self.done.set()

    def interrupt(self, reason: str) -> None:
        self.request_stop(reason)


def handler(tmp_path: Path, slots: int = 2) -> tuple[LauncherHandler, list[StandInRun]]:
    made: list[StandInRun] = []

    def make_run(s: TrainingJobSpec, tuning_job: str, attempt: Attempt, layout: JobLayout) -> StandInRun:
        made.append(StandInRun(s, attempt))
        return made[-1]

    async def publish(events: Sequence[EventBase]) -> None:
        pass

    h = LauncherHandler(
        launcher_id="me",
        make_run=make_run,  # type: ignore[arg-type]
        publish=publish,
        work_dir=tmp_path,
        slots=slots,
        gpus=[],
        backends=["process"],
        incarnation="now",
    )
    return h, made


def assign(name: str, attempt: int, launcher: str = "me", incarnation: str = "now") -> TrainingJobAssigned:
    return TrainingJobAssigned(
        event_id=f"{name}:attempt-{attempt}:assigned",
        tuning_job_name="tj",
        payload=TrainingJobAssignedData(
            training_job_name=name, attempt=attempt, launcher_id=launcher, incarnation=incarnation
        ),
    )


async def feed(h: LauncherHandler, *events: object) -> list[EventBase]:
    out: list[EventBase] = []
    for e in events:
        h.apply(e)  # type: ignore[arg-type]
        out.extend(await h.react(e))  # type: ignore[arg-type]
    return out


async def test_runs_only_what_is_assigned_to_this_incarnation_within_its_slots(tmp_path: Path) -> None:
    h, made = handler(tmp_path, slots=2)
    await feed(h, *(proposed(spec(i)) for i in range(4)))
    await feed(h, assign("tj-000", 0), assign("tj-001", 0, launcher="other"), assign("tj-002", 0, incarnation="old"))
    assert [r.spec.training_job_name for r in made] == ["tj-000"]
    await feed(h, assign("tj-003", 0))
    assert sorted(h.runs) == ["tj-000", "tj-003"]
    await h.shutdown()


async def test_a_job_of_several_instances_holds_a_slot_per_instance(tmp_path: Path) -> None:
    h, made = handler(tmp_path, slots=3)
    two = spec(0).model_copy(update={"instance_count": 2})
    await feed(h, proposed(two), proposed(spec(1)), proposed(spec(2)))
    await feed(h, assign("tj-000", 0), assign("tj-001", 0), assign("tj-002", 0))
    # 2 + 1 slots: the third job waits, though only two runs exist.
    assert [r.spec.training_job_name for r in made] == ["tj-000", "tj-001"]
    made[0].done.set()  # the two-instance job ends: its two slots come back
    await asyncio.sleep(0.01)
    assert sorted(h.runs) == ["tj-001", "tj-002"]
    assert h.heartbeat().payload.multi_instance == []  # this stand-in launcher offers none
    await h.shutdown()


async def test_an_attempt_that_ended_is_not_started_again_before_its_finish_is_read_back(tmp_path: Path) -> None:
    h, made = handler(tmp_path, slots=1)
    await feed(h, proposed(spec(0)), assign("tj-000", 0))
    made[0].done.set()
    await asyncio.sleep(0.01)  # the run ends; its TrainingJobFinished has not come back yet
    assert h.runs == {}
    await h.reconcile()
    assert len(made) == 1


async def test_an_attempt_declared_lost_is_ended_here_without_a_report(tmp_path: Path) -> None:
    h, made = handler(tmp_path)
    await feed(h, proposed(spec(0)), assign("tj-000", 0))
    lost = TrainingJobAttemptFailed(
        event_id="tj-000:attempt-0:failed",
        tuning_job_name="tj",
        payload=TrainingJobAttemptFailedData(training_job_name="tj-000", attempt=0, launcher_id="me", reason="late"),
    )
    await feed(h, lost, assign("tj-000", 1, launcher="other"))
    assert made[0].revoked is not None
    await h.shutdown()


async def test_a_restart_reports_its_earlier_incarnations_attempts_once(tmp_path: Path) -> None:
    h, made = handler(tmp_path)
    await feed(h, proposed(spec(0)), assign("tj-000", 0, incarnation="before-restart"))
    out = [e for e in await h.reconcile() if isinstance(e, TrainingJobAttemptFailed)]
    assert [(e.payload.training_job_name, e.payload.attempt) for e in out] == [("tj-000", 0)]
    assert "restarted" in out[0].payload.reason
    assert not [e for e in await h.reconcile() if isinstance(e, TrainingJobAttemptFailed)]
    assert made == []


def test_gpu_environment() -> None:
    assert gpu_environment(("1", "3"), True)["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert gpu_environment((), True)["CUDA_VISIBLE_DEVICES"] == ""  # hidden from jobs given none
    assert "CUDA_VISIBLE_DEVICES" not in gpu_environment((), False)


def test_gpu_and_backend_settings() -> None:
    assert detect_gpus("0, 2") == ["0", "2"] and detect_gpus("none") == []
    assert parse_backends("process,container") == ["process", "container"]
    try:
        parse_backends("mesos")
    except ValueError as exc:
        assert "TUNESTREAM_LAUNCHER_BACKENDS" in str(exc)
    else:
        raise AssertionError("an unknown backend must be refused")
