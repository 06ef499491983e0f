"""What the chaos tests share: a private Kafka or PostgreSQL to restart, the five services, a seeded
Random tuning job of fast training jobs, and the checks that nothing was lost or run twice.

Sizes come from the environment, so CI runs a short form and docs/architecture.md's figures come from the full one:

TUNESTREAM_CHAOS_JOBS   training jobs per tuning job (default 40; the full form is 200)
TUNESTREAM_CHAOS_KILLS  kill -9s in the service test (default max(5, jobs // 16): 12 for 200 jobs)
TUNESTREAM_CHAOS_SEED   seeds the tuning jobs' RandomSeed and the moments and order of the kills
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from tests.integration.conftest import ARTIFACTS, ROOT, SERVICES, Services, _free_port
from tests.support.jobs import continuous, tuning_job
from tunestream.client import ApiClientError, TunestreamClient
from tunestream.db.engine import make_engine
from tunestream.db.tables import training_jobs
from tunestream.events.topics import Topics
from tunestream.replay.source import JobHistory, read_history
from tunestream.trials import TERMINAL_STATUSES

JOBS = int(os.environ.get("TUNESTREAM_CHAOS_JOBS", "40"))
KILLS = int(os.environ.get("TUNESTREAM_CHAOS_KILLS", str(max(5, JOBS // 16))))
SEED = int(os.environ.get("TUNESTREAM_CHAOS_SEED", "6"))
PARALLEL = 4
PROGRAM = str(Path(__file__).parent / "programs" / "noop.py")
FIGURES = ARTIFACTS / "chaos.json"


def chaos_job(name: str, record_dir: Path, jobs: int = JOBS) -> dict[str, Any]:
    return tuning_job(
        name,
        # -S: no site import, the program starts in a few milliseconds.
        command=[sys.executable, "-S", PROGRAM],
        seed=SEED,
        jobs=jobs,
        parallel=PARALLEL,
        ranges={
            "ContinuousParameterRanges": [continuous("x")],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "12"}],
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
        },
        static={"sleep": "0.3"},
        output="s3://tunestream/chaos/output",
        max_runtime_s=120,
        # A launcher's kill -9 loses the attempts it ran; they are retried, as SageMaker retries
        # InternalServerErrors under a RetryStrategy.
        retries=10,
        environment={"CHAOS_RECORD_DIR": str(record_dir)},
    )


# --- private servers -------------------------------------------------------------------------------


@dataclass
class PrivateServer:
    """A Kafka broker or PostgreSQL of this test's own (deploy/kafka.sh or deploy/postgres.sh with a
    state dir and ports of its own), so restarting it disturbs nobody else's tests."""

    kind: str  # "kafka" | "kafka-cluster" (3 brokers) | "postgres" | "s3"
    stack_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def _script(self, *args: str) -> None:
        script = "kafka" if self.kind == "kafka-cluster" else self.kind
        subprocess.run(["bash", str(ROOT / "deploy" / f"{script}.sh"), *args], env=self.env, check=True)

    def kill_node(self, node: int) -> None:
        """kill -9 one broker of a cluster."""
        self._script("kill", str(node))

    def start_node(self, node: int) -> None:
        """Start that broker again; returns once it serves."""
        self._script("start", str(node))

    def up(self) -> None:
        self._script("up")

    def down(self) -> None:
        self._script("down")

    @property
    def address(self) -> str:
        name = "kafka" if self.kind == "kafka-cluster" else self.kind
        return (self.stack_dir / "pids" / f"{name}.addr").read_text().strip()


@contextmanager
def private_server(kind: str) -> Iterator[PrivateServer]:
    # Under /tmp, not pytest's root-only tmp: as root, PostgreSQL runs as the postgres user.
    stack_dir = Path(tempfile.mkdtemp(prefix=f"tschaos-{kind}-"))
    stack_dir.chmod(0o755)
    # The Kafka jars are in the shared stack's cache; nothing is downloaded again.
    (stack_dir / "cache").symlink_to(ROOT / ".stack" / "cache")
    env = {**os.environ, "TUNESTREAM_STACK_DIR": str(stack_dir)}
    if kind in ("kafka", "kafka-cluster"):
        env["TUNESTREAM_KAFKA_PORT"] = str(_free_port())
        env["TUNESTREAM_KAFKA_CONTROLLER_PORT"] = str(_free_port())
        env["TUNESTREAM_KAFKA_NODES"] = "3" if kind == "kafka-cluster" else "1"
    elif kind == "s3":
        env["TUNESTREAM_S3_PORT"] = str(_free_port())  # the first of its block; s3.sh moves it if need be
    else:
        env["TUNESTREAM_POSTGRES_PORT"] = str(_free_port())
    server = PrivateServer(kind, stack_dir, env)
    try:
        server.up()
        yield server
    finally:
        try:
            server.down()
        finally:
            shutil.rmtree(stack_dir, ignore_errors=True)


