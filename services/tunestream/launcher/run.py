"""One attempt of one training job, from layout to report, the same for every backend (process,
container, slurm: backend.py); the backend's Program starts, watches, signals and cleans up the
training program, OutputForwarder carries its output, AttemptCheckpoints its checkpoints.

Every attempt ends in exactly one of three ways:
- TrainingJobFinished: the program's own outcome (Completed, Failed with its reason, Stopped, or
  MaxRuntimeExceeded), or a ClientError such as a missing image; never retried;
- TrainingJobAttemptFailed: tunestream's fault (an error inside the launcher, the launcher shutting
  down, a machine of the cluster lost); the scheduler retries it per RetryStrategy;
- nothing at all: the attempt was revoked because the scheduler already declared it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from minio.error import S3Error

from tunestream.events import ids
from tunestream.events.v1 import (
    InputChannel,
    TrainingJobAttemptFailed,
    TrainingJobAttemptFailedData,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingJobStartedData,
)
from tunestream.launcher.artifacts import upload_model
from tunestream.launcher.backend import Attempt, Backend, Exit, LaunchFailed, Program, Publish, RunOptions
from tunestream.launcher.checkpoints import AttemptCheckpoints, CheckpointSync
from tunestream.launcher.hosts import RENDEZVOUS_PORTS, HostGroup
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.manifest import ManifestError, manifest_entries
from tunestream.launcher.output import OutputForwarder
from tunestream.objstore.base import ObjectStore
from tunestream.objstore.outages import retry_delay, store_unavailable
from tunestream.trials import TrainingJobStatus

log = logging.getLogger(__name__)

T = TypeVar("T")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def internal_reason(what: str, exc: BaseException) -> str:
    """An attempt's failure reason for an error of the launcher's own (retryable)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"InternalServerError: {what}: the launcher's work folder is full (No space left on device)"
    return f"InternalServerError: {what}: {exc}"


