"""Health endpoints for the services that have no web server of their own.

The api answers `GET /healthz` and `GET /readyz` through FastAPI; the suggester, launcher,
collector and tracker serve the same two paths, with the same body shape, from `HealthServer`: a
few lines of HTTP on the service's own asyncio loop. That is deliberate: if a handler blocks the
loop, /healthz stops answering too, which is exactly what an orchestrator's liveness probe should
see. /readyz probes the service's dependencies (each with a timeout) and answers 503 with
Retry-After while one of them is away.

Ports: `Settings.health_port_base` + the service's offset (`HEALTH_PORT_OFFSETS`), so the services
of one machine do not collide; 0 turns the endpoints off. A second instance of a service on the
same machine (two launchers) cannot bind its port: it logs that and runs without the endpoints
(give it its own `TUNESTREAM_HEALTH_PORT_BASE`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
PROBE_TIMEOUT_S = 3.0
HEALTH_PORT_OFFSETS = {"suggester": 1, "launcher": 2, "collector": 3, "tracker": 4}
# A request line and headers larger than this are not a health probe.
MAX_REQUEST_BYTES = 8192

Check = Callable[[], Awaitable[str]]


class NotReady(Exception):
    """Raised by a check to say why, in words that are safe to show (no DSNs, no keys)."""


@dataclass
class Probe:
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unavailable", "detail": self.detail, "seconds": round(self.seconds, 3)}


async def probe(check: Check) -> Probe:
    """Runs one check with PROBE_TIMEOUT_S; any failure is "not ready", and only its type is shown."""
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return Probe(False, f"no answer within {PROBE_TIMEOUT_S:g}s", time.monotonic() - started)
    except NotReady as exc:
        return Probe(False, str(exc), time.monotonic() - started)
    except Exception as exc:  # the exception's text may carry a DSN or a key: the client sees its type
        return Probe(False, type(exc).__name__, time.monotonic() - started)
    return Probe(True, detail, time.monotonic() - started)


async def probe_all(checks: Mapping[str, Check]) -> dict[str, Probe]:
    results = await asyncio.gather(*(probe(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def postgres_check(engine: Any) -> Check:
    """A `SELECT 1` through a SQLAlchemy engine, off the event loop."""

    async def check() -> str:
        from sqlalchemy import text

        def select_one() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await asyncio.to_thread(select_one)
        return "SELECT 1 answered"

    return check


def s3_check(store: Any, bucket: str) -> Check:
    """Whether the S3 store answers about the bucket (an object store with `bucket_exists`)."""

    async def check() -> str:
        exists = await asyncio.to_thread(store.bucket_exists, bucket)
        return f"bucket {bucket} {'exists' if exists else 'not created yet'}"

    return check


def kafka_check(publisher: Any) -> Check:
    """A metadata round trip to a broker through the service's producer."""

    async def check() -> str:
        await publisher.broker_metadata()
        return "broker metadata fetched"

    return check


def loop_check(loops: Sequence[Any], stalled_after_s: float = 30.0) -> Check:
    """The service's consumer loops have rebuilt their state and polled Kafka lately."""

    async def check() -> str:
        now = time.monotonic()
        for loop in loops:
            if not loop.caught_up.is_set():
                raise NotReady(f"{loop.name}: rebuilding its state from the log")
            if loop.last_poll is None or now - loop.last_poll > stalled_after_s:
                raise NotReady(f"{loop.name}: has not polled Kafka for {stalled_after_s:g}s")
        return ", ".join(f"{loop.name} consuming" for loop in loops)

    return check


def folder_check(folder: Path) -> Check:
    """The folder exists, is writable, and how much room it has."""

    async def check() -> str:
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise NotReady(f"{folder} is not a writable folder")
        free = shutil.disk_usage(folder).free
        return f"{folder}: {free / 2**30:.1f} GiB free"

    return check


def readiness_body(probes: Mapping[str, Probe], service: str | None = None) -> tuple[int, dict[str, Any]]:
    """The status code and body of /readyz, the same for every service."""
    ready = all(p.ok for p in probes.values())
    body: dict[str, Any] = {} if service is None else {"service": service}
    body["status"] = "ready" if ready else "unavailable"
    body["dependencies"] = {name: p.as_dict() for name, p in probes.items()}
    return (200 if ready else 503), body


def health_port(service: str, base: int) -> int | None:
    """The port a service's endpoints listen on, or None when they are off (base 0, or the api)."""
    if base <= 0 or service not in HEALTH_PORT_OFFSETS:
        return None
    return base + HEALTH_PORT_OFFSETS[service]


class HealthServer:
    """`GET /healthz` and `GET /readyz` for one service; `checks` name its dependencies."""

    def __init__(self, service: str, checks: Mapping[str, Check]) -> None:
        self.service = service
        self._checks = dict(checks)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> bool:
        """Listens on (host, port); port 0 takes a free one. False (and a log line) if it cannot bind."""
        try:
            self._server = await asyncio.start_server(self._serve, host, port)
        except OSError as exc:
            log.warning(
                "%s: health endpoints not served: cannot listen on %s:%s (%s); set TUNESTREAM_HEALTH_PORT_BASE",
                self.service,
                host,
                port,
                exc.strerror or type(exc).__name__,
            )
            return False
        log.info("%s: health endpoints on http://%s:%s/healthz and /readyz", self.service, host, self.port)
        return True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def respond(self, method: str, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and extra headers for a request: the part worth testing without sockets."""
        path = path.split("?", 1)[0]
        if path not in ("/healthz", "/readyz"):
            return 404, {"error": "NotFound", "message": f"no route {path}; there are /healthz and /readyz"}, {}
        if method not in ("GET", "HEAD"):
            return 405, {"error": "MethodNotAllowed", "message": f"{path} answers GET"}, {"Allow": "GET, HEAD"}
        if path == "/healthz":
            return 200, {"service": self.service, "status": "ok"}, {}
        status, body = readiness_body(await probe_all(self._checks), self.service)
        return status, body, ({} if status == 200 else {"Retry-After": str(RETRY_AFTER_S)})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PROBE_TIMEOUT_S)
            if len(head) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            status, body, headers = await self.respond(method, path)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, body, headers, method = 400, {"error": "BadRequest", "message": "not an HTTP request"}, {}, "GET"
        payload = json.dumps(body).encode()
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, '')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else payload))
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
