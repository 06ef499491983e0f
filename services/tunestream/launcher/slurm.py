"""The Slurm backend: each attempt of a process training job is a Slurm batch job.

The launcher submits it with `sbatch` from its own host and follows it there; the job's folder (the
launcher's work folder) must be on a filesystem the compute nodes share, as the program reads its
SageMaker layout from it and writes its output files, model and checkpoints into it.

- The program runs as `sbatch <wrapper> <argv...>`: the wrapper only execs its arguments, so no value
  of the job's passes through a shell. Its environment is the one a process job gets (sbatch
  exports its own, `--export=ALL`); GPUs are `--gres=gpu:N`, and Slurm sets CUDA_VISIBLE_DEVICES.
- While Slurm keeps the job PENDING the attempt is Starting: its Started event, and its run time
  (MaxRuntimeInSeconds, a spot job's billable time), wait until the job runs.
- MaxRuntimeInSeconds is enforced by the launcher as for a process; `--time` is only a backstop.
- Output goes to two files in the job's folder, which the launcher tails line by line.
- `--no-requeue`: Slurm does not run an attempt again on its own. A job that ends NODE_FAIL,
  BOOT_FAIL or PREEMPTED, or that someone else cancelled, is an interrupted attempt that
  RetryStrategy retries (from its checkpoint); the program's own failure is a Failed training job.
- Every job carries `--comment=tunestream:<launcher id>`, so a restarted launcher cancels what an
  earlier run of it left queued or running (their attempts are retried, as a restarted launcher's are).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, RunOptions
from tunestream.launcher.layout import JobLayout, training_argv, training_environment
from tunestream.launcher.process import check_program
from tunestream.launcher.remote import STATE_POLL_FIRST_S, ClusterUnreachable, RemoteProgram

log = logging.getLogger(__name__)

COMMENT_PREFIX = "tunestream:"
WRAPPER = '#!/bin/sh\n# tunestream: runs the training program with its arguments as given.\nexec "$@"\n'
# States in which a job has not ended yet.
ACTIVE_STATES = frozenset(
    {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "RESIZING"}
    | {"SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "REQUEUE_FED", "SPECIAL_EXIT"}
)
# States of a job that has not started running yet.
WAITING_STATES = frozenset({"PENDING", "CONFIGURING"})
# Ends that are the cluster's doing, not the program's: the attempt is retried.
LOST_STATES = frozenset({"NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE"})
# sbatch refusals that are the job's own (it asks for what this cluster cannot give): not retried.
_REFUSALS = re.compile(
    r"Requested node configuration is not available|Invalid generic resource|Invalid partition|"
    r"Invalid account|Invalid qos|More processors requested than permitted",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class JobState:
    """What `scontrol show job -o` says of a job."""

    state: str
    exit_code: int
    signal: int
    nodes: str
    reason: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def returncode(self) -> int:
        """As Python's subprocess reports it: the exit status, or minus the signal that ended it."""
        return -self.signal if self.signal else self.exit_code


def _field(text: str, name: str) -> str | None:
    # The first occurrence: the fields tunestream reads come before Command=, whose arguments are
    # the job's hyperparameter values and could hold anything, " JobState=..." included.
    found = re.search(rf"(?:^|\s){re.escape(name)}=(\S*)", text)
    return found.group(1) if found else None


def parse_job(text: str) -> JobState | None:
    """The state of the job in one line of `scontrol show job -o`; None if the line names none."""
    state = _field(text, "JobState")
    if state is None:
        return None
    exit_code, signal = 0, 0
    codes = _field(text, "ExitCode")
    if codes and re.fullmatch(r"\d+:\d+", codes):
        exit_code, signal = (int(part) for part in codes.split(":"))
    return JobState(
        state=state.upper(),
        exit_code=exit_code,
        signal=signal,
        nodes=_field(text, "NodeList") or "",
        reason=_field(text, "Reason") or "",
    )


def time_limit_minutes(max_runtime_s: int, stop_grace_s: float) -> int:
    """`--time` for an attempt: past MaxRuntime and the stop grace, so the launcher's own stop
    (MaxRuntimeExceeded) always comes first, and Slurm's only if the launcher is gone."""
    return math.ceil((max_runtime_s + stop_grace_s) / 60) + 1


def parse_gres_gpus(gres: str) -> int:
    """GPUs in a node's Gres (`gpu:2`, `gpu:a100:4(S:0-1)`, `gpu:2,shard:8`)."""
    total = 0
    for item in gres.split(","):
        parts = re.sub(r"\(.*?\)", "", item).split(":")
        if parts[0] == "gpu" and parts[-1].isdigit() and len(parts) > 1:
            total += int(parts[-1])
    return total


