"""What a launcher backend is: where a training program runs (a local process, a container, a Slurm
batch job) behind one interface, so that everything else about an attempt (its folder, output,
checkpoints, model upload, events) is written once, in run.py, for every backend.

A `Backend` lives as long as the launcher: it makes one `Program` per attempt, and cleans up what an
earlier run of the launcher left behind. A `Program` starts the training program, streams its output
lines, waits for its end, signals it, and releases what it held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from tunestream.events.v1 import EventBase, TrainingJobSpec
from tunestream.launcher.layout import JobLayout

Publish = Callable[[Sequence[EventBase]], Awaitable[None]]


class LineSink(Protocol):
    """Where a program's output goes, one line at a time: stream "stdout" | "stderr", the text without
    its newline, and the host that printed it when the training job has several."""

    def __call__(self, stream: str, text: str, host: str | None = None) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Attempt:
    number: int
    gpus: tuple[str, ...] = ()
    # A training job of several instances: the port its hosts meet on (MASTER_PORT), the same for all.
    master_port: int | None = None
    # A managed spot training job's creation plus its MaxWaitTimeInSeconds: it is stopped then
    # (MaxWaitTimeExceeded) if MaxRuntimeInSeconds has not stopped it before.
    wait_deadline: datetime | None = None


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


class LaunchFailed(Exception):
    """The program could not be started for a reason of the job's own (a ClientError, not retried)."""


@dataclass(frozen=True)
class Exit:
    """How a program ended, as its backend saw it."""

    code: int
    # Set when the end was the infrastructure's doing (a node that died, a preemption): the attempt
    # fails as retryable with this reason, whatever the exit code.
    interrupted: str | None = None
    # Set when the engine stopped the program on a limit of the job's (reason, secondary status).
    stopped: tuple[str, str] | None = None


class Program(Protocol):
    """One attempt's training program on one backend."""

    async def launch(self) -> int:
        """Start it; returns an id for the Started event (a pid, a Slurm job id). LaunchFailed for
        the job's own errors; any other exception is the launcher's (the attempt is retried)."""

    async def pump(self, line: LineSink) -> None:
        """Feed every output line to `line` until the program's output ends."""

    async def wait_exit(self) -> Exit:
        """Once the program has ended: how."""

    async def signal(self, kill: bool) -> None:
        """SIGTERM (kill=False) or SIGKILL to the program and everything it started."""

    async def cleanup(self) -> None:
        """Release what the program held (its process group, its container, its Slurm job); idempotent."""

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        """The FailureReason of a program that failed with `exit_code`."""


class Backend(Protocol):
    """One way of running training programs, for the whole life of a launcher."""

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> Program:
        """The program of one attempt, not started yet."""

    def reap(self, launcher_id: str) -> int:
        """At the launcher's start: end what an earlier run of it left running; how many."""

    def kill_leftover(self, layout: JobLayout) -> None:
        """Before a job folder is used again or given up: end what an earlier run left running from it."""
