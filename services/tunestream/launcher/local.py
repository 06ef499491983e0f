"""Runs one training job as a local process: layout, start, output streaming, stop, upload, report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tarfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tunestream.events.v1 import (
    EventBase,
    OutputLine,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingJobStartedData,
    TrainingOutputLogged,
    TrainingOutputLoggedData,
)
from tunestream.launcher.layout import JobLayout, failure_reason, training_argv, training_environment
from tunestream.objstore.base import ObjectStore, join_s3_uri
from tunestream.trials import TrainingJobStatus

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[EventBase]], Awaitable[None]]
STREAM_LIMIT = 1 << 20


@dataclass(frozen=True)
class RunOptions:
    launcher_id: str
    cwd: Path | None
    stop_grace_s: float
    batch_interval_s: float
    batch_lines: int


def model_artifact_uri(spec: TrainingJobSpec) -> str:
    """SageMaker's key: <S3OutputPath>/<training job>/output/model.tar.gz."""
    return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "model.tar.gz")


def _tar_model(model_dir: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)


class LocalTrainingRun:
    def __init__(
        self,
        spec: TrainingJobSpec,
        tuning_job_name: str,
        layout: JobLayout,
        store: ObjectStore,
        publish: Publish,
        options: RunOptions,
    ) -> None:
        self.spec = spec
        self.tuning_job_name = tuning_job_name
        self.layout = layout
        self._store = store
        self._publish = publish
        self._options = options
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._stop_secondary = "Stopped"
        self._pending: list[OutputLine] = []
        self._seq = 0
        self._lines_sent = 0
        self._stderr_tail: list[str] = []
        self._flush_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    def request_stop(self, reason: str, secondary_status: str = "Stopped") -> None:
        if not self._stop.is_set():
            self._stop_reason, self._stop_secondary = reason, secondary_status
            self._stop.set()

    async def run(self) -> None:
        """The whole life of the training job; every path ends with one TrainingJobFinished."""
        try:
            await self._run()
        except Exception as exc:  # the tuning job must never wait on a training job that vanished
            log.exception("training job %s failed inside the launcher", self.name)
            await self._finish(
                TrainingJobStatus.FAILED, "Failed", None, f"InternalServerError: launcher error: {exc}", None
            )

    async def _run(self) -> None:
        await asyncio.to_thread(self._prepare)
        argv = training_argv(self.spec)
        env = training_environment(self.spec, self.layout, dict(os.environ))
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(self._options.cwd) if self._options.cwd else None,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, so a stop reaches its children too
                limit=STREAM_LIMIT,
            )
        except OSError as exc:
            await self._finish(
                TrainingJobStatus.FAILED, "Failed", None, f"ClientError: cannot start {argv[0]!r}: {exc}", None
            )
            return
        self.layout.pid_file.write_text(str(process.pid))
        await self._publish([self._started(process.pid)])
        assert process.stdout is not None and process.stderr is not None
        readers = [
            asyncio.create_task(self._read(process.stdout, "stdout")),
            asyncio.create_task(self._read(process.stderr, "stderr")),
        ]
        flusher = asyncio.create_task(self._flush_periodically())
        exit_code = await self._wait(process)
        # A daemon child may keep the pipes open after the program exits; do not wait on it forever.
        _, still_reading = await asyncio.wait(readers, timeout=5)
        for task in still_reading:
            task.cancel()
        flusher.cancel()
        await self._flush()
        self.layout.pid_file.unlink(missing_ok=True)

        if self._stop.is_set():
            status, secondary, reason = TrainingJobStatus.STOPPED, self._stop_secondary, self._stop_reason
        elif exit_code == 0:
            status, secondary, reason = TrainingJobStatus.COMPLETED, "Completed", None
        else:
            status, secondary = TrainingJobStatus.FAILED, "Failed"
            reason = failure_reason(self.layout, exit_code, self._stderr_tail)
        artifact = None
        if status != TrainingJobStatus.FAILED:
            try:
                artifact = await asyncio.to_thread(self._upload_model)
            except Exception as exc:
                status, secondary, reason = (
                    TrainingJobStatus.FAILED,
                    "Failed",
                    f"InternalServerError: model upload failed: {exc}",
                )
        await self._finish(status, secondary, exit_code, reason, artifact)

    def _prepare(self) -> None:
        self.layout.create(self.spec)
        for channel in self.spec.input_channels:
            self._store.download_prefix(channel.s3_uri, self.layout.channel_dir(channel.name))

    async def _wait(self, process: asyncio.subprocess.Process) -> int:
        deadline = time.monotonic() + self.spec.max_runtime_s
        waiter = asyncio.create_task(process.wait())
        stopper = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait(
            {waiter, stopper}, timeout=max(deadline - time.monotonic(), 0), return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            if not self._stop.is_set():
                self.request_stop(
                    f"MaxRuntimeExceeded: training job ran longer than StoppingCondition.MaxRuntimeInSeconds "
                    f"({self.spec.max_runtime_s} s)",
                    "MaxRuntimeExceeded",
                )
            await self._terminate(process, waiter)
        stopper.cancel()
        return await waiter

    async def _terminate(self, process: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
        """SIGTERM to the process group, SIGKILL after the grace period."""
        self._signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout=self._options.stop_grace_s)
        except TimeoutError:
            self._signal_group(process.pid, signal.SIGKILL)
        # Children that ignored SIGTERM must not outlive the job either.
        self._signal_group(process.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than STREAM_LIMIT: take what is buffered
                raw = await stream.read(STREAM_LIMIT)
            if not raw:
                return
            text = raw.decode(errors="replace").rstrip("\r\n")
            self._pending.append(OutputLine(stream=name, text=text, at=datetime.now(UTC)))  # type: ignore[arg-type]
            if name == "stderr":
                self._stderr_tail = [*self._stderr_tail[-19:], text]
            if len(self._pending) >= self._options.batch_lines:
                await self._flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._options.batch_interval_s)
            await self._flush()

    async def _flush(self) -> None:
        # One batch in flight at a time keeps batches in seq order on the topic.
        async with self._flush_lock:
            if not self._pending:
                return
            lines, self._pending = self._pending, []
            seq, first = self._seq, self._lines_sent
            self._seq += 1
            self._lines_sent += len(lines)
            await self._publish(
                [
                    TrainingOutputLogged(
                        event_id=f"{self.name}:log:{seq}",
                        tuning_job_name=self.tuning_job_name,
                        payload=TrainingOutputLoggedData(
                            training_job_name=self.name, seq=seq, first_line=first, lines=lines
                        ),
                    )
                ]
            )

    def _upload_model(self) -> str:
        uri = model_artifact_uri(self.spec)
        target = self.layout.root / "model.tar.gz"
        _tar_model(self.layout.model_dir, target)
        self._store.put_file(uri, target, content_type="application/gzip")
        return uri

    def _started(self, pid: int) -> TrainingJobStarted:
        return TrainingJobStarted(
            event_id=f"{self.name}:started",
            tuning_job_name=self.tuning_job_name,
            payload=TrainingJobStartedData(
                training_job_name=self.name,
                launcher_id=self._options.launcher_id,
                pid=pid,
                work_dir=str(self.layout.root),
                metric_definitions=list(self.spec.metric_definitions),
                objective_metric_name=self.spec.objective_metric_name,
            ),
        )

    async def _finish(
        self, status: TrainingJobStatus, secondary: str, exit_code: int | None, reason: str | None, artifact: str | None
    ) -> None:
        await self._publish(
            [
                TrainingJobFinished(
                    event_id=f"{self.name}:finished",
                    tuning_job_name=self.tuning_job_name,
                    payload=TrainingJobFinishedData(
                        training_job_name=self.name,
                        status=status,
                        secondary_status=secondary,
                        exit_code=exit_code,
                        failure_reason=reason,
                        model_artifact_s3_uri=artifact,
                        log_batches=self._seq,
                        log_lines=self._lines_sent,
                    ),
                )
            ]
        )