def submission_environment(env: dict[str, str], gpus: int, host_has_gpus: bool) -> dict[str, str]:
    """The environment sbatch runs with, and exports to the job: the job's, without SBATCH_* input
    variables (sbatch would read them as options), and GPUs as Slurm hands them out."""
    env = {k: v for k, v in env.items() if not k.startswith("SBATCH_")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["SM_NUM_GPUS"] = str(gpus)
    if not gpus and host_has_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""  # a job given no GPU must not use one on its node
    return env


class SlurmCluster:
    """How a launcher reaches one Slurm cluster: its commands, conf, partition and sbatch options."""

    def __init__(
        self,
        conf: Path | None,
        partition: str | None,
        cpus_per_task: int = 1,
        sbatch_args: tuple[str, ...] = (),
        poll_s: float = 1.0,
    ) -> None:
        self.conf = conf
        self.partition = partition
        self.cpus_per_task = cpus_per_task
        self.sbatch_args = sbatch_args
        self.poll_s = poll_s
        self.commands = {
            name: shutil.which(name) or name for name in ("sbatch", "scontrol", "scancel", "squeue", "sinfo")
        }

    @classmethod
    def connect(cls, settings: Settings) -> SlurmCluster:
        cluster = cls(
            settings.slurm_conf,
            settings.slurm_partition,
            settings.slurm_cpus_per_task,
            tuple(shlex.split(settings.slurm_sbatch_args)),
            settings.slurm_poll_s,
        )
        missing = [name for name, path in cluster.commands.items() if not os.path.isabs(path)]
        if missing:
            raise RuntimeError(f"the slurm backend needs Slurm's commands on PATH; missing: {', '.join(missing)}")
        done = cluster.run_sync("scontrol", "ping")
        if done.returncode != 0 or "UP" not in done.stdout:
            where = f"SLURM_CONF={settings.slurm_conf}" if settings.slurm_conf else "Slurm's default configuration"
            raise RuntimeError(
                f"the slurm backend cannot reach slurmctld ({where}): {(done.stdout + done.stderr).strip()}"
            )
        return cluster

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "SLURM_CONF": str(self.conf)} if self.conf else base

    def run_sync(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.commands[command], *args],
            env=self.environment(dict(os.environ)),
            capture_output=True,
            text=True,
            timeout=60,
        )

    async def run_async(self, command: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            self.commands[command],
            *args,
            env=self.environment(env if env is not None else dict(os.environ)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def gpus(self) -> list[str]:
        """One id per GPU of the partition's nodes: the scheduler's count of what may run at once."""
        args = ["-h", "-N", "-o", "%N %G"] + (["-p", self.partition] if self.partition else [])
        done = self.run_sync("sinfo", *args)
        if done.returncode != 0:
            raise RuntimeError(f"sinfo failed: {done.stderr.strip()}")
        per_node = {}
        for line in done.stdout.splitlines():
            name, _, gres = line.strip().partition(" ")
            if name:
                per_node[name] = parse_gres_gpus(gres.strip())
        return [str(i) for i in range(sum(per_node.values()))]

    def reap(self, launcher_id: str) -> int:
        """Cancel every job an earlier run of this launcher left queued or running."""
        done = self.run_sync("squeue", "-h", "-o", "%i %k")
        if done.returncode != 0:
            raise RuntimeError(f"squeue failed: {done.stderr.strip()}")
        mine = [
            job_id
            for job_id, _, comment in (line.strip().partition(" ") for line in done.stdout.splitlines())
            if job_id and comment.strip() == f"{COMMENT_PREFIX}{launcher_id}"
        ]
        if mine:
            self.run_sync("scancel", *mine)
            log.warning("cancelled %d Slurm jobs an earlier run of this launcher left: %s", len(mine), " ".join(mine))
        return len(mine)

    def kill_leftover(self, layout: JobLayout) -> None:
        return None  # jobs are found by their comment, at the launcher's start (reap)

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> SlurmProgram:
        return SlurmProgram(self, spec, attempt, layout, options)


class SlurmProgram(RemoteProgram):
    cluster_name = "Slurm's controller"

    def __init__(
        self, cluster: SlurmCluster, spec: TrainingJobSpec, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> None:
        super().__init__(spec, attempt, layout, options, layout.root / "slurm", cluster.poll_s)
        self.cluster = cluster
        self.job_id: str | None = None
        self._cancelled = False  # tunestream asked Slurm to end it
        self._oom_on = ""  # the node where Slurm found it out of memory

    def sbatch_args(self, wrapper: Path, argv: list[str]) -> list[str]:
        cluster, spec = self.cluster, self.spec
        args = [
            "--parsable",
            f"--job-name={spec.training_job_name}",
            f"--comment={COMMENT_PREFIX}{self._options.launcher_id}",
            "--no-requeue",
            "--export=ALL",
            "--nodes=1",
            "--ntasks=1",
            f"--cpus-per-task={cluster.cpus_per_task}",
            f"--time={time_limit_minutes(spec.max_runtime_s, self._options.stop_grace_s)}",
            f"--chdir={self._options.cwd or Path.cwd()}",
            f"--output={self.stdout_file}",
            f"--error={self.stderr_file}",
            "--input=/dev/null",
        ]
        if cluster.partition:
            args.append(f"--partition={cluster.partition}")
        if self.attempt.gpus:
            args.append(f"--gres=gpu:{len(self.attempt.gpus)}")
        return [*args, *cluster.sbatch_args, str(wrapper), *argv]

    async def launch(self) -> int:
        if self.spec.network_isolation:  # the scheduler sends such jobs only to launchers that isolate
            raise LaunchFailed("ClientError: EnableNetworkIsolation: the slurm backend cannot isolate a program")
        argv = training_argv(self.spec)
        env = training_environment(self.spec, self.layout, dict(os.environ), self._options.env_passthrough)
        check_program(argv[0], self._options.cwd, env.get("PATH"))
        env = submission_environment(env, len(self.attempt.gpus), self._options.host_has_gpus)
        wrapper = self.folder / "run.sh"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(WRAPPER)
        wrapper.chmod(0o755)
        code, out, err = await self.cluster.run_async("sbatch", *self.sbatch_args(wrapper, argv), env=env)
        if code != 0:
            message = (err or out).strip()
            if _REFUSALS.search(message):
                raise LaunchFailed(f"ResourceLimitExceeded: Slurm refused the job: {message}")
            raise RuntimeError(f"sbatch failed ({code}): {message}")
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise RuntimeError(f"sbatch answered {out.strip()!r}, not a job id")
        self.job_id = job_id
        log.info("training job %s attempt %d is Slurm job %s", self.name, self.attempt.number + 1, job_id)
        return int(job_id)

    async def state(self) -> JobState | None:
        """The job's state now; None if Slurm no longer knows it. Raises if the controller cannot be asked."""
        assert self.job_id is not None
        code, out, err = await self.cluster.run_async("scontrol", "show", "job", "-o", self.job_id)
        if code != 0:
            if "Invalid job id" in err:
                return None
            raise ClusterUnreachable(f"scontrol show job {self.job_id}: {(err or out).strip()}")
        return parse_job(out)

    async def running(self) -> None:
        """Returns once Slurm runs the job, has ended it, or cannot be asked (which `look` then judges):
        while it is PENDING it waits for nodes, as a spot instance waits for capacity."""
        delay = STATE_POLL_FIRST_S
        while True:
            try:
                job = await self.state()
            except ClusterUnreachable:
                return
            if job is None or job.state not in WAITING_STATES:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.cluster.poll_s)

    async def look(self) -> Exit | None:
        job = await self.state()
        if job is None:
            return Exit(-1, interrupted=f"InternalServerError: Slurm job {self.job_id} vanished from the cluster")
        return None if job.active else self._ended_as(job)

    def _ended_as(self, job: JobState) -> Exit:
        where = f" on {job.nodes}" if job.nodes else ""
        if job.state in LOST_STATES:
            return Exit(-1, interrupted=f"InternalServerError: Slurm job {self.job_id} ended {job.state}{where}")
        if job.state == "CANCELLED" and not self._cancelled:
            return Exit(
                -1, interrupted=f"InternalServerError: Slurm job {self.job_id} was cancelled outside tunestream{where}"
            )
        if job.state == "OUT_OF_MEMORY":
            self._oom_on = job.nodes or "its node"
        code = job.returncode
        # A program that failed with exit status 0 as Slurm reports it (a step's failure): still a failure.
        code = code if code or job.state in ("COMPLETED", "CANCELLED") else 1
        if job.state == "TIMEOUT":
            return Exit(
                code,
                stopped=(
                    f"MaxRuntimeExceeded: Slurm ended the job at its time limit (--time, from "
                    f"StoppingCondition.MaxRuntimeInSeconds = {self.spec.max_runtime_s} s)",
                    "MaxRuntimeExceeded",
                ),
            )
        return Exit(code)

    async def signal(self, kill: bool) -> None:
        if self.job_id is None or self._ended.is_set():
            return
        self._cancelled = True
        code, _, err = await self.cluster.run_async(
            "scancel", "--full", f"--signal={'KILL' if kill else 'TERM'}", self.job_id
        )
        if code != 0:
            # A job still queued cannot be signalled, only cancelled.
            code, _, err = await self.cluster.run_async("scancel", self.job_id)
            if code != 0:
                log.warning("training job %s: scancel %s: %s", self.name, self.job_id, err.strip())

    async def cleanup(self) -> None:
        if self.job_id is None or self._ended.is_set():
            return
        self._cancelled = True
        with contextlib.suppress(Exception):
            await self.cluster.run_async("scancel", self.job_id)

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        if self._oom_on:
            return f"AlgorithmError: Slurm job {self.job_id} ran out of memory on {self._oom_on} and was killed"
        return super().failure_reason(exit_code, stderr_tail)
