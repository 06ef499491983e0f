"""Every service answers /healthz and /readyz against the real Kafka, PostgreSQL and S3 store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from tests.integration.conftest import ROOT, Services
from tunestream.config import Settings
from tunestream.health import HEALTH_PORT_OFFSETS, health_port

EXPECTED = {
    "suggester": {"kafka", "consumer"},
    "collector": {"kafka", "consumer"},
    "launcher": {"kafka", "consumer", "work folder"},
    "tracker": {"kafka", "consumer", "postgresql", "s3"},
}


def readiness(settings: Settings, service: str, timeout_s: float = 60) -> dict[str, Any]:
    """The service's /readyz once it says ready (a fresh service first rebuilds its state)."""
    url = f"http://127.0.0.1:{health_port(service, settings.health_port_base)}/readyz"
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=10)
            last = (response.status_code, response.json())
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise AssertionError(f"{service} not ready within {timeout_s}s: {last}")


def test_each_service_is_alive_and_ready_with_its_own_dependencies(services: Services, settings: Settings) -> None:
    assert set(HEALTH_PORT_OFFSETS) == set(EXPECTED)
    for service, dependencies in EXPECTED.items():
        port = health_port(service, settings.health_port_base)
        alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert alive.status_code == 200, service
        assert alive.json() == {"service": service, "status": "ok"}
        body = readiness(settings, service)
        assert body["service"] == service
        assert set(body["dependencies"]) == dependencies, service
        assert all(d["status"] == "ok" for d in body["dependencies"].values()), body
    tracker = readiness(settings, "tracker")["dependencies"]
    assert tracker["postgresql"]["detail"] == "SELECT 1 answered"
    assert tracker["s3"]["detail"] == f"bucket {settings.s3_bucket} exists"
    assert readiness(settings, "suggester")["dependencies"]["consumer"]["detail"] == (
        "suggester consuming, scheduler consuming"
    )


def test_tunestream_status_lists_every_service(services: Services, settings: Settings) -> None:
    for service in EXPECTED:
        readiness(settings, service)
    env = {
        **os.environ,
        "TUNESTREAM_API_URL": f"http://127.0.0.1:{settings.api_port}",
        "TUNESTREAM_HEALTH_PORT_BASE": str(settings.health_port_base),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tunestream.cli.main", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for service in ("api", *EXPECTED):
        assert f"{service} (" in done.stdout and "not ready" not in done.stdout, done.stdout
    port = health_port("tracker", settings.health_port_base)
    assert f"tracker (http://127.0.0.1:{port}/readyz): ready" in done.stdout
