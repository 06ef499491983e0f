"""The launcher's event handler: which training jobs to start, stop, or declare lost.

State, rebuilt from the trials and training topics: every proposed training job, which of them
have started and finished, and which were asked to stop. Running processes live in `runs`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tunestream.events.v1 import (
    Event,
    EventBase,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobProposed,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingJobStopRequested,
)
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.local import LocalTrainingRun, Publish, RunOptions
from tunestream.objstore.base import ObjectStore
from tunestream.trials import TrainingJobStatus

log = logging.getLogger(__name__)


@dataclass
class _Known:
    tuning_job_name: str
    spec: TrainingJobSpec
    started_by: str | None = None
    finished: bool = False
    stop_reason: str | None = None


@dataclass
class LauncherHandler:
    store: ObjectStore
    publish: Publish
    options: RunOptions
    work_dir: Path
    slots: int
    replays_history: bool = True
    tick_s: float | None = 1.0
    known: dict[str, _Known] = field(default_factory=dict)
    runs: dict[str, LocalTrainingRun] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _early: dict[str, list[Event]] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        if isinstance(event, TrainingJobProposed):
            spec = event.payload.spec
            if spec.training_job_name not in self.known:
                self.known[spec.training_job_name] = _Known(event.tuning_job_name, spec)
                for early in self._early.pop(spec.training_job_name, []):
                    self.apply(early)
            return
        name = getattr(event.payload, "training_job_name", None)
        if name is None or not isinstance(event, TrainingJobStarted | TrainingJobFinished | TrainingJobStopRequested):
            return
        job = self.known.get(name)
        if job is None:  # read before its proposal during a rebuild
            self._early.setdefault(name, []).append(event)
            return
        if isinstance(event, TrainingJobStarted):
            job.started_by = event.payload.launcher_id
        elif isinstance(event, TrainingJobFinished):
            job.finished = True
        else:
            job.stop_reason = job.stop_reason or event.payload.reason

    async def react(self, event: Event) -> Sequence[EventBase]:
        if isinstance(event, TrainingJobStopRequested):
            return self._stop(event.payload.training_job_name)
        if isinstance(event, TrainingJobProposed | TrainingJobFinished):
            return self._start_waiting()
        return []

    async def reconcile(self) -> Sequence[EventBase]:
        outputs: list[EventBase] = []
        for name, job in self.known.items():
            if job.started_by is not None and not job.finished and name not in self.runs:
                outputs.append(self._lost(name, job))
            elif job.stop_reason is not None and not job.finished:
                outputs.extend(self._stop(name))
        outputs.extend(self._start_waiting())
        return outputs

    def _start_waiting(self) -> list[EventBase]:
        for name, job in self.known.items():
            if len(self.runs) >= self.slots:
                break
            if job.started_by is None and not job.finished and job.stop_reason is None and name not in self.runs:
                self._start(name, job)
        return []

    def _start(self, name: str, job: _Known) -> None:
        layout = JobLayout(self.work_dir / job.tuning_job_name / name)
        self._kill_leftover(layout)
        run = LocalTrainingRun(job.spec, job.tuning_job_name, layout, self.store, self.publish, self.options)
        self.runs[name] = run
        # Mark it started now so a second proposal copy or a tick cannot start it again.
        job.started_by = self.options.launcher_id

        async def lifecycle() -> None:
            try:
                await run.run()
            finally:
                self.runs.pop(name, None)
                job.finished = True
                self._start_waiting()

        task = asyncio.create_task(lifecycle(), name=f"training-job {name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _stop(self, name: str) -> list[EventBase]:
        job = self.known.get(name)
        if job is None or job.finished:
            return []
        run = self.runs.get(name)
        if run is not None:
            run.request_stop(f"Stopped: {job.stop_reason or 'stop requested'}")
            return []
        if job.started_by is None:
            job.finished = True
            return [self._finished(name, job, TrainingJobStatus.STOPPED, "Stopped", "stopped before it started")]
        return []

    def _lost(self, name: str, job: _Known) -> EventBase:
        """A training job that was running when this launcher last stopped: its process is gone or orphaned."""
        self._kill_leftover(JobLayout(self.work_dir / job.tuning_job_name / name))
        job.finished = True
        return self._finished(
            name,
            job,
            TrainingJobStatus.FAILED,
            "Failed",
            "InternalServerError: the launcher running this training job restarted; the training process was ended",
        )

    @staticmethod
    def _kill_leftover(layout: JobLayout) -> None:
        # A process group recorded by an earlier launcher run must not keep running unsupervised.
        try:
            pid = int(layout.pid_file.read_text())
        except (OSError, ValueError):
            return
        try:
            os.killpg(pid, signal.SIGKILL)
            log.warning("killed leftover process group %d of %s", pid, layout.root.name)
        except (ProcessLookupError, PermissionError):
            pass
        layout.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _finished(
        name: str, job: _Known, status: TrainingJobStatus, secondary: str, reason: str
    ) -> TrainingJobFinished:
        return TrainingJobFinished(
            event_id=f"{name}:finished",
            tuning_job_name=job.tuning_job_name,
            payload=TrainingJobFinishedData(
                training_job_name=name,
                status=status,
                secondary_status=secondary,
                exit_code=None,
                failure_reason=reason,
                model_artifact_s3_uri=None,
                log_batches=0,
                log_lines=0,
            ),
        )

    async def shutdown(self) -> None:
        """Stop every running training job (service shutdown), waiting for their final reports."""
        for run in list(self.runs.values()):
            run.request_stop("Stopped: the launcher shut down", "Stopped")
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=30)
