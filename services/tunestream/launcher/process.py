"""The local-process backend: the program runs on the launcher's host in its own process group.

It gets SageMaker's layout under the job's folder (paths in SM_* variables), its GPUs through
CUDA_VISIBLE_DEVICES, and dies with the launcher (PR_SET_PDEATHSIG), so a launcher killed with
SIGKILL leaves no training process behind to run alongside its retry. The death signal is set by
util-linux's `setpriv --pdeathsig KILL`, which then execs the program: without a `preexec_fn`,
Python spawns with vfork instead of copying the launcher's memory with fork, about 10 ms less per
start. Where setpriv is missing the signal is set between fork and exec instead.

When an attempt ends, its process group gets SIGKILL, so children the program forked and left
running die with it. A descendant that left the group (setsid, a daemon) is found by the marker
TRAINING_RUN_ID=<attempt uuid> that it inherited in its environment, and killed as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, LineSink, RunOptions
from tunestream.launcher.layout import JobLayout, failure_reason, training_argv, training_environment

log = logging.getLogger(__name__)

STREAM_LIMIT = 1 << 20
_PR_SET_PDEATHSIG = 1
RUN_ID_VARIABLE = "TRAINING_RUN_ID"


def processes_with_marker(marker: str) -> list[int]:
    """Pids of this user's processes whose environment holds `marker` (NAME=value)."""
    needle = marker.encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(proc.name))
    return found


# Loaded once: dlopen in every child between fork and exec cost milliseconds per training job.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
# How often wait_exit looks at the exit status: soon after the start (a short program's exit is
# noticed within milliseconds), then every WAIT_POLL_MAX_S (a long program costs ~20 wake-ups a second).
WAIT_POLL_FIRST_S = 0.002
WAIT_POLL_MAX_S = 0.05


_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
_UNSHARE = shutil.which("unshare") if sys.platform.startswith("linux") else None


@functools.cache
def can_isolate_processes() -> bool:
    """Whether util-linux's `unshare --net` can give a program a network namespace of its own (root,
    or unprivileged user namespaces with --map-root-user): EnableNetworkIsolation for processes."""
    if _UNSHARE is None:
        return False
    return bool(_isolation_prefix())


@functools.cache
def _isolation_prefix() -> tuple[str, ...]:
    assert _UNSHARE is not None
    for prefix in ((_UNSHARE, "--net", "--"), (_UNSHARE, "--net", "--map-root-user", "--")):
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


def _die_with_launcher() -> None:
    # Runs in the child between fork and exec. Linux only; elsewhere the child outlives a killed launcher.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def check_program(program: str, cwd: Path | None, path: str | None) -> None:
    """LaunchFailed unless exec would find `program`: checked here because behind setpriv a missing
    program would only show as exit code 127."""
    if "/" in program:
        candidate = Path(program) if os.path.isabs(program) or cwd is None else cwd / program
        if not candidate.is_file():
            raise LaunchFailed(f"ClientError: cannot start {program!r}: no such file")
        if not os.access(candidate, os.X_OK):
            raise LaunchFailed(f"ClientError: cannot start {program!r}: not executable")
    elif shutil.which(program, path=path) is None:
        raise LaunchFailed(f"ClientError: cannot start {program!r}: not found on PATH")


def gpu_environment(gpus: tuple[str, ...], host_has_gpus: bool) -> dict[str, str]:
    if gpus:
        return {
            "CUDA_VISIBLE_DEVICES": ",".join(gpus),
            "NVIDIA_VISIBLE_DEVICES": ",".join(gpus),
            "SM_NUM_GPUS": str(len(gpus)),
        }
    # A job given no GPU must not grab one that another job holds.
    return {"CUDA_VISIBLE_DEVICES": "", "SM_NUM_GPUS": "0"} if host_has_gpus else {"SM_NUM_GPUS": "0"}


