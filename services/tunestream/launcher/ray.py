"""The Ray backend: each attempt of a process training job is a Ray job, submitted through the Jobs API
(the REST API of the cluster's dashboard, `TUNESTREAM_RAY_ADDRESS`), so the launcher needs no Ray
installation of its own.

As with Slurm, the job's folder (the launcher's work folder) must be on a filesystem the cluster's
nodes share. Ray runs an entrypoint as shell text and expands `${VAR}` in a runtime_env's env_vars,
so neither carries a value of the job's: the entrypoint is tunestream's wrapper (RAY_WRAPPER, written
into the job's folder) with file paths, and the wrapper reads the program's argv and environment
from a JSON file there, sends its output to two files the launcher tails, and execs the program.

- Resources: `entrypoint_num_cpus` (`TUNESTREAM_RAY_CPUS_PER_JOB`) and `entrypoint_num_gpus` (the
  job's GPU count); Ray sets CUDA_VISIBLE_DEVICES for the GPUs it gives, which the wrapper keeps.
- A job that ends FAILED without an exit code of the program's (its supervisor actor died with its
  node), one stopped by someone else, or one Ray no longer knows is an interrupted attempt, retried
  per RetryStrategy; the program's own failure is a Failed training job.
- Every job's metadata names its launcher, so a restarted launcher stops what an earlier run of it
  left running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import uuid
import zlib
from pathlib import Path
from typing import Any

import httpx

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, RunOptions
from tunestream.launcher.layout import JobLayout, training_argv, training_environment
from tunestream.launcher.process import check_program
from tunestream.launcher.remote import ClusterUnreachable, RemoteProgram

log = logging.getLogger(__name__)

METADATA_KEY = "tunestream_launcher"
ACTIVE = frozenset({"PENDING", "RUNNING"})
# Run by the node's Python: argv[1:] = environment file, stdout file, stderr file, program argv...
RAY_WRAPPER = """\
# Written by tunestream's ray backend: runs the training program with the argv and environment
# of the job (from a file, as Ray would expand $VARs in a runtime_env), its output to two files.
import json, os, sys

env_file, out, err, *argv = sys.argv[1:]
with open(env_file) as f:
    spec = json.load(f)
env = spec["env"]
os.chdir(spec["cwd"])
if spec["gpus"] and "CUDA_VISIBLE_DEVICES" in os.environ:
    env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]  # the GPUs Ray gave this job
for path, fd in ((out, 1), (err, 2)):
    os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), fd)
try:
    os.execvpe(argv[0], argv, env)
except OSError as exc:
    print(f"cannot start {argv[0]!r}: {exc}", file=sys.stderr)
    sys.exit(127)
"""


def job_environment(env: dict[str, str], gpus: int, host_has_gpus: bool) -> dict[str, str]:
    """The program's environment: GPUs as Ray hands them out (the wrapper adds Ray's devices)."""
    env = dict(env)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["SM_NUM_GPUS"] = str(gpus)
    if not gpus and host_has_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""  # a job given no GPU must not use one on its node
    return env


def ended_as(job: dict[str, Any], stopped_by_us: bool) -> Exit:
    """What a finished job's status (GET /api/jobs/<id>) means for the attempt."""
    status, code = job.get("status"), job.get("driver_exit_code")
    message = str(job.get("message") or "").strip().splitlines()
    first = message[0] if message else ""
    if status == "SUCCEEDED":
        return Exit(int(code or 0))
    if status == "STOPPED":
        if stopped_by_us:
            return Exit(-15 if code is None else int(code))
        return Exit(
            -1, interrupted=f"InternalServerError: Ray job {job.get('submission_id')} was stopped outside tunestream"
        )
    if code is not None:  # the program ran and failed
        return Exit(int(code) or 1)
    # No exit code of the program's: Ray lost the job (its supervisor died with its node) or never
    # started it (a runtime environment that failed to set up).
    node_lost = "node has died" in " ".join(message) or str(job.get("error_type") or "").startswith(
        "JOB_SUPERVISOR_ACTOR_DIED"
    )
    if node_lost:
        return Exit(-1, interrupted=f"InternalServerError: Ray job {job.get('submission_id')} was lost: {first}")
    return Exit(1)


class RayCluster:
    """How a launcher reaches one Ray cluster: the Jobs API at its dashboard's address."""

    def __init__(self, address: str, cpus_per_job: float = 1.0, poll_s: float = 1.0) -> None:
        self.address = address.rstrip("/")
        self.cpus_per_job = cpus_per_job
        self.poll_s = poll_s
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def connect(cls, settings: Settings) -> RayCluster:
        cluster = cls(settings.ray_address, settings.ray_cpus_per_job, settings.ray_poll_s)
        try:
            httpx.get(f"{cluster.address}/api/version", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"the ray backend cannot reach the Ray Jobs API at TUNESTREAM_RAY_ADDRESS={settings.ray_address}: {exc}"
            ) from exc
        return cluster

    @property
    def http(self) -> httpx.AsyncClient:
        """One client for every attempt's calls, its connections kept open, for the launcher's life."""
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.address, timeout=30)
        return self._http

    def gpus(self) -> list[str]:
        """One id per GPU of the cluster's nodes: the scheduler's count of what may run at once."""
        answer = httpx.get(f"{self.address}/api/v0/nodes", timeout=30)
        answer.raise_for_status()
        nodes = answer.json()["data"]["result"]["result"]
        total = sum(float((n.get("resources_total") or {}).get("GPU", 0)) for n in nodes if n.get("state") == "ALIVE")
        return [str(i) for i in range(int(total))]

    def reap(self, launcher_id: str) -> int:
        """Stop every job an earlier run of this launcher left pending or running."""
        answer = httpx.get(f"{self.address}/api/jobs/", timeout=30)
        answer.raise_for_status()
        mine = [
            job["submission_id"]
            for job in answer.json()
            if job.get("status") in ACTIVE and (job.get("metadata") or {}).get(METADATA_KEY) == launcher_id
        ]
        for submission in mine:
            httpx.post(f"{self.address}/api/jobs/{submission}/stop", timeout=30)
        if mine:
            log.warning("stopped %d Ray jobs an earlier run of this launcher left: %s", len(mine), " ".join(mine))
        return len(mine)

    def kill_leftover(self, layout: JobLayout) -> None:
        return None  # jobs are found by their metadata, at the launcher's start (reap)

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> RayProgram:
        return RayProgram(self, spec, attempt, layout, options)


