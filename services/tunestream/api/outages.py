"""A dependency that is away is a 503 with Retry-After, never a 500; /readyz says which one.

PostgreSQL restarting, the Kafka broker unreachable or the S3 store down are outages the client
can wait out: it gets `ServiceUnavailable` naming the dependency and a Retry-After, and nothing it
sent before is lost (a stored tuning job reaches Kafka through the outbox). `GET /readyz` probes
each dependency with a short timeout and answers 200 only when all of them answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import urllib3.exceptions
from aiokafka.errors import KafkaError
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tunestream.bus.publisher import Publisher
from tunestream.config import Settings
from tunestream.objstore.factory import make_object_store

RETRY_AFTER_S = 5
PROBE_TIMEOUT_S = 3.0


def unavailable_dependency(exc: BaseException) -> str | None:
    """The dependency an exception says is away, or None when it is something else (a bug)."""
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return "PostgreSQL"
    if isinstance(exc, KafkaError):
        return "Kafka"
    if isinstance(exc, urllib3.exceptions.HTTPError):  # the S3 client's connection errors and retries
        return "the S3 store"
    return None


@dataclass
class Probe:
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unavailable", "detail": self.detail, "seconds": round(self.seconds, 3)}


async def _probe(check: Any) -> Probe:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return Probe(False, f"no answer within {PROBE_TIMEOUT_S:g}s", time.monotonic() - started)
    except Exception as exc:  # any failure to answer is "not ready"; only its type reaches the client
        return Probe(False, type(exc).__name__, time.monotonic() - started)
    return Probe(True, detail, time.monotonic() - started)


async def readiness(settings: Settings, engine: Engine, publisher: Publisher) -> dict[str, Probe]:
    def postgres() -> str:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "SELECT 1 answered"

    def s3() -> str:
        exists = make_object_store(settings).bucket_exists(settings.s3_bucket)
        return f"bucket {settings.s3_bucket} {'exists' if exists else 'not created yet'}"

    async def kafka() -> str:
        await publisher.broker_metadata()
        return "broker metadata fetched"

    probes = await asyncio.gather(
        _probe(lambda: asyncio.to_thread(postgres)), _probe(kafka), _probe(lambda: asyncio.to_thread(s3))
    )
    return dict(zip(("postgresql", "kafka", "s3"), probes, strict=True))
