"""The audit trail: every mutating call on a tuning job becomes an ApiCallRecorded event on that job's
stream (who, what, when, and what the api answered), so the tracker, replay and the dashboard show it.

The api writes the call's row before it publishes the event and marks it published once Kafka
acknowledged it; a row left unpublished (Kafka away, or the api died in between) is sent again by
the api's outbox loop, with the same event id, so the tracker keeps it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tunestream.api.errors import ApiError
from tunestream.api.outages import unavailable_dependency
from tunestream.api.principals import Caller
from tunestream.db import writes
from tunestream.events import ids
from tunestream.events.v1 import ApiCallRecorded, ApiCallRecordedData

if TYPE_CHECKING:
    from tunestream.api.operations import State

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0


def api_call_event(
    who: Caller,
    operation: str,
    resource: str,
    tuning_job: str,
    status: int,
    error: str | None = None,
    at: datetime | None = None,
) -> ApiCallRecorded:
    return ApiCallRecorded(
        event_id=ids.api_call(who.request_id),
        tuning_job_name=tuning_job,
        occurred_at=at or datetime.now(UTC),
        payload=ApiCallRecordedData(
            principal=who.principal.name,
            role=who.principal.role,
            operation=operation,
            resource=resource,
            via=who.via,
            status=status,
            error=error,
            request_id=who.request_id,
        ),
    )


def stored_api_call_event(row: dict[str, Any]) -> ApiCallRecorded:
    """The event of a stored call (for the outbox): the same id, time and payload as first built."""
    fields = ApiCallRecordedData.model_fields
    return ApiCallRecorded(
        event_id=row["event_id"],
        tuning_job_name=row["tuning_job_name"],
        occurred_at=row["at"],
        payload=ApiCallRecordedData(**{k: row[k] for k in fields}),
    )


async def publish_api_calls(st: State, events: list[Any]) -> None:
    """Publish (the calls among `events` are then marked published); a failure leaves them to the outbox."""
    try:
        await asyncio.wait_for(st.publisher.publish(events), timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        log.exception("publishing %d event(s) deferred to the outbox", len(events))
        return
    calls = [e.event_id for e in events if isinstance(e, ApiCallRecorded)]
    if calls:
        await asyncio.to_thread(_mark_published, st, calls)


def _mark_published(st: State, event_ids: list[str]) -> None:
    with st.engine.begin() as conn:
        writes.mark_api_calls_published(conn, event_ids, datetime.now(UTC))


async def record(st: State, event: ApiCallRecorded) -> None:
    def store() -> None:
        with st.engine.begin() as conn:
            writes.insert_api_call(conn, event, st.settings.topic_prefix)

    try:
        await asyncio.to_thread(store)
    except Exception:
        # PostgreSQL away: the call itself already failed on it (or succeeded just before); say so loudly.
        log.exception(
            "audit: could not store %s by %s on %s",
            event.payload.operation,
            event.payload.principal,
            event.tuning_job_name,
        )
        return
    await publish_api_calls(st, [event])


@asynccontextmanager
async def audited(st: State, who: Caller, operation: str, resource: str, tuning_job: str) -> AsyncIterator[None]:
    """Records the call made inside, with the status it ends with (a refusal too), on `tuning_job`."""
    try:
        yield
    except ApiError as exc:
        await record(st, api_call_event(who, operation, resource, tuning_job, exc.status, exc.kind))
        raise
    except Exception as exc:
        status, kind = (503, "ServiceUnavailable") if unavailable_dependency(exc) else (500, "InternalFailure")
        await record(st, api_call_event(who, operation, resource, tuning_job, status, kind))
        raise
    await record(st, api_call_event(who, operation, resource, tuning_job, 200))