class RayProgram(RemoteProgram):
    cluster_name = "Ray's Jobs API"

    def __init__(
        self, cluster: RayCluster, spec: TrainingJobSpec, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> None:
        super().__init__(spec, attempt, layout, options, layout.root / "ray", cluster.poll_s)
        self.cluster = cluster
        self.submission_id: str | None = None
        self._stopped = False  # tunestream asked Ray to stop it
        self._ray_message = ""

    def submission(self, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
        """The body of POST /api/jobs/, after writing the wrapper and the environment file it reads."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "run.py").write_text(RAY_WRAPPER)
        env_file = self.folder / "env.json"
        cwd = str(self._options.cwd or Path.cwd())
        env_file.write_text(json.dumps({"env": env, "gpus": len(self.attempt.gpus), "cwd": cwd}))
        env_file.chmod(0o600)
        wrapper = [
            "python3",
            str(self.folder / "run.py"),
            str(env_file),
            str(self.stdout_file),
            str(self.stderr_file),
            *argv,
        ]
        self.submission_id = f"{self.name}-{self.attempt.number + 1}-{uuid.uuid4().hex[:8]}"
        return {
            # Quoted item by item: Ray runs this through a shell.
            "entrypoint": shlex.join(wrapper),
            "submission_id": self.submission_id,
            "entrypoint_num_cpus": self.cluster.cpus_per_job,
            "entrypoint_num_gpus": len(self.attempt.gpus),
            "metadata": {
                METADATA_KEY: self._options.launcher_id,
                "training_job": self.name,
                "attempt": str(self.attempt.number),
            },
        }

    async def launch(self) -> int:
        if self.spec.network_isolation:  # the scheduler sends such jobs only to launchers that isolate
            raise LaunchFailed("ClientError: EnableNetworkIsolation: the ray backend cannot isolate a program")
        argv = training_argv(self.spec)
        env = training_environment(self.spec, self.layout, dict(os.environ), self._options.env_passthrough)
        check_program(argv[0], self._options.cwd, env.get("PATH"))
        body = self.submission(argv, job_environment(env, len(self.attempt.gpus), self._options.host_has_gpus))
        answer = await self.cluster.http.post("/api/jobs/", json=body)
        if answer.status_code >= 400:
            if 400 <= answer.status_code < 500:
                raise LaunchFailed(f"ClientError: the Ray cluster refused the job: {answer.text.strip()[:500]}")
            raise RuntimeError(f"Ray job submission failed ({answer.status_code}): {answer.text.strip()[:500]}")
        log.info("training job %s attempt %d is Ray job %s", self.name, self.attempt.number + 1, self.submission_id)
        # The Started event's pid: Ray names jobs by string; a number derived from it keeps the field's type.
        return zlib.crc32(body["submission_id"].encode()) & 0x7FFFFFFF

    async def status(self) -> dict[str, Any] | None:
        """The job's status now; None if Ray does not know it. Raises if the cluster cannot be asked."""
        try:
            answer = await self.cluster.http.get(f"/api/jobs/{self.submission_id}")
            if answer.status_code == 404:
                return None
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise ClusterUnreachable(f"GET /api/jobs/{self.submission_id}: {exc}") from exc
        job: dict[str, Any] = answer.json()
        return job

    async def look(self) -> Exit | None:
        job = await self.status()
        if job is None:
            return Exit(-1, interrupted=f"InternalServerError: Ray job {self.submission_id} vanished from the cluster")
        if job.get("status") in ACTIVE:
            return None
        self._ray_message = str(job.get("message") or "").strip()
        return ended_as(job, self._stopped)

    async def signal(self, kill: bool) -> None:
        # Ray's stop is SIGTERM to the job's process group, then SIGKILL after a few seconds; a second
        # stop (kill) is harmless.
        if self.submission_id is None or self._ended.is_set():
            return
        self._stopped = True
        with contextlib.suppress(httpx.HTTPError):
            await self.cluster.http.post(f"/api/jobs/{self.submission_id}/stop")

    async def cleanup(self) -> None:
        if self.submission_id is not None and not self._ended.is_set():
            await self.signal(kill=True)

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        reason = super().failure_reason(exit_code, stderr_tail)
        if not stderr_tail and self._ray_message and not self.layout.failure_file.is_file():
            return f"{reason}: {self._ray_message[:1500]}"
        return reason
