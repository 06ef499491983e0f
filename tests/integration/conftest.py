"""The real stack for integration tests: Kafka, PostgreSQL and S3 started by deploy/stack.sh
(`make test` does that), and the five services started here as separate processes.

Each test session uses its own topic prefix and job-name suffix, so runs never see each other's
events or rows.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.support.jobs import continuous, tuning_job
from tunestream.client import TunestreamClient
from tunestream.config import Settings, load_settings
from tunestream.db.engine import make_engine
from tunestream.objstore.factory import make_object_store
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.trials import TERMINAL_STATUSES

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = str(ROOT / "tests" / "integration" / "programs" / "trainer.py")
ARTIFACTS = ROOT / "test-artifacts"
SERVICES = ("api", "suggester", "launcher", "collector", "tracker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_base(span: int = 4) -> int:
    """A port whose next `span` ports are free too (the services' health endpoints)."""
    for _ in range(100):
        base = _free_port()
        try:
            for offset in range(1, span + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports for the health endpoints")


class Services:
    """The five services as child processes, each killable and restartable on its own."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, service: str | None = None, env: dict[str, str] | None = None) -> None:
        """Start `service` (default: `name`) as the process called `name`, with extra environment."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "tunestream.cli.main", "service", service or name],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(timeout=60)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.kill(name, sig)
        self.start(name)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def settings(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    env_file = ROOT / ".stack" / "stack.env"
    if not env_file.is_file():
        pytest.exit("integration tests need the stack: run `make test` (or `make up` first)", returncode=3)
    os.environ.setdefault("TUNESTREAM_ENV_FILE", str(env_file))
    return load_settings(
        topic_prefix=f"it-{run_id}",
        api_port=_free_port(),
        health_port_base=free_port_base(),
        work_dir=tmp_path_factory.mktemp("work"),
        launcher_cwd=ROOT,
        launcher_id=f"it-launcher-{run_id}",
        stop_grace_s=2.0,
        log_batch_interval_s=0.1,
    )


@pytest.fixture(scope="session")
def services(settings: Settings) -> Iterator[Services]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESTREAM_")}
    env.update(
        {
            "TUNESTREAM_ENV_FILE": str(ROOT / ".stack" / "stack.env"),
            "TUNESTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "TUNESTREAM_API_PORT": str(settings.api_port),
            "TUNESTREAM_HEALTH_PORT_BASE": str(settings.health_port_base),
            "TUNESTREAM_WORK_DIR": str(settings.work_dir),
            "TUNESTREAM_LAUNCHER_CWD": str(ROOT),
            "TUNESTREAM_LAUNCHER_ID": settings.launcher_id,
            "TUNESTREAM_STOP_GRACE_S": "2",
            "TUNESTREAM_LOG_BATCH_INTERVAL_S": "0.1",
            # Short enough that losing a launcher is noticed within a test's patience.
            "TUNESTREAM_HEARTBEAT_INTERVAL_S": "0.5",
            "TUNESTREAM_HEARTBEAT_TIMEOUT_S": "4",
            "TUNESTREAM_CHECKPOINT_INTERVAL_S": "0.5",
            "TUNESTREAM_LAUNCHER_GPUS": "none",
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        }
    )
    log_dir = ARTIFACTS / "service-logs" / settings.topic_prefix
    log_dir.mkdir(parents=True, exist_ok=True)
    svc = Services(env, log_dir)
    for name in SERVICES:
        svc.start(name)
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{settings.api_port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        dead = [n for n in SERVICES if not svc.alive(n)]
        if dead or time.monotonic() > deadline:
            svc.stop_all()
            pytest.fail(f"services did not start (dead: {dead}); logs in {log_dir}")
        time.sleep(0.3)
    yield svc
    svc.stop_all()


@pytest.fixture(scope="session")
def api(services: Services, settings: Settings) -> Iterator[TunestreamClient]:
    client = TunestreamClient(f"http://127.0.0.1:{settings.api_port}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def http_post(api: TunestreamClient, settings: Settings) -> Iterator[Any]:
    """POST raw JSON to the api and get the response back, errors included."""
    client = httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30)
    yield lambda path, body: client.post(path, json=body)
    client.close()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    e = make_engine(settings.database_url.get_secret_value())
    yield e
    e.dispose()


@pytest.fixture(scope="session")
def store(settings: Settings) -> S3ObjectStore:
    return make_object_store(settings)


def training_processes(tuning_job_name: str) -> list[int]:
    """Pids of live processes whose environment names a training job of this tuning job."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(f"SM_TRAINING_JOB_NAME={tuning_job_name}-".encode()) for v in environ):
            found.append(int(proc.name))
    return found


def wait_until_ended(api: TunestreamClient, name: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        describe = api.describe(name)
        if describe["HyperParameterTuningJobStatus"] in TERMINAL_STATUSES:
            return describe
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not end within {timeout_s}s: {describe}")
        time.sleep(0.5)


def trainer_job(name: str, *, jobs: int = 4, parallel: int = 2, **static: str) -> dict[str, Any]:
    """A tuning job running tests/integration/programs/trainer.py."""
    return tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        seed=11,
        jobs=jobs,
        parallel=parallel,
        ranges={
            "ContinuousParameterRanges": [continuous("x")],
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b c", "$(echo pwned)"]}],
        },
        static={"epochs": "3", **static},
        output="s3://tunestream/it/output",
        environment={"MY_SETTING": "from-job"},
    )
