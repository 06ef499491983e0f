"""One attempt of one training job, from layout to report; the backends (process, container) fill in
how the program is started, watched, signalled and cleaned up.

Every attempt ends in exactly one of three ways:
- TrainingJobFinished: the program's own outcome (Completed, Failed with its reason, Stopped, or
  MaxRuntimeExceeded), or a ClientError such as a missing image; never retried;
- TrainingJobAttemptFailed: tunestream's fault (an error inside the launcher, the launcher shutting
  down); the scheduler retries it per RetryStrategy;
- nothing at all: the attempt was revoked because the scheduler already declared it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shutil
import tarfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tunestream.definitions import MetricDefinition
from tunestream.events import ids
from tunestream.events.v1 import (
    SEQ_PER_ATTEMPT,
    EventBase,
    OutputLine,
    TrainingJobAttemptFailed,
    TrainingJobAttemptFailedData,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingJobStartedData,
    TrainingOutputLogged,
    TrainingOutputLoggedData,
)
from tunestream.launcher.checkpoints import CheckpointSync
from tunestream.launcher.layout import JobLayout, failure_reason
from tunestream.metric_regex import MetricRegex, UnsupportedRegex, compile_metric_regex
from tunestream.metric_values import MetricExtractor
from tunestream.objstore.base import ObjectStore, join_s3_uri
from tunestream.objstore.outages import retry_delay, store_unavailable
from tunestream.trials import TrainingJobStatus

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[EventBase]], Awaitable[None]]


@dataclass(frozen=True)
class RunOptions:
    launcher_id: str
    cwd: Path | None
    stop_grace_s: float
    batch_interval_s: float
    batch_lines: int
    checkpoint_interval_s: float = 10.0
    # Whether the host has GPUs: a job given none of them must not see them either.
    host_has_gpus: bool = False
    # Output bytes forwarded per attempt; past it only lines matching MetricDefinitions go on.
    log_max_bytes: int = 8 * 1024 * 1024
    # Launcher environment variables that training programs receive besides INHERITED_ENV.
    env_passthrough: tuple[str, ...] = ()
    # Shared by the launcher's runs: how many may be between setup and their Started event at once.
    start_gate: asyncio.Semaphore | None = None
    # How long the model upload and the last checkpoint push wait out an S3 store that is away
    # before the attempt fails (and is retried per RetryStrategy, training again).
    store_patience_s: float = 300.0


# A longer line is cut to this many bytes (UTF-8) before it is forwarded (the metric regexes still
# see the line when deciding whether to keep it past the cap).
MAX_LINE_BYTES = 64 * 1024
# A batch is sent once its text reaches this many UTF-8 bytes, so one event stays well under Kafka's 1 MB.
BATCH_MAX_BYTES = 256 * 1024
# Each line counts this much on top of its own bytes against TUNESTREAM_LOG_MAX_BYTES.
LINE_ENVELOPE_BYTES = 64
# A run hands the event loop back after this many lines or characters read in a row.
YIELD_EVERY_LINES = 64
YIELD_EVERY_BYTES = 256 * 1024
# The shortest gap between two batches sent early because they hold a metric line.
METRIC_FLUSH_GAP_S = 0.02


T = TypeVar("T")


def internal_reason(what: str, exc: BaseException) -> str:
    """An attempt's failure reason for an error of the launcher's own (retryable)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"InternalServerError: {what}: the launcher's work folder is full (No space left on device)"
    return f"InternalServerError: {what}: {exc}"


@dataclass(frozen=True)
class Attempt:
    number: int
    gpus: tuple[str, ...] = ()


class LaunchFailed(Exception):
    """The program could not be started for a reason of the job's own (a ClientError, not retried)."""


def model_artifact_uri(spec: TrainingJobSpec) -> str:
    """SageMaker's key: <S3OutputPath>/<training job>/output/model.tar.gz, or with CompressionType NONE
    the prefix <...>/output/model/ under which the model's files lie as they are."""
    if spec.output_compression == "NONE":
        return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "model") + "/"
    return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "model.tar.gz")


def output_data_uri(spec: TrainingJobSpec) -> str:
    """Where /opt/ml/output/data goes: <...>/output/output.tar.gz, or with NONE the prefix <...>/output/data/."""
    if spec.output_compression == "NONE":
        return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "data") + "/"
    return join_s3_uri(spec.output_s3_path, spec.training_job_name, "output", "output.tar.gz")