class ProcessBackend:
    """Training programs as processes on the launcher's host."""

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> ProcessProgram:
        return ProcessProgram(spec, attempt, layout, options)

    def reap(self, launcher_id: str) -> int:
        # Programs die with the launcher that started them (PR_SET_PDEATHSIG); one that outlived it
        # is found by its job folder's pid file when that folder is used again (kill_leftover).
        return 0

    def kill_leftover(self, layout: JobLayout) -> None:
        # A process group recorded by an earlier launcher run must not keep running unsupervised
        # (one per host of a training job of several instances).
        for pid_file in layout.pid_files():
            try:
                pid = int(pid_file.read_text())
            except (OSError, ValueError):
                continue
            try:
                os.killpg(pid, signal.SIGKILL)
                log.warning("killed leftover process group %d of %s", pid, layout.root.name)
            except (ProcessLookupError, PermissionError):
                pass
            pid_file.unlink(missing_ok=True)


class ProcessProgram:
    _process: asyncio.subprocess.Process | None = None
    _run_id: str = ""

    def __init__(self, spec: TrainingJobSpec, attempt: Attempt, layout: JobLayout, options: RunOptions) -> None:
        self.spec = spec
        self.attempt = attempt
        self.layout = layout
        self._options = options

    async def launch(self) -> int:
        argv = training_argv(self.spec)
        # The hosts of a training job of several instances share this machine: they meet on loopback.
        master = ("127.0.0.1", self.attempt.master_port) if self.attempt.master_port else None
        env = training_environment(self.spec, self.layout, dict(os.environ), self._options.env_passthrough, master)
        env.update(gpu_environment(self.attempt.gpus, self._options.host_has_gpus))
        self._run_id = uuid.uuid4().hex
        env[RUN_ID_VARIABLE] = self._run_id
        check_program(argv[0], self._options.cwd, env.get("PATH"))
        if self.spec.network_isolation:
            # Only loopback, and down: the scheduler sends such jobs only to launchers that can do this.
            if not can_isolate_processes():
                raise LaunchFailed("ClientError: EnableNetworkIsolation: this launcher cannot isolate a process")
            argv = [*_isolation_prefix(), *argv]
        if _SETPRIV is not None:
            command, preexec = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv], None
        else:
            command, preexec = list(argv), _die_with_launcher
        try:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                cwd=str(self._options.cwd) if self._options.cwd else None,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, so a stop reaches its children too
                preexec_fn=preexec,
                limit=STREAM_LIMIT,
            )
        except OSError as exc:
            raise LaunchFailed(f"ClientError: cannot start {argv[0]!r}: {exc}") from exc
        self.layout.pid_file.write_text(str(self._process.pid))
        return self._process.pid

    async def pump(self, line: LineSink) -> None:
        assert self._process is not None and self._process.stdout is not None and self._process.stderr is not None
        await asyncio.gather(
            self._read(self._process.stdout, "stdout", line), self._read(self._process.stderr, "stderr", line)
        )

    async def _read(self, stream: asyncio.StreamReader, name: str, line: LineSink) -> None:
        host = self.layout.log_host
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than STREAM_LIMIT: take what is buffered
                raw = await stream.read(STREAM_LIMIT)
            if not raw:
                return
            await line(name, raw.decode(errors="replace").rstrip("\r\n"), host)

    async def wait_exit(self) -> Exit:
        # Not Process.wait(): since Python 3.12 it also waits for stdout/stderr to close, which a
        # child the program left running (holding them open) would delay forever.
        assert self._process is not None
        delay = WAIT_POLL_FIRST_S
        while self._process.returncode is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, WAIT_POLL_MAX_S)
        return Exit(self._process.returncode)

    async def signal(self, kill: bool) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL if kill else signal.SIGTERM)

    async def cleanup(self) -> None:
        # Children that ignored SIGTERM or were left running must not outlive the job.
        await self.signal(kill=True)
        if self._run_id and sys.platform.startswith("linux"):
            for pid in await asyncio.to_thread(processes_with_marker, f"{RUN_ID_VARIABLE}={self._run_id}"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.layout.pid_file.unlink(missing_ok=True)

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        return failure_reason(self.layout, exit_code, stderr_tail)