class TrainingRun:
    def __init__(
        self,
        spec: TrainingJobSpec,
        tuning_job_name: str,
        attempt: Attempt,
        layout: JobLayout,
        store: ObjectStore,
        publish: Publish,
        options: RunOptions,
        backend: Backend,
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
        self.hosts = layout.host_layouts(
            spec.instance_count, [(g.name, g.instance_type, g.count) for g in spec.instance_groups]
        )
        self._master_port: int | None = None  # held from RENDEZVOUS_PORTS until the run ends
        self.program = self._program(backend)
        self.checkpoints = (
            AttemptCheckpoints(
                CheckpointSync(
                    store,
                    spec.checkpoint_s3_uri,
                    spec.training_job_name,
                    self.hosts[0].checkpoint_dir,
                    spec.resume_from,
                ),
                spec.training_job_name,
                [d for d in spec.metric_definitions if d.Name == spec.objective_metric_name],
                spec.step_offset,
                options.checkpoint_interval_s,
            )
            if spec.checkpoint_s3_uri
            else None
        )
        self.output = OutputForwarder(
            spec.training_job_name,
            tuning_job_name,
            attempt.number,
            spec.metric_definitions,
            publish,
            batch_lines=options.batch_lines,
            batch_interval_s=options.batch_interval_s,
            log_max_bytes=options.log_max_bytes,
            observe=self.checkpoints.observe if self.checkpoints is not None else None,
        )

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    def _program(self, backend: Backend) -> Program:
        if len(self.hosts) == 1:
            return backend.program(self.spec, self.tuning_job_name, self.attempt, self.layout, self._options)
        # The scheduler gave the job every host's GPUs together: each host's share in turn.
        counts, port = self.spec.host_gpu_counts(), RENDEZVOUS_PORTS.take()
        self._master_port = port
        starts = [sum(counts[:k]) for k in range(len(counts))]
        return HostGroup(
            [
                (
                    host.host,
                    backend.program(
                        self.spec,
                        self.tuning_job_name,
                        Attempt(self.attempt.number, self.attempt.gpus[starts[k] : starts[k] + counts[k]], port),
                        host,
                        self._options,
                    ),
                )
                for k, host in enumerate(self.hosts)
            ],
            self._options.stop_grace_s,
        )

    @property
    def step_offset(self) -> int:
        """Where this attempt's objective values count from: the spec's, or the step of a checkpoint
        of its own that it restored."""
        return self.checkpoints.step_offset if self.checkpoints is not None else self.spec.step_offset

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
        self.output.closed = True
        self.request_stop(why)

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as exc:  # the tuning job must never wait on a training job that vanished
            log.exception("training job %s failed inside the launcher", self.name)
            with contextlib.suppress(Exception):
                await self.program.cleanup()
            if not self._revoked:
                await self._publish([self._attempt_failed(internal_reason("launcher error", exc))])
        finally:
            if self._master_port is not None:
                RENDEZVOUS_PORTS.give_back(self._master_port)
        # Reported: the folder has served its purpose (the model and checkpoints are in S3), and a
        # launcher that kept every finished job's folder would fill its disk, as an instance that
        # SageMaker never recycled would. A revoked attempt's folder may already hold the next one.
        if not self._revoked:
            await asyncio.to_thread(shutil.rmtree, self.layout.root, True)

    # --- the life of an attempt ------------------------------------------------------------------

    async def _run(self) -> None:
        async with self._options.start_gate or contextlib.nullcontext():
            try:
                await asyncio.to_thread(self._prepare)
            except LaunchFailed as exc:  # the job's own data (a bad manifest): Failed, not retried
                if not self._revoked:
                    await self._finish(TrainingJobStatus.FAILED, "Failed", None, str(exc), None)
                return
            if self._stop.is_set():
                await self._end_before_start()
                return
            try:
                pid = await self.program.launch()
            except LaunchFailed as exc:
                await self.program.cleanup()
                if not self._revoked:
                    await self._finish(TrainingJobStatus.FAILED, "Failed", None, str(exc), None)
                return
        # Outside the start gate: a cluster's job may wait long for its nodes.
        await self._until_running()
        await self._publish([self._started(pid)])
        pump = asyncio.create_task(self.program.pump(self.output.line))
        background = [asyncio.create_task(self.output.periodically())]
        if self.checkpoints is not None:
            background.append(asyncio.create_task(self.checkpoints.periodically()))
        try:
            exit_code = await self._supervise()
            # A daemon child may keep the output open after the program exits; do not wait forever.
            _, still_reading = await asyncio.wait([pump], timeout=5)
            for task in still_reading:
                task.cancel()
        finally:
            for task in background:
                task.cancel()
            await self.program.cleanup()
        self.output.note_dropped()
        await self.output.flush()
        await self._report(exit_code)

    def _prepare(self) -> None:
        # A fresh folder per attempt, as SageMaker gives a fresh instance: only checkpoints carry over.
        if self.layout.root.exists():
            shutil.rmtree(self.layout.root)
        for host in self.hosts:
            host.create(self.spec)
        for channel in self.spec.input_channels:
            self._download(channel)
        if self.spec.script is not None:
            self._unpack_code(self.spec.script.submit_directory)
        if self.checkpoints is not None:
            restored = self.checkpoints.restore()
            for host in self.hosts[1:]:  # every host starts from the checkpoint; algo-1's is synced
                shutil.copytree(self.hosts[0].checkpoint_dir, host.checkpoint_dir, dirs_exist_ok=True)
            if restored.files:
                log.info(
                    "training job %s: restored %d checkpoint files (objective values count from step %d)",
                    self.name,
                    restored.files,
                    self.step_offset,
                )

    def _download(self, channel: InputChannel) -> None:
        """The channel's objects into every host's input: all of them (FullyReplicated), downloaded
        once and linked into the other hosts' folders, or each host its share (ShardedByS3Key)."""
        # InstanceGroupNames: only the hosts of those groups get the channel (the others an empty folder).
        hosts = [h for h in self.hosts if channel.instance_groups is None or h.group in channel.instance_groups]
        count = len(hosts)
        if channel.data_type == "ManifestFile":
            self._download_manifest(channel, hosts)
            return
        if count > 1 and channel.distribution == "ShardedByS3Key":
            for k, host in enumerate(hosts):
                self._store.download_prefix(channel.s3_uri, host.channel_dir(channel.name), shard=(k, count))
            return
        if not hosts:
            return
        first = hosts[0].channel_dir(channel.name)
        self._store.download_prefix(channel.s3_uri, first)
        for host in hosts[1:]:
            shutil.copytree(first, host.channel_dir(channel.name), copy_function=_link_or_copy, dirs_exist_ok=True)

    def _unpack_code(self, uri: str) -> None:
        """A framework script's sourcedir.tar.gz into the job's code folder, as the toolkit unpacks it
        into /opt/ml/code; only regular files and folders inside it (tarfile's "data" filter)."""
        if not uri.startswith("s3://"):
            raise LaunchFailed(f"ClientError: sagemaker_submit_directory {uri!r} is no s3:// URI")
        try:
            data = self._store.get_bytes(uri)
        except S3Error as exc:
            raise LaunchFailed(f"ClientError: the source directory {uri} cannot be read: {exc.code}") from exc
        target = self.layout.code_dir
        target.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise LaunchFailed(f"ClientError: the source directory {uri} is no usable tar archive: {exc}") from exc

    def _download_manifest(self, channel: InputChannel, hosts: list[JobLayout]) -> None:
        try:
            entries = manifest_entries(channel.s3_uri, self._store.get_bytes(channel.s3_uri))
        except S3Error as exc:
            raise ManifestError(f"ClientError: the manifest {channel.s3_uri} cannot be read: {exc.code}") from exc
        sharded = len(hosts) > 1 and channel.distribution == "ShardedByS3Key"
        for k, host in enumerate(hosts):
            for uri, relative in entries[k :: len(hosts)] if sharded else entries:
                try:
                    self._store.download_object(uri, host.channel_dir(channel.name) / relative)
                except S3Error as exc:
                    raise ManifestError(
                        f"ClientError: {uri}, listed in the manifest {channel.s3_uri}, cannot be read: {exc.code}"
                    ) from exc

    async def _supervise(self) -> int:
        runtime_s, limit = self._time_limit()
        deadline = time.monotonic() + runtime_s
        waiter = asyncio.create_task(self._wait_exit())
        stopper = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait(
            {waiter, stopper}, timeout=max(deadline - time.monotonic(), 0), return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            if not self._stop.is_set():
                self.request_stop(*limit)
            await self.program.signal(kill=False)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout=self._options.stop_grace_s)
            except TimeoutError:
                await self.program.signal(kill=True)
        stopper.cancel()
        return await waiter

    async def _until_running(self) -> None:
        """Until a program queued on a cluster runs: the attempt is Starting meanwhile, and its run
        time (MaxRuntimeInSeconds, a spot job's billable time) has not begun. A stop, or a spot job's
        MaxWaitTimeInSeconds running out, ends the wait; supervision then ends the program."""
        running = getattr(self.program, "running", None)
        if running is None:  # backends whose programs run as soon as they are launched
            return
        waiter = asyncio.create_task(running())
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({waiter, stopper}, timeout=self._wait_left_s(), return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    def _wait_left_s(self) -> float | None:
        """What is left of a spot job's MaxWaitTimeInSeconds; None without one."""
        if self.attempt.wait_deadline is None:
            return None
        return max((self.attempt.wait_deadline - datetime.now(UTC)).total_seconds(), 0.0)

    def _time_limit(self) -> tuple[float, tuple[str, str]]:
        """Seconds this attempt may run, and the stop (reason, secondary status) when it has: its
        MaxRuntimeInSeconds, or what is left of a spot job's MaxWaitTimeInSeconds when that is less."""
        runtime_s = float(self.spec.max_runtime_s)
        limit = (
            f"MaxRuntimeExceeded: training job ran longer than StoppingCondition.MaxRuntimeInSeconds "
            f"({self.spec.max_runtime_s} s)",
            "MaxRuntimeExceeded",
        )
        left_s = self._wait_left_s()
        if left_s is None or left_s >= runtime_s:
            return runtime_s, limit
        return left_s, (
            f"MaxWaitTimeExceeded: managed spot training job did not complete within "
            f"StoppingCondition.MaxWaitTimeInSeconds ({self.spec.max_wait_s} s) of its creation",
            "MaxWaitTimeExceeded",
        )

    async def _wait_exit(self) -> int:
        ended: Exit = await self.program.wait_exit()
        if ended.interrupted is not None:
            self.interrupt(ended.interrupted)
        elif ended.stopped is not None:
            self.request_stop(*ended.stopped)
        return ended.code

    async def _report(self, exit_code: int) -> None:
        if self._revoked:
            return
        if self.checkpoints is not None:
            checkpoints, ended_by_itself = self.checkpoints, not self._stop.is_set()
            try:
                await self._while_store_away("last checkpoint push", lambda: checkpoints.push_last(ended_by_itself))
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
            reason = self.program.failure_reason(exit_code, self.output.stderr_tail)
        artifact = None
        if status != TrainingJobStatus.FAILED:
            try:
                artifact = await self._while_store_away(
                    "model upload", lambda: upload_model(self._store, self.spec, self.layout)
                )
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
                step_offset=self.step_offset,
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
                        log_batches=self.output.batches,
                        log_lines=self.output.lines_sent,
                        attempt=self.attempt.number,
                    ),
                )
            ]
        )
