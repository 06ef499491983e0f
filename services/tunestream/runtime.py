"""Wiring: builds each service from Settings and runs it until SIGTERM/SIGINT.

This is the edge where configuration is read and I/O clients are made; handlers get them passed in.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from tunestream.bus.loop import Handler, ServiceLoop
from tunestream.bus.publisher import Publisher, ensure_topics
from tunestream.config import Settings
from tunestream.events.topics import Topics

log = logging.getLogger(__name__)
SERVICES = ("api", "suggester", "launcher", "collector", "tracker")


async def _run_loop(
    settings: Settings, name: str, topics: Sequence[str], handler: Handler, publisher: Publisher
) -> None:
    loop = ServiceLoop(
        name=name,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_prefix}-{name}",
        topics=topics,
        handler=handler,
        publisher=publisher,
    )
    running = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, loop.stop)
    log.info("%s consuming %s", name, ", ".join(topics))
    await loop.run()


async def run_service(name: str, settings: Settings) -> None:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.kafka_bootstrap_servers, topics)
    publisher = Publisher(settings.kafka_bootstrap_servers, topics, client_id=f"tunestream-{name}")
    await publisher.start()
    try:
        if name == "suggester":
            from tunestream.suggester.handler import SuggesterHandler

            await _run_loop(settings, name, [topics.jobs, topics.trials, topics.metrics], SuggesterHandler(), publisher)
        elif name == "collector":
            from tunestream.collector.handler import CollectorHandler

            await _run_loop(settings, name, [topics.training], CollectorHandler(), publisher)
        elif name == "launcher":
            await _run_launcher(settings, topics, publisher)
        elif name == "tracker":
            from tunestream.db.engine import make_engine
            from tunestream.objstore.factory import make_object_store
            from tunestream.tracker.handler import TrackerHandler

            store = make_object_store(settings)
            store.ensure_bucket(settings.s3_bucket)
            engine = make_engine(settings.database_url.get_secret_value())
            await _run_loop(settings, name, topics.all(), TrackerHandler(engine, store, settings.s3_bucket), publisher)
        else:
            raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    finally:
        await publisher.stop()


async def _run_launcher(settings: Settings, topics: Topics, publisher: Publisher) -> None:
    from tunestream.launcher.handler import LauncherHandler
    from tunestream.launcher.local import RunOptions
    from tunestream.objstore.factory import make_object_store

    work_dir = settings.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    handler = LauncherHandler(
        store=make_object_store(settings),
        publish=publisher.publish,
        options=RunOptions(
            launcher_id=settings.launcher_id,
            cwd=settings.launcher_cwd,
            stop_grace_s=settings.stop_grace_s,
            batch_interval_s=settings.log_batch_interval_s,
            batch_lines=settings.log_batch_lines,
        ),
        work_dir=work_dir,
        slots=settings.launcher_slots,
    )
    try:
        await _run_loop(settings, "launcher", [topics.trials, topics.training], handler, publisher)
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
