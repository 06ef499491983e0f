"""A dependency that is away: 503 with Retry-After naming it, never a 500; /readyz probes each one."""

from __future__ import annotations

import asyncio

import pytest
import urllib3.exceptions
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from tunestream.api.errors import install_error_handlers
from tunestream.api.outages import RETRY_AFTER_S, Probe, readiness, unavailable_dependency
from tunestream.bus.publisher import Publisher
from tunestream.config import Settings
from tunestream.events.topics import Topics

RAISES = {
    "postgres": OperationalError("SELECT 1", {}, Exception("connection refused")),
    "kafka": KafkaConnectionError("no broker"),
    "s3": urllib3.exceptions.MaxRetryError(None, "/bucket", "connection refused"),  # type: ignore[arg-type]
    "bug": RuntimeError("a bug"),
}


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{kind}")
    def _raise(kind: str) -> None:
        raise RAISES[kind]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("kind", "named"), [("postgres", "PostgreSQL"), ("kafka", "Kafka"), ("s3", "the S3 store")])
def test_outage_is_503_with_retry_after(client: TestClient, kind: str, named: str) -> None:
    response = client.get(f"/raise/{kind}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert response.json()["__type"] == "ServiceUnavailable"
    assert response.json()["message"].startswith(f"{named} is unavailable")


def test_a_bug_is_still_a_500_without_details(client: TestClient) -> None:
    response = client.get("/raise/bug")
    assert response.status_code == 500 and "a bug" not in response.text
    assert unavailable_dependency(RuntimeError()) is None


def test_readiness_names_each_dependency_that_does_not_answer() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://tunestream:x@127.0.0.1:1/tunestream",
        kafka_bootstrap_servers="127.0.0.1:1",
        s3_endpoint="127.0.0.1:1",
    )
    engine = create_engine(settings.database_url.get_secret_value())

    async def probe() -> dict[str, Probe]:
        publisher = Publisher(settings.kafka_bootstrap_servers, Topics("t"), client_id="readyz-test")  # not started
        return await readiness(settings, engine, publisher)

    probes = asyncio.run(probe())
    assert set(probes) == {"postgresql", "kafka", "s3"}
    assert not any(p.ok for p in probes.values())
    assert probes["postgresql"].detail == "OperationalError"
    assert all(p.as_dict()["status"] == "unavailable" for p in probes.values())