def _metric_patterns(definitions: Sequence[MetricDefinition]) -> list[MetricRegex]:
    """The regexes that mark a line as a metric line (kept from batching limits), run by RE2. One RE2
    refuses (accepted before validation refused it) marks nothing, as the collector never matches it."""
    patterns = []
    for d in definitions:
        with contextlib.suppress(UnsupportedRegex):
            patterns.append(compile_metric_regex(d.Regex))
    return patterns


def _tar_model(model_dir: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)


class TrainingRun(ABC):
    def __init__(
        self,
        spec: TrainingJobSpec,
        tuning_job_name: str,
        attempt: Attempt,
        layout: JobLayout,
        store: ObjectStore,
        publish: Publish,
        options: RunOptions,
    ) -> None:
        self.spec = spec
        self.tuning_job_name = tuning_job_name
        self.attempt = attempt
        self.layout = layout
        self._store = store
        self._publish = publish
        self._options = options
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._stop_secondary = "Stopped"
        self._interrupted: str | None = None
        self._revoked = False
        self._reported = False
        self._pending: list[OutputLine] = []
        self._seq = attempt.number * SEQ_PER_ATTEMPT
        self._lines_sent = 0
        self._stderr_tail: list[str] = []
        self._pending_bytes = 0
        self._bytes_forwarded = 0
        self._lines_since_yield = 0
        self._bytes_since_yield = 0
        self._dropped_lines = 0
        self._dropped_bytes = 0
        self._metric_patterns = _metric_patterns(spec.metric_definitions)
        self._flush_lock = asyncio.Lock()
        self._last_flush = 0.0
        self._soon: asyncio.Task[None] | None = None
        self._checkpoints = (
            CheckpointSync(
                store, spec.checkpoint_s3_uri, spec.training_job_name, layout.checkpoint_dir, spec.resume_from
            )
            if spec.checkpoint_s3_uri
            else None
        )
        # Where this attempt's objective values count from: the spec's, or the step of a checkpoint of
        # its own that it restores (set in _prepare).
        self._step_offset = spec.step_offset
        # The objective's values this attempt has printed, counted as the collector counts them, so
        # each checkpoint push can record the step its files hold. Only with checkpoints.
        objective = [d for d in spec.metric_definitions if d.Name == spec.objective_metric_name]
        self._steps = MetricExtractor(objective) if self._checkpoints is not None and objective else None
        self._stepped = asyncio.Event()

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    # --- what the launcher asks of a run ---------------------------------------------------------

    def request_stop(self, reason: str, secondary_status: str = "Stopped") -> None:
        if not self._stop.is_set():
            self._stop_reason, self._stop_secondary = reason, secondary_status
            self._stop.set()

    def interrupt(self, reason: str) -> None:
        """End the program and report the attempt as failed for tunestream's reason (retryable)."""
        self._interrupted = self._interrupted or reason
        self.request_stop(reason)

    def revoke(self, why: str) -> None:
        """End the program and report nothing: the attempt is no longer this launcher's."""
        if self._reported:  # its own end, read back before the run was let go
            return
        log.warning("training job %s attempt %d revoked: %s", self.name, self.attempt.number + 1, why)
        self._revoked = True
        self.request_stop(why)

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as exc:  # the tuning job must never wait on a training job that vanished
            log.exception("training job %s failed inside the launcher", self.name)
            with contextlib.suppress(Exception):
                await self._cleanup()
            if not self._revoked:
                await self._publish([self._attempt_failed(internal_reason("launcher error", exc))])
        # Reported: the folder has served its purpose (the model and checkpoints are in S3), and a
        # launcher that kept every finished job's folder would fill its disk, as an instance that
        # SageMaker never recycled would. A revoked attempt's folder may already hold the next one.
        if not self._revoked:
            await asyncio.to_thread(shutil.rmtree, self.layout.root, True)

    # --- backends --------------------------------------------------------------------------------

    @abstractmethod
    async def _launch(self) -> int:
        """Start the program; returns its host pid. Raises LaunchFailed for the job's own errors."""

    @abstractmethod
    async def _pump_output(self) -> None:
        """Feed every output line to `_line` until the program's output ends."""

    @abstractmethod
    async def _wait_exit(self) -> int:
        """The program's exit code, once it has exited."""

    @abstractmethod
    async def _signal(self, kill: bool) -> None:
        """SIGTERM (kill=False) or SIGKILL to the program and everything it started."""

    @abstractmethod
    async def _cleanup(self) -> None:
        """Release what the program held (its process group, its container); idempotent."""

    def _failure_reason(self, exit_code: int) -> str:
        return failure_reason(self.layout, exit_code, self._stderr_tail)

    # --- the life of an attempt ------------------------------------------------------------------

    async def _run(self) -> None:
        async with self._options.start_gate or contextlib.nullcontext():
            await asyncio.to_thread(self._prepare)
            if self._stop.is_set():
                await self._end_before_start()
                return
            try:
                pid = await self._launch()
            except LaunchFailed as exc:
                await self._cleanup()
                if not self._revoked:
                    await self._finish(TrainingJobStatus.FAILED, "Failed", None, str(exc), None)
                return
            await self._publish([self._started(pid)])
        pump = asyncio.create_task(self._pump_output())
        background = [asyncio.create_task(self._flush_periodically())]
        if self._checkpoints is not None:
            background.append(asyncio.create_task(self._push_checkpoints_periodically()))
        try:
            exit_code = await self._supervise()
            # A daemon child may keep the output open after the program exits; do not wait forever.
            _, still_reading = await asyncio.wait([pump], timeout=5)
            for task in still_reading:
                task.cancel()
        finally:
            for task in background:
                task.cancel()
            await self._cleanup()
        if self._dropped_lines:
            self._note(
                f"[tunestream] {self._dropped_lines} lines ({self._dropped_bytes} bytes) of output were not "
                f"forwarded: past TUNESTREAM_LOG_MAX_BYTES={self._options.log_max_bytes} only lines matching "
                "MetricDefinitions are kept"
            )
        await self._flush()
        await self._report(exit_code)

    def _prepare(self) -> None:
        # A fresh folder per attempt, as SageMaker gives a fresh instance: only checkpoints carry over.
        if self.layout.root.exists():
            shutil.rmtree(self.layout.root)
        self.layout.create(self.spec)
        for channel in self.spec.input_channels:
            self._store.download_prefix(channel.s3_uri, self.layout.channel_dir(channel.name))
        if self._checkpoints is not None:
            restored = self._checkpoints.restore()
            if restored.step is not None:
                self._step_offset = restored.step
            if restored.files:
                log.info(
                    "training job %s: restored %d checkpoint files (objective values count from step %d)",
                    self.name,
                    restored.files,
                    self._step_offset,
                )
        if self._steps is not None:
            self._steps.step_offset = self._step_offset

    async def _supervise(self) -> int:
        deadline = time.monotonic() + self.spec.max_runtime_s
        waiter = asyncio.create_task(self._wait_exit())
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
            await self._signal(kill=False)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout=self._options.stop_grace_s)
            except TimeoutError:
                await self._signal(kill=True)
        stopper.cancel()
        return await waiter

    async def _report(self, exit_code: int) -> None:
        if self._revoked:
            return
        if self._checkpoints is not None:
            checkpoints, step = self._checkpoints, self._objective_step()
            try:
                await self._while_store_away("last checkpoint push", lambda: checkpoints.push(step))
            except Exception as exc:
                log.warning("training job %s: last checkpoint push failed: %s", self.name, exc)
        if self._interrupted is not None:
            await self._publish([self._attempt_failed(self._interrupted)])
            return
        if self._stop.is_set():
            status, secondary, reason = TrainingJobStatus.STOPPED, self._stop_secondary, self._stop_reason
        elif exit_code == 0:
            status, secondary, reason = TrainingJobStatus.COMPLETED, "Completed", None
        else:
            status, secondary = TrainingJobStatus.FAILED, "Failed"
            reason = self._failure_reason(exit_code)
        artifact = None
        if status != TrainingJobStatus.FAILED:
            try:
                artifact = await self._while_store_away("model upload", self._upload_model)
            except Exception as exc:
                await self._publish([self._attempt_failed(internal_reason("model upload failed", exc))])
                return
        await self._finish(status, secondary, exit_code, reason, artifact)

    async def _end_before_start(self) -> None:
        if self._revoked:
            return
        if self._interrupted is not None:
            await self._publish([self._attempt_failed(self._interrupted)])
        else:
            await self._finish(TrainingJobStatus.STOPPED, self._stop_secondary, None, self._stop_reason, None)

    # --- output ----------------------------------------------------------------------------------

    async def _line(self, stream: str, text: str) -> None:
        # A reader whose pipe is always full never waits, so it would hold the event loop for as long
        # as the program prints: other jobs' lines, heartbeats and stop requests would wait behind it.
        self._lines_since_yield += 1
        self._bytes_since_yield += len(text)
        if self._lines_since_yield >= YIELD_EVERY_LINES or self._bytes_since_yield >= YIELD_EVERY_BYTES:
            self._lines_since_yield = self._bytes_since_yield = 0
            await asyncio.sleep(0)
        if stream == "stderr":
            self._stderr_tail = [*self._stderr_tail[-19:], text[:1024]]
        # Bytes, not characters: the cap and Kafka's message limit are in bytes, and a line of
        # 4-byte characters is 4 times its length.
        encoded = text.encode("utf-8", "replace")
        # What a line costs downstream is its bytes and its envelope (stream, time, JSON, a row in
        # PostgreSQL): a flood of one-character lines is capped like a flood of long ones.
        size = len(encoded) + LINE_ENVELOPE_BYTES
        if self._bytes_forwarded + size > self._options.log_max_bytes and not self._is_metric_line(text):
            if not self._dropped_lines:
                self._note(
                    f"[tunestream] output truncated after {self._bytes_forwarded} bytes "
                    f"(TUNESTREAM_LOG_MAX_BYTES={self._options.log_max_bytes}); from here on only lines "
                    "matching MetricDefinitions are forwarded"
                )
            self._dropped_lines += 1
            self._dropped_bytes += size
            return
        if len(encoded) > MAX_LINE_BYTES:
            head = encoded[:MAX_LINE_BYTES].decode("utf-8", "ignore")  # never half a character
            text = f"{head} [tunestream: line of {len(encoded)} bytes cut]"
        if self._steps is not None and self._steps.feed(text):  # the text the collector will see
            self._stepped.set()
        self._bytes_forwarded += size
        self._pending.append(OutputLine(stream=stream, text=text, at=datetime.now(UTC)))  # type: ignore[arg-type]
        self._pending_bytes += min(len(encoded), MAX_LINE_BYTES + 64)  # a cut line: its head and note
        if len(self._pending) >= self._options.batch_lines or self._pending_bytes >= BATCH_MAX_BYTES:
            await self._flush()
        elif self._is_metric_line(text):
            self._flush_soon()

    def _flush_soon(self) -> None:
        """Send a metric line now rather than with the next periodic batch: an early-stopping decision
        waits on it, and every moment it waits the program trains on for nothing (epochs of 0.1 s ran
        2-5 past their rung at the 0.25 s batch interval). At most one batch per METRIC_FLUSH_GAP_S, so
        a program printing metrics at every step still sends batches, not an event per line."""
        if self._soon is not None and not self._soon.done():
            return
        delay = max(0.0, self._last_flush + METRIC_FLUSH_GAP_S - time.monotonic())
        self._soon = asyncio.create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self._flush()

    def _is_metric_line(self, text: str) -> bool:
        return any(p.search(text) for p in self._metric_patterns)

    def _note(self, text: str) -> None:
        """A line of tunestream's own in the training job's log."""
        self._pending.append(OutputLine(stream="stderr", text=text, at=datetime.now(UTC)))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._options.batch_interval_s)
            # Shielded: cancelling this task (the program ended) must not drop a batch whose send is
            # waiting for Kafka (a broker restart); the final flush and Finished wait for its lock.
            await asyncio.shield(self._flush())

    async def _push_checkpoints_periodically(self) -> None:
        assert self._checkpoints is not None
        checkpoints = self._checkpoints
        while True:
            await asyncio.sleep(self._options.checkpoint_interval_s)
            if self._steps is not None:
                # Pushed just after an objective line: a program checkpoints before printing (the
                # contract), so right after line k it is training step k + 1 and its files hold step
                # k. Taken at any other moment they could hold one more step than the lines read.
                self._stepped.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stepped.wait(), self._options.checkpoint_interval_s)
            step = self._objective_step()
            try:
                await asyncio.to_thread(checkpoints.push, step)
            except Exception as exc:  # the next push tries again; the job goes on
                log.warning("training job %s: checkpoint push failed: %s", self.name, exc)

    def _objective_step(self) -> int | None:
        """The objective's last step this attempt has read (its offset before any), None uncounted."""
        if self._steps is None:
            return None
        return self._steps.counts.get(self._steps.definitions[0].Name, self._step_offset)

    async def _flush(self) -> None:
        # One batch in flight at a time keeps batches in seq order on the topic.
        async with self._flush_lock:
            if not self._pending or self._revoked:
                return
            lines, self._pending, self._pending_bytes = self._pending, [], 0
            self._last_flush = time.monotonic()
            seq, first = self._seq, self._lines_sent
            self._seq += 1
            self._lines_sent += len(lines)
            await self._publish(
                [
                    TrainingOutputLogged(
                        event_id=ids.output_batch(self.name, seq),
                        tuning_job_name=self.tuning_job_name,
                        payload=TrainingOutputLoggedData(
                            training_job_name=self.name,
                            seq=seq,
                            attempt=self.attempt.number,
                            first_line=first,
                            lines=lines,
                        ),
                    )
                ]
            )

    async def _while_store_away(self, what: str, action: Callable[[], T]) -> T:
        """Runs `action` in a thread, waiting out an S3 store that is away for up to store_patience_s:
        a model or a checkpoint is worth more than the seconds of a store restart."""
        deadline = time.monotonic() + self._options.store_patience_s
        failures = 0
        while True:
            try:
                return await asyncio.to_thread(action)
            except Exception as exc:
                delay = retry_delay(failures)
                if not store_unavailable(exc) or time.monotonic() + delay > deadline:
                    raise
                failures += 1
                log.warning(
                    "training job %s: %s: the S3 store is away (%s); trying again in %.1fs",
                    self.name,
                    what,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    def _upload_model(self) -> str:
        """The model, and what the program left in output/data (only when it left something)."""
        uri = model_artifact_uri(self.spec)
        self._upload_folder(self.layout.model_dir, uri, always=True)
        self._upload_folder(self.layout.output_data_dir, output_data_uri(self.spec), always=False)
        return uri

    def _upload_folder(self, folder: Path, uri: str, *, always: bool) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        if not files and not always:
            return
        if uri.endswith("/"):  # CompressionType NONE: each file under the prefix
            for path in files:
                self._store.put_file(uri + path.relative_to(folder).as_posix(), path)
            return
        target = self.layout.root / uri.rsplit("/", 1)[-1]
        _tar_model(folder, target)
        self._store.put_file(uri, target, content_type="application/gzip")

    # --- events ----------------------------------------------------------------------------------

    def _started(self, pid: int) -> TrainingJobStarted:
        number = self.attempt.number
        return TrainingJobStarted(
            event_id=ids.started(self.name, number),
            tuning_job_name=self.tuning_job_name,
            payload=TrainingJobStartedData(
                training_job_name=self.name,
                launcher_id=self._options.launcher_id,
                attempt=number,
                pid=pid,
                work_dir=str(self.layout.root),
                metric_definitions=list(self.spec.metric_definitions),
                objective_metric_name=self.spec.objective_metric_name,
                step_offset=self._step_offset,
            ),
        )

    def _attempt_failed(self, reason: str) -> TrainingJobAttemptFailed:
        self._reported = True
        return TrainingJobAttemptFailed(
            event_id=ids.attempt(self.name, self.attempt.number, "failed"),
            tuning_job_name=self.tuning_job_name,
            payload=TrainingJobAttemptFailedData(
                training_job_name=self.name,
                attempt=self.attempt.number,
                launcher_id=self._options.launcher_id,
                reason=reason,
            ),
        )

    async def _finish(
        self, status: TrainingJobStatus, secondary: str, exit_code: int | None, reason: str | None, artifact: str | None
    ) -> None:
        self._reported = True
        await self._publish(
            [
                TrainingJobFinished(
                    event_id=ids.finished(self.name),
                    tuning_job_name=self.tuning_job_name,
                    payload=TrainingJobFinishedData(
                        training_job_name=self.name,
                        status=status,
                        secondary_status=secondary,
                        exit_code=exit_code,
                        failure_reason=reason,
                        model_artifact_s3_uri=artifact,
                        log_batches=self._seq - self.attempt.number * SEQ_PER_ATTEMPT,
                        log_lines=self._lines_sent,
                        attempt=self.attempt.number,
                    ),
                )
            ]
        )