# --- services ----------------------------------------------------------------------------------------


@dataclass
class Stack:
    services: Services
    api: TunestreamClient
    api_port: int
    engine: Engine
    bootstrap: str
    topic_prefix: str
    work_dir: Path

    def api_up(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.api_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_api(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.api_up():
            dead = [n for n in SERVICES if not self.services.alive(n)]
            assert not dead and time.monotonic() < deadline, f"api not up (dead: {dead}); logs in {self.log_dir}"
            time.sleep(0.3)

    @property
    def log_dir(self) -> Path:
        return self.services.log_dir


def _stack_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / ".stack" / "stack.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


@contextmanager
def running_stack(tag: str, overrides: dict[str, str] | None = None) -> Iterator[Stack]:
    """The five services on their own topics, against the shared stack unless `overrides` says otherwise."""
    run_id = os.urandom(3).hex()
    prefix = f"chaos-{tag}-{run_id}"
    api_port = _free_port()
    work_dir = Path(tempfile.mkdtemp(prefix="tschaos-work-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESTREAM_")}
    env.update(
        {
            "TUNESTREAM_ENV_FILE": str(ROOT / ".stack" / "stack.env"),
            "TUNESTREAM_TOPIC_PREFIX": prefix,
            "TUNESTREAM_API_PORT": str(api_port),
            "TUNESTREAM_WORK_DIR": str(work_dir),
            "TUNESTREAM_LAUNCHER_CWD": str(ROOT),
            "TUNESTREAM_LAUNCHER_ID": f"{prefix}-launcher",
            "TUNESTREAM_STOP_GRACE_S": "2",
            "TUNESTREAM_LOG_BATCH_INTERVAL_S": "0.1",
            "TUNESTREAM_HEARTBEAT_INTERVAL_S": "0.5",
            "TUNESTREAM_HEARTBEAT_TIMEOUT_S": "4",
            "TUNESTREAM_LAUNCHER_GPUS": "none",
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            **(overrides or {}),
        }
    )
    shared = _stack_env()
    bootstrap = env.get("TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS", shared["TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS"])
    database_url = env.get("TUNESTREAM_DATABASE_URL", shared["TUNESTREAM_DATABASE_URL"])
    if "TUNESTREAM_DATABASE_URL" in (overrides or {}):
        subprocess.run([sys.executable, "-m", "tunestream.cli.main", "db", "upgrade"], env=env, cwd=ROOT, check=True)
    log_dir = ARTIFACTS / "service-logs" / prefix
    log_dir.mkdir(parents=True, exist_ok=True)
    services = Services(env, log_dir)
    for name in SERVICES:
        services.start(name)
    engine = make_engine(database_url)
    api = TunestreamClient(f"http://127.0.0.1:{api_port}")
    stack = Stack(services, api, api_port, engine, bootstrap, prefix, work_dir)
    try:
        stack.wait_api()
        yield stack
    finally:
        api.close()
        services.stop_all()
        engine.dispose()
        shutil.rmtree(work_dir, ignore_errors=True)


# --- running a tuning job ----------------------------------------------------------------------------


def completed_programs(record_dir: Path) -> int:
    """Training jobs whose program has printed its objective at least once (counted by the program)."""
    done = record_dir / "done"
    return len({p.name.rsplit(".", 1)[0] for p in done.iterdir()}) if done.is_dir() else 0


def describe(stack: Stack, name: str) -> dict[str, Any] | None:
    """Describe, or None while the api is down or restarting (or its PostgreSQL is)."""
    try:
        return stack.api.describe(name)
    except (httpx.HTTPError, OSError):
        return None
    except ApiClientError as exc:
        if exc.status < 500:
            raise
        return None


def submit(stack: Stack, job: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            stack.api.create_tuning_job(job)
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "could not submit the tuning job"
            time.sleep(0.5)


def wait_until_ended(stack: Stack, name: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = describe(stack, name)
        if found is not None and found["HyperParameterTuningJobStatus"] in TERMINAL_STATUSES:
            return found
        dead = [n for n in SERVICES if not stack.services.alive(n)]
        assert not dead, f"services died: {dead}; logs in {stack.log_dir}"
        assert time.monotonic() < deadline, f"{name} did not end within {timeout_s:.0f}s: {found}"
        time.sleep(0.5)


def wait_for_progress(stack: Stack, record_dir: Path, at_least: int, timeout_s: float = 180) -> bool:
    """Wait until `at_least` programs completed; False if the tuning job ended first."""
    deadline = time.monotonic() + timeout_s
    while completed_programs(record_dir) < at_least:
        dead = [n for n in SERVICES if not stack.services.alive(n)]
        assert not dead, f"services died: {dead}; logs in {stack.log_dir}"
        assert time.monotonic() < deadline, (
            f"no progress to {at_least} within {timeout_s:.0f}s; logs in {stack.log_dir}"
        )
        time.sleep(0.05)
    return True


def run_job(
    stack: Stack, name: str, record_dir: Path, disturb: Callable[[], None] | None = None, jobs: int = JOBS
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    submit(stack, chaos_job(name, record_dir, jobs))
    if disturb is not None:
        disturb()
    stack.wait_api()
    found = wait_until_ended(stack, name, timeout_s=180 + 3 * jobs)
    return found, time.monotonic() - started


# --- what happened -----------------------------------------------------------------------------------


def job_history(stack: Stack, name: str) -> JobHistory:
    """The job's events from its partition of each topic (replay's reader), also kept next to the logs."""
    history = asyncio.run(read_history(stack.bootstrap, Topics(stack.topic_prefix), name))
    # Kept next to the services' logs, to see what happened when a check fails.
    with open(stack.log_dir / f"events-{name}.jsonl", "a") as out:
        for events in (history.jobs, history.trials, history.training, history.metrics):
            out.writelines(e.model_dump_json() + "\n" for e in events)
    return history


@dataclass
class Outcome:
    configs: dict[int, dict[str, str]]
    best_index: int
    best_value: float
    figures: dict[str, Any]


def check_outcome(stack: Stack, name: str, record_dir: Path, found: dict[str, Any], jobs: int = JOBS) -> Outcome:
    """Assert the tuning job's end state; return its configurations, best training job and counts."""
    assert found["HyperParameterTuningJobStatus"] == "Completed", found
    counters = found["TrainingJobStatusCounters"]
    assert counters["Completed"] == jobs and counters["InProgress"] == 0, counters

    # The read model: exactly `jobs` training jobs, indexes 0..jobs-1, each Completed with an objective.
    with stack.engine.connect() as conn:
        rows = conn.execute(
            select(
                training_jobs.c.name,
                training_jobs.c.index,
                training_jobs.c.status,
                training_jobs.c.tuned_hyperparameters,
                training_jobs.c.final_objective_value,
            ).where(training_jobs.c.tuning_job_name == name)
        ).all()
    assert len(rows) == jobs, f"{len(rows)} training jobs in PostgreSQL, expected {jobs}"
    assert sorted(r.index for r in rows) == list(range(jobs))
    not_done = [(r.name, r.status) for r in rows if r.status != "Completed" or r.final_objective_value is None]
    index_of = {r.name: r.index for r in rows}

    # The api says the same.
    listed = stack.api.training_jobs(name, MaxResults=100)
    assert sorted(s["TrainingJobName"] for s in listed) == sorted(index_of), "api and PostgreSQL disagree"
    assert all(s["TrainingJobStatus"] == "Completed" for s in listed)

    # The event log: one proposal per index, one terminal status per training job, no attempt twice.
    history = job_history(stack, name)
    proposals: dict[int, set[str]] = {}
    for e in history.trials:
        if e.type == "TrainingJobProposed":
            proposals.setdefault(e.payload.spec.index, set()).add(e.payload.spec.model_dump_json())
    assert sorted(proposals) == list(range(jobs)) and all(len(p) == 1 for p in proposals.values())
    training = history.training
    pids: dict[tuple[str, int], set[int]] = {}
    failed: dict[str, set[int]] = {}
    finished: dict[str, set[tuple[int, str]]] = {}
    for e in training:
        p = e.payload
        if e.type == "TrainingJobStarted":
            pids.setdefault((p.training_job_name, p.attempt), set()).add(p.pid)
        elif e.type == "TrainingJobAttemptFailed":
            failed.setdefault(p.training_job_name, set()).add(p.attempt)
        elif e.type == "TrainingJobFinished":
            finished.setdefault(p.training_job_name, set()).add((p.attempt, p.status.value))
    attempt_started_twice = [key for key, seen in pids.items() if len(seen) > 1]
    two_endings = {job: ends for job, ends in finished.items() if len(ends) != 1}
    assert set(finished) == set(index_of), "a training job has no TrainingJobFinished"

    # The programs' own record: starts and completions per training job.
    def runs(kind: str) -> dict[str, list[int]]:
        found_runs: dict[str, list[int]] = {}
        folder = record_dir / kind
        for p in folder.iterdir() if folder.is_dir() else []:
            job, pid = p.name.rsplit(".", 1)
            found_runs.setdefault(job, []).append(int(pid))
        return found_runs

    starts, dones = runs("starts"), runs("done")
    extra_starts = {}
    unfinished_final = []
    for job in index_of:
        attempts = 1 + len(failed.get(job, set()))
        if len(starts.get(job, [])) > attempts:
            extra_starts[job] = (len(starts[job]), attempts)
        (final_attempt, _), *_ = finished[job]
        final_pids = pids.get((job, final_attempt), set())
        # The attempt that ended the training job ran its program to completion exactly once.
        if len([pid for pid in dones.get(job, []) if pid in final_pids]) != 1:
            unfinished_final.append(job)
    duplicates = len(attempt_started_twice) + len(extra_starts) + len(two_endings)
    lost = len(not_done) + len(unfinished_final)
    figures = {
        "training_jobs": len(rows),
        "duplicates": duplicates,
        "lost": lost,
        "program_starts": sum(len(v) for v in starts.values()),
        "program_completions": sum(len(v) for v in dones.values()),
        "attempts_lost_and_retried": sum(len(v) for v in failed.values()),
    }
    assert not attempt_started_twice, f"attempts started twice: {attempt_started_twice}"
    assert not extra_starts, f"programs started more often than attempts were made: {extra_starts}"
    assert not two_endings, f"training jobs with several terminal statuses: {two_endings}"
    assert not not_done, f"training jobs not Completed with an objective: {not_done}"
    assert not unfinished_final, f"final attempts whose program did not complete exactly once: {unfinished_final}"

    best = found["BestTrainingJob"]
    return Outcome(
        configs={r.index: r.tuned_hyperparameters for r in rows},
        best_index=index_of[best["TrainingJobName"]],
        best_value=best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        figures=figures,
    )


def objects_in_store(stack: Stack, name: str, endpoint: str) -> dict[str, int]:
    """How many of the tuning job's logs and models the store holds (each log with its objective line)."""
    from tunestream.config import load_settings
    from tunestream.objstore.factory import make_object_store

    store = make_object_store(load_settings(s3_endpoint=endpoint))
    with stack.engine.connect() as conn:
        rows = conn.execute(
            select(training_jobs.c.log_s3_uri, training_jobs.c.model_artifact_s3_uri).where(
                training_jobs.c.tuning_job_name == name
            )
        ).all()
    logs = sum(1 for r in rows if r.log_s3_uri and b"score=" in store.get_bytes(r.log_s3_uri))
    models = sum(1 for r in rows if r.model_artifact_s3_uri and store.get_bytes(r.model_artifact_s3_uri))
    return {"logs_in_store": logs, "models_in_store": models}


def assert_same_as_baseline(outcome: Outcome, baseline: Outcome) -> None:
    assert outcome.configs == baseline.configs, "the configurations differ from the undisturbed run's"
    assert (outcome.best_index, outcome.best_value) == (baseline.best_index, baseline.best_value)


def record_figures(scenario: str, figures: dict[str, Any]) -> None:
    """Merge one scenario's figures into test-artifacts/chaos.json and print them."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(FIGURES.read_text())
    except (OSError, ValueError):
        everything = {}
    everything[scenario] = figures
    FIGURES.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    print(f"\nchaos figures ({scenario}): {json.dumps(figures, sort_keys=True)}")


def kill_counts(kills: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(kills).items()))


def topic_replication(bootstrap: str, prefix: str) -> dict[str, tuple[int, str]]:
    """(replicas of partition 0, min.insync.replicas) of each of tunestream's topics."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async def read() -> dict[str, tuple[int, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = list(Topics(prefix).all())
            described = {t["topic"]: t for t in await admin.describe_topics(names)}
            configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
            isr: dict[str, str] = {}
            for response in configs:
                for resource in response.to_object()["resources"]:
                    entries = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
                    isr[resource["resource_name"]] = entries["min.insync.replicas"]
            return {n: (len(described[n]["partitions"][0]["replicas"]), isr[n]) for n in names}
        finally:
            await admin.close()

    return asyncio.run(read())
