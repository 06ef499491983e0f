"""Builds a launcher from Settings: its GPUs, its backends, and the run factory that picks one."""

from __future__ import annotations

import asyncio
import logging

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.gpus import detect_gpus
from tunestream.launcher.handler import LauncherHandler
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.process import ProcessRun, can_isolate_processes
from tunestream.launcher.run import Attempt, Publish, RunOptions, TrainingRun
from tunestream.objstore.factory import make_object_store

log = logging.getLogger(__name__)
BACKENDS = ("process", "container")


def parse_backends(value: str) -> list[str]:
    backends = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"TUNESTREAM_LAUNCHER_BACKENDS={value!r}: use one or more of {', '.join(BACKENDS)}")
    return backends


def make_launcher(settings: Settings, publish: Publish) -> LauncherHandler:
    work_dir = settings.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    store = make_object_store(settings)
    gpus = detect_gpus(settings.launcher_gpus)
    backends = parse_backends(settings.launcher_backends)
    options = RunOptions(
        launcher_id=settings.launcher_id,
        cwd=settings.launcher_cwd,
        stop_grace_s=settings.stop_grace_s,
        batch_interval_s=settings.log_batch_interval_s,
        batch_lines=settings.log_batch_lines,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        host_has_gpus=bool(gpus),
        log_max_bytes=settings.log_max_bytes,
        env_passthrough=tuple(n.strip() for n in settings.training_env_passthrough.split(",") if n.strip()),
        start_gate=asyncio.Semaphore(max(1, settings.launcher_max_starting)),
        store_patience_s=settings.store_patience_s,
    )
    containers = None
    if "container" in backends:
        from tunestream.launcher.container import ContainerEngine

        containers = ContainerEngine.connect(settings)
        containers.reap(settings.launcher_id)

    def make_run(spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout) -> TrainingRun:
        if spec.backend == "container":
            if containers is None:  # the scheduler only sends container jobs to container launchers
                raise RuntimeError("this launcher has no container backend")
            return containers.run(spec, tuning_job_name, attempt, layout, store, publish, options, handler.incarnation)
        return ProcessRun(spec, tuning_job_name, attempt, layout, store, publish, options)

    handler = LauncherHandler(
        launcher_id=settings.launcher_id,
        make_run=make_run,
        publish=publish,
        work_dir=work_dir,
        slots=settings.launcher_slots,
        gpus=gpus,
        backends=backends,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        # Containers run without a network on request; processes where a network namespace can be made.
        isolating=[b for b in backends if b == "container" or (b == "process" and can_isolate_processes())],
    )
    log.info(
        "launcher %s (incarnation %s): %d slots, GPUs [%s], backends %s, network isolation for [%s]",
        settings.launcher_id,
        handler.incarnation,
        settings.launcher_slots,
        ",".join(gpus),
        "/".join(backends),
        ",".join(handler.isolating),
    )
    return handler
