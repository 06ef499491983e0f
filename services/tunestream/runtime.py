"""Wiring: builds each service from Settings and runs it until SIGTERM/SIGINT.

This is the edge where configuration is read and I/O clients are made; handlers get them passed in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from tunestream import health
from tunestream.bus.loop import Handler, ServiceLoop
from tunestream.bus.publisher import Publisher, ensure_topics
from tunestream.config import Settings
from tunestream.events.topics import Topics

log = logging.getLogger(__name__)
SERVICES = ("api", "suggester", "launcher", "collector", "tracker")


def _make_loop(
    settings: Settings, name: str, topics: Sequence[str], handler: Handler, publisher: Publisher, grouped: bool = True
) -> ServiceLoop:
    return ServiceLoop(
        name=name,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_prefix}-{name}" if grouped else None,
        topics=topics,
        handler=handler,
        publisher=publisher,
    )


async def _run_loops(*loops: ServiceLoop) -> None:
    running = asyncio.get_running_loop()

    def stop() -> None:
        for loop in loops:
            loop.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, stop)
    for loop in loops:
        log.info("%s consuming %s", loop.name, ", ".join(loop.topics))
    await asyncio.gather(*(loop.run() for loop in loops))


async def _run_loop(
    settings: Settings, name: str, topics: Sequence[str], handler: Handler, publisher: Publisher
) -> None:
    await _run_loops(_make_loop(settings, name, topics, handler, publisher))


def limit_threads(threads: int) -> None:
    """Cap the threads of torch and the BLAS libraries, read when they are first imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


async def run_service(name: str, settings: Settings) -> None:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        topics,
        retention_ms=settings.topic_retention_ms,
        replication=settings.kafka_replication_factor,
    )
    publisher = Publisher(settings.kafka_bootstrap_servers, topics, client_id=f"tunestream-{name}")
    await publisher.start()
    try:
        if name == "suggester":
            limit_threads(settings.suggester_threads)
            from tunestream.scheduler.fleet import Fleet
            from tunestream.scheduler.handler import SchedulerHandler
            from tunestream.suggester.handler import SuggesterHandler

            fleet = Fleet(
                heartbeat_timeout_s=settings.heartbeat_timeout_s, unplaceable_after_s=settings.unplaceable_after_s
            )
            loops = [
                _make_loop(settings, name, [topics.jobs, topics.trials, topics.metrics], SuggesterHandler(), publisher),
                # The scheduler sees every partition: capacity is shared by all tuning jobs.
                _make_loop(
                    settings,
                    "scheduler",
                    [topics.trials, topics.training, topics.launchers],
                    SchedulerHandler(fleet),
                    publisher,
                    grouped=False,
                ),
            ]
            await _serve(settings, name, loops, publisher)
        elif name == "collector":
            from tunestream.collector.handler import CollectorHandler

            loop = _make_loop(settings, name, [topics.training], CollectorHandler(), publisher)
            await _serve(settings, name, [loop], publisher)
        elif name == "launcher":
            await _run_launcher(settings, topics, publisher)
        elif name == "tracker":
            from tunestream.db.engine import make_engine
            from tunestream.objstore.factory import make_object_store
            from tunestream.tracker.handler import TrackerHandler

            store = make_object_store(settings)
            store.ensure_bucket(settings.s3_bucket)
            engine = make_engine(settings.database_url.get_secret_value())
            # Heartbeats are the scheduler's business; the read model keeps what happened to jobs.
            tracked = [topics.jobs, topics.trials, topics.training, topics.metrics]
            loop = _make_loop(settings, name, tracked, TrackerHandler(engine, store, settings.s3_bucket), publisher)
            checks = {"postgresql": health.postgres_check(engine), "s3": health.s3_check(store, settings.s3_bucket)}
            await _serve(settings, name, [loop], publisher, checks)
        else:
            raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    finally:
        await publisher.stop()


async def _serve(
    settings: Settings,
    name: str,
    loops: Sequence[ServiceLoop],
    publisher: Publisher,
    checks: Mapping[str, health.Check] | None = None,
) -> None:
    """Runs the loops with the service's /healthz and /readyz beside them on the same event loop."""
    server = health.HealthServer(
        name, {"kafka": health.kafka_check(publisher), "consumer": health.loop_check(loops), **(checks or {})}
    )
    port = health.health_port(name, settings.health_port_base)
    if port is not None:
        await server.start(settings.health_host, port)
    try:
        await _run_loops(*loops)
    finally:
        await server.stop()


async def _run_launcher(settings: Settings, topics: Topics, publisher: Publisher) -> None:
    from tunestream.launcher.factory import make_launcher

    handler = make_launcher(settings, publisher.publish)
    loop = _make_loop(settings, "launcher", [topics.trials, topics.training], handler, publisher, grouped=False)
    try:
        await _serve(settings, "launcher", [loop], publisher, {"work folder": health.folder_check(settings.work_dir)})
    finally:
        await handler.shutdown()


def run_api(settings: Settings) -> None:
    import uvicorn

    from tunestream.api.app import create_app

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")


def configure_logging(service: str) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
