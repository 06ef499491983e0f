"""FastAPI application: POST accepts a tuning job, GETs read the tracker's tables."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection

from tunestream.api.analytics_routes import analytics_router
from tunestream.api.audit import publish_api_calls, stored_api_call_event
from tunestream.api.contract import install_contract
from tunestream.api.dashboard import router as dashboard_router
from tunestream.api.errors import install_error_handlers
from tunestream.api.operations import State, submitted_event
from tunestream.api.operations import in_tx as _in_tx
from tunestream.api.operations import with_conn as _with_conn
from tunestream.api.principals import load_principals
from tunestream.api.rest_routes import rest_routers
from tunestream.api.sagemaker_protocol import install_sagemaker_protocol
from tunestream.api.warm_start import parent_observations
from tunestream.bus.publisher import Publisher, ensure_topics
from tunestream.config import Settings
from tunestream.db import reads, writes
from tunestream.db.engine import make_engine
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.topics import Topics
from tunestream.events.v1 import TuningJobSubmitted

log = logging.getLogger(__name__)
OUTBOX_INTERVAL_S = 5.0


def stored_submitted_event(conn: Connection, row: dict[str, Any]) -> TuningJobSubmitted:
    """The event for a stored job; parents' results are read again (they no longer change)."""
    request = CreateTuningJobRequest.model_validate(row["request"])
    return submitted_event(
        row["name"],
        request,
        row["random_seed"],
        row["created_at"],
        parent_observations(conn, request),
        row["owner"],
        row["standalone_training_job"],
        row["standalone_inert_members"],
    )


async def republish_unpublished(state: State) -> None:
    """Outbox: a job stored but not yet acknowledged by Kafka (api crashed between) is sent again,
    by an api on the same topics as the one that stored it."""
    prefix = state.settings.topic_prefix
    rows = await asyncio.to_thread(_with_conn, state.engine, reads.unpublished_tuning_jobs, prefix)
    for row in rows:
        event = await asyncio.to_thread(_with_conn, state.engine, stored_submitted_event, row)
        await state.publisher.publish([event])
        await asyncio.to_thread(_in_tx, state.engine, writes.mark_published, row["name"], datetime.now(UTC))
        log.info("republished tuning job %s", row["name"])
    # After the jobs: a job's creation record follows its TuningJobSubmitted on the job's stream.
    calls = await asyncio.to_thread(_with_conn, state.engine, reads.unpublished_api_calls, prefix)
    if calls:
        await publish_api_calls(state, [stored_api_call_event(row) for row in calls])


async def _outbox_loop(state: State) -> None:
    while True:
        try:
            await republish_unpublished(state)
        except Exception:
            log.exception("outbox: republishing failed; retrying in %.0fs", OUTBOX_INTERVAL_S)
        await asyncio.sleep(OUTBOX_INTERVAL_S)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url.get_secret_value())
        topics = Topics(settings.topic_prefix)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            topics,
            retention_ms=settings.topic_retention_ms,
            replication=settings.kafka_replication_factor,
        )
        publisher = Publisher(settings.kafka_bootstrap_servers, topics, client_id="tunestream-api")
        await publisher.start()
        app.state.ts = State(settings, engine, publisher)
        outbox = asyncio.create_task(_outbox_loop(app.state.ts))
        try:
            yield
        finally:
            outbox.cancel()
            await publisher.stop()
            engine.dispose()

    app = FastAPI(title="tunestream", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_contract(app)
    app.include_router(dashboard_router)  # the web dashboard: /, /dashboard/ (its assets need no token)

    # A principals file that breaks a rule stops the api here, before it serves anything.
    principals = load_principals(settings)
    app.state.principals = principals
    if principals.open_access:
        log.warning("no token, access key or principal configured: every caller is the admin %r", "default")
    else:
        log.info("principals: %s", ", ".join(principals.names))
    install_sagemaker_protocol(app, principals)
    app.include_router(analytics_router())

    for router in rest_routers():
        app.include_router(router)

    return app
