"""The services' /healthz and /readyz: answers, probes, ports (no servers beyond the one under test)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tunestream import health
from tunestream.health import HealthServer, NotReady, folder_check, health_port, loop_check


async def ok() -> str:
    return "fine"


async def away() -> str:
    raise NotReady("rebuilding its state from the log")


async def leaky() -> str:
    raise ConnectionError("postgresql://user:hunter2@db/tunestream refused")


async def hangs() -> str:
    await asyncio.sleep(60)
    return "never"


def serve(server: HealthServer, requests: list[tuple[str, str]]) -> list[httpx.Response]:
    """Starts the server on a free port, sends the requests from a thread, stops the server."""

    async def main() -> list[httpx.Response]:
        assert await server.start("127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.port}"
        try:

            def send() -> list[httpx.Response]:
                with httpx.Client(base_url=base, timeout=10) as client:
                    return [client.request(method, path) for method, path in requests]

            return await asyncio.to_thread(send)
        finally:
            await server.stop()

    return asyncio.run(main())


def test_healthz_and_readyz_when_every_dependency_answers() -> None:
    alive, ready = serve(
        HealthServer("tracker", {"postgresql": ok, "kafka": ok}), [("GET", "/healthz"), ("GET", "/readyz")]
    )
    assert alive.status_code == 200
    assert alive.json() == {"service": "tracker", "status": "ok"}
    assert ready.status_code == 200
    body = ready.json()
    assert body["service"] == "tracker" and body["status"] == "ready"
    assert {k: v["status"] for k, v in body["dependencies"].items()} == {"postgresql": "ok", "kafka": "ok"}
    assert body["dependencies"]["kafka"]["detail"] == "fine"
    assert "retry-after" not in ready.headers


def test_a_dependency_away_is_503_with_retry_after_and_says_why() -> None:
    (ready,) = serve(HealthServer("collector", {"kafka": ok, "consumer": away}), [("GET", "/readyz")])
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == str(health.RETRY_AFTER_S)
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["dependencies"]["consumer"] == {
        "status": "unavailable",
        "detail": "rebuilding its state from the log",
        "seconds": body["dependencies"]["consumer"]["seconds"],
    }
    assert body["dependencies"]["kafka"]["status"] == "ok"


def test_a_failing_probe_shows_its_type_not_its_message() -> None:
    # An exception's text may hold a DSN with a password.
    (ready,) = serve(HealthServer("tracker", {"postgresql": leaky}), [("GET", "/readyz")])
    assert ready.status_code == 503
    assert ready.json()["dependencies"]["postgresql"]["detail"] == "ConnectionError"
    assert "hunter2" not in ready.text


def test_a_probe_that_hangs_is_unavailable_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "PROBE_TIMEOUT_S", 0.2)
    started = time.monotonic()
    (ready,) = serve(HealthServer("tracker", {"s3": hangs}), [("GET", "/readyz")])
    assert time.monotonic() - started < 5
    assert ready.status_code == 503
    assert ready.json()["dependencies"]["s3"]["detail"] == "no answer within 0.2s"


def test_other_paths_and_methods_get_json_errors() -> None:
    missing, posted, head = serve(
        HealthServer("launcher", {}), [("GET", "/metrics"), ("POST", "/healthz"), ("HEAD", "/healthz")]
    )
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
    assert head.status_code == 200 and head.content == b""


def test_garbage_instead_of_http_is_a_400() -> None:
    async def main() -> bytes:
        server = HealthServer("launcher", {})
        assert await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"\x00\x01nonsense\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            await server.stop()

    assert asyncio.run(main()).startswith(b"HTTP/1.1 400 ")


def test_a_taken_port_is_logged_and_the_service_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="tunestream.health"):
            started = asyncio.run(HealthServer("launcher", {}).start("127.0.0.1", port))
    assert started is False
    assert "TUNESTREAM_HEALTH_PORT_BASE" in caplog.text


def test_ports_follow_the_base_and_zero_turns_them_off() -> None:
    assert [health_port(s, 9000) for s in ("suggester", "launcher", "collector", "tracker")] == [9001, 9002, 9003, 9004]
    assert health_port("tracker", 0) is None
    assert health_port("api", 9000) is None  # the api serves its own on api_port


def fake_loop(name: str, caught_up: bool, last_poll: float | None) -> SimpleNamespace:
    event = asyncio.Event()
    if caught_up:
        event.set()
    return SimpleNamespace(name=name, caught_up=event, last_poll=last_poll)


def test_the_consumer_check_tells_rebuilding_stalled_and_consuming() -> None:
    now = time.monotonic()
    assert asyncio.run(loop_check([fake_loop("suggester", True, now), fake_loop("scheduler", True, now)])()) == (
        "suggester consuming, scheduler consuming"
    )
    with pytest.raises(NotReady, match="scheduler: rebuilding"):
        asyncio.run(loop_check([fake_loop("suggester", True, now), fake_loop("scheduler", False, None)])())
    with pytest.raises(NotReady, match="has not polled Kafka for 30s"):
        asyncio.run(loop_check([fake_loop("tracker", True, now - 31)])())


def test_the_work_folder_check(tmp_path: Path) -> None:
    assert "GiB free" in asyncio.run(folder_check(tmp_path)())
    with pytest.raises(NotReady, match="not a writable folder"):
        asyncio.run(folder_check(tmp_path / "missing")())
