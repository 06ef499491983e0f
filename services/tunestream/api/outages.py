"""A dependency that is away is a 503 with Retry-After, never a 500; /readyz says which one.

PostgreSQL restarting, the Kafka broker unreachable or the S3 store down are outages the client
can wait out: it gets `ServiceUnavailable` naming the dependency and a Retry-After, and nothing it
sent before is lost (a stored tuning job reaches Kafka through the outbox). `GET /readyz` probes
each dependency with a short timeout and answers 200 only when all of them answer.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from tunestream.bus.publisher import Publisher
from tunestream.config import Settings
from tunestream.health import RETRY_AFTER_S, Probe, kafka_check, postgres_check, probe_all, s3_check
from tunestream.objstore.factory import make_object_store
from tunestream.objstore.outages import store_unavailable

__all__ = ["RETRY_AFTER_S", "Probe", "readiness", "unavailable_dependency"]


def unavailable_dependency(exc: BaseException) -> str | None:
    """The dependency an exception says is away, or None when it is something else (a bug)."""
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return "PostgreSQL"
    if isinstance(exc, KafkaError):
        return "Kafka"
    if store_unavailable(exc):  # the S3 client's connection errors, retries and 5xx answers
        return "the S3 store"
    return None


async def readiness(settings: Settings, engine: Engine, publisher: Publisher) -> dict[str, Probe]:
    return await probe_all(
        {
            "postgresql": postgres_check(engine),
            "kafka": kafka_check(publisher),
            "s3": s3_check(make_object_store(settings), settings.s3_bucket),
        }
    )
