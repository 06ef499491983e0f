"""The launcher's event handler: runs the attempts the scheduler assigns to this launcher.

Each launcher reads every partition of the trials and training topics (no consumer group share):
proposals carry the job specs, assignments say which attempt runs here, stops, failures and
finishes say when to end one. `incarnation` is new on every start, so assignments made to an
earlier run of this launcher are never started again: their leftovers are killed and the attempt
reported as failed, for the scheduler to retry. Heartbeats go out on every tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tunestream.attempts import Attempts
from tunestream.events import ids
from tunestream.events.early import EarlyEvents
from tunestream.events.v1 import (
    Event,
    EventBase,
    LauncherHeartbeat,
    LauncherHeartbeatData,
    TrainingJobAssigned,
    TrainingJobAssignedData,
    TrainingJobAttemptFailed,
    TrainingJobAttemptFailedData,
    TrainingJobFinished,
    TrainingJobProposed,
    TrainingJobSpec,
    TrainingJobStopRequested,
)
from tunestream.launcher.backend import Attempt, Publish
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.run import TrainingRun

log = logging.getLogger(__name__)

# Makes the run of one attempt with the backend its spec asks for.
RunFactory = Callable[[TrainingJobSpec, str, Attempt, JobLayout], TrainingRun]


@dataclass
class _KnownTrainingJob:
    tuning_job_name: str
    spec: TrainingJobSpec
    attempts: Attempts = field(default_factory=Attempts)
    finished: bool = False
    stop_reason: str | None = None


@dataclass
class LauncherHandler:
    launcher_id: str
    make_run: RunFactory
    publish: Publish
    work_dir: Path
    slots: int
    gpus: list[str]
    backends: list[str]
    heartbeat_interval_s: float = 1.0
    isolating: list[str] = field(default_factory=list)
    multi_instance: list[str] = field(default_factory=list)
    preemptible: bool = False
    incarnation: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # Ends what an earlier run of the launcher left running from a job folder (the backends').
    kill_leftover: Callable[[JobLayout], None] = field(default=lambda layout: None)
    replays_history: bool = True
    tick_s: float | None = 0.25
    known: dict[str, _KnownTrainingJob] = field(default_factory=dict)
    # The known training jobs not yet finished, in proposal order: what starting, reaping and stopping
    # look at, so that their cost follows the open jobs, not every job ever seen (10,000s in a long job).
    open_jobs: dict[str, _KnownTrainingJob] = field(default_factory=dict)
    runs: dict[str, TrainingRun] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    stopping: bool = False
    _early: EarlyEvents = field(default_factory=EarlyEvents)
    _reaped: set[tuple[str, int]] = field(default_factory=set)
    # Attempts this incarnation has started: one that ended is not started again while its
    # Finished event is still on its way back from Kafka.
    _ran: set[tuple[str, int]] = field(default_factory=set)
    _last_beat: float = 0.0

    def apply(self, event: Event) -> None:
        if isinstance(event, TrainingJobProposed):
            spec = event.payload.spec
            if spec.training_job_name not in self.known:
                self.known[spec.training_job_name] = self.open_jobs[spec.training_job_name] = _KnownTrainingJob(
                    event.tuning_job_name, spec
                )
                for early in self._early.release(spec.training_job_name):
                    self.apply(early)
            return
        if not isinstance(
            event, TrainingJobAssigned | TrainingJobAttemptFailed | TrainingJobFinished | TrainingJobStopRequested
        ):
            return
        name = event.payload.training_job_name
        job = self.known.get(name)
        if job is None:  # read before its proposal during a rebuild
            self._early.hold(name, event)
            return
        if isinstance(event, TrainingJobAssigned):
            job.attempts.assign(event.payload)
        elif isinstance(event, TrainingJobAttemptFailed):
            job.attempts.fail(event.payload.attempt, event.payload.reason)
        elif isinstance(event, TrainingJobFinished):
            job.finished = True
            self.open_jobs.pop(name, None)
        else:
            job.stop_reason = job.stop_reason or event.payload.reason

    async def react(self, event: Event) -> Sequence[EventBase]:
        # Starting and stopping runs emits nothing here: a run publishes its own events.
        if isinstance(event, TrainingJobStopRequested):
            self._stop(event.payload.training_job_name)
        elif isinstance(event, TrainingJobAssigned | TrainingJobAttemptFailed | TrainingJobFinished):
            self._revoke_unless_ours(event.payload.training_job_name)
            self._start_assigned()
        return []

    async def reconcile(self) -> Sequence[EventBase]:
        outputs: list[EventBase] = []
        now = time.monotonic()
        if now - self._last_beat >= self.heartbeat_interval_s:
            self._last_beat = now
            outputs.append(self.heartbeat())
        outputs.extend(self._reap_earlier_incarnations())
        self._start_assigned()
        for name, job in self.open_jobs.items():
            if job.stop_reason is not None and not job.finished and name in self.runs:
                self._stop(name)
        return outputs

    def heartbeat(self) -> LauncherHeartbeat:
        return LauncherHeartbeat(
            event_id=ids.heartbeat(self.launcher_id, self.incarnation, time.time_ns()),
            tuning_job_name="",
            payload=LauncherHeartbeatData(
                launcher_id=self.launcher_id,
                incarnation=self.incarnation,
                backends=self.backends,  # type: ignore[arg-type]
                slots=self.slots,
                gpus=self.gpus,
                running=sorted(self.runs),
                interval_s=self.heartbeat_interval_s,
                stopping=self.stopping,
                isolating=self.isolating,  # type: ignore[arg-type]
                multi_instance=self.multi_instance,  # type: ignore[arg-type]
                preemptible=self.preemptible,
            ),
        )

    def _attempt_for_this_incarnation(self, job: _KnownTrainingJob) -> TrainingJobAssignedData | None:
        """The attempt this incarnation should be running for the job, if any."""
        latest = job.attempts.latest()
        if (
            latest is None
            or job.finished
            or latest.launcher_id != self.launcher_id
            or latest.incarnation != self.incarnation
            or latest.attempt in job.attempts.failed
        ):
            return None
        return latest

    def _revoke_unless_ours(self, name: str) -> None:
        """End a run that is no longer this launcher's to run (declared lost, reassigned, finished elsewhere)."""
        run = self.runs.get(name)
        job = self.known.get(name)
        if run is None or job is None:
            return
        mine = self._attempt_for_this_incarnation(job)
        if mine is None or mine.attempt != run.attempt.number:
            run.revoke("the scheduler ended this attempt or the training job finished")

    def _start_assigned(self) -> None:
        if self.stopping:
            return
        # A training job of several instances holds a slot per instance.
        used = sum(run.spec.instance_count for run in self.runs.values())
        for name, job in self.open_jobs.items():
            if used >= self.slots:
                break
            assigned = self._attempt_for_this_incarnation(job)
            if assigned is None or name in self.runs or (name, assigned.attempt) in self._ran:
                continue
            if used + job.spec.instance_count > self.slots:
                continue  # placed while an ended run was still here: it starts when that one is gone
            self._start(
                name, job, Attempt(assigned.attempt, tuple(assigned.gpus), wait_deadline=assigned.wait_deadline)
            )
            used += job.spec.instance_count

    def _start(self, name: str, job: _KnownTrainingJob, attempt: Attempt) -> None:
        layout = JobLayout(self.work_dir / job.tuning_job_name / name)
        self.kill_leftover(layout)
        run = self.make_run(job.spec, job.tuning_job_name, attempt, layout)
        self._ran.add((name, attempt.number))
        if job.stop_reason is not None:
            run.request_stop(f"Stopped: {job.stop_reason}")
        self.runs[name] = run

        async def lifecycle() -> None:
            try:
                await run.run()
            finally:
                if self.runs.get(name) is run:
                    del self.runs[name]
                self._start_assigned()

        task = asyncio.create_task(lifecycle(), name=f"training-job {name} attempt {attempt.number + 1}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _stop(self, name: str) -> None:
        job = self.known.get(name)
        if job is None or job.finished:
            return
        run = self.runs.get(name)
        if run is not None:
            run.request_stop(f"Stopped: {job.stop_reason or 'stop requested'}")

    def _reap_earlier_incarnations(self) -> list[EventBase]:
        """Attempts assigned to an earlier run of this launcher: kill what is left of them, report them lost."""
        outputs: list[EventBase] = []
        for name, job in self.open_jobs.items():
            latest = job.attempts.latest()
            if (
                latest is None
                or job.finished
                or latest.launcher_id != self.launcher_id
                or latest.incarnation == self.incarnation
                or latest.attempt in job.attempts.failed
                or (name, latest.attempt) in self._reaped
            ):
                continue
            self._reaped.add((name, latest.attempt))
            self.kill_leftover(JobLayout(self.work_dir / job.tuning_job_name / name))
            outputs.append(
                TrainingJobAttemptFailed(
                    event_id=ids.attempt(name, latest.attempt, "failed"),
                    tuning_job_name=job.tuning_job_name,
                    payload=TrainingJobAttemptFailedData(
                        training_job_name=name,
                        attempt=latest.attempt,
                        launcher_id=self.launcher_id,
                        reason=(
                            f"InternalServerError: launcher {self.launcher_id} restarted while running "
                            f"attempt {latest.attempt + 1}"
                        ),
                    ),
                )
            )
        return outputs

    async def shutdown(self) -> None:
        """Service shutdown: end every run as an interrupted attempt (retried elsewhere), then say goodbye."""
        self.stopping = True
        for run in list(self.runs.values()):
            run.interrupt(f"InternalServerError: launcher {self.launcher_id} shut down")
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=30)
        await self.publish([self.heartbeat()])
