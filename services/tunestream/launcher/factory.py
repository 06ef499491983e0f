"""Builds a launcher from Settings: its GPUs, its backends, and the run factory that picks one."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Backend, Publish, RunOptions
from tunestream.launcher.gpus import detect_gpus
from tunestream.launcher.handler import LauncherHandler
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.process import ProcessBackend, can_isolate_processes
from tunestream.launcher.run import TrainingRun
from tunestream.objstore.factory import make_object_store

log = logging.getLogger(__name__)
BACKENDS = ("process", "container", "slurm", "ray", "kubernetes")
# Backends that each run the process training jobs: a launcher has one of them.
PROCESS_BACKENDS = ("process", "slurm", "ray")
# Backends that each run the image training jobs (TrainingImage): a launcher has one of them.
IMAGE_BACKENDS = ("container", "kubernetes")


def parse_backends(value: str) -> list[str]:
    backends = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"TUNESTREAM_LAUNCHER_BACKENDS={value!r}: use one or more of {', '.join(BACKENDS)}")
    for kind, group in (("process", PROCESS_BACKENDS), ("image", IMAGE_BACKENDS)):
        both = [b for b in backends if b in group]
        if len(both) > 1:
            raise ValueError(
                f"TUNESTREAM_LAUNCHER_BACKENDS={value!r}: {' and '.join(both)} all run {kind} training jobs; "
                "a launcher runs them one way"
            )
    return backends


def make_launcher(settings: Settings, publish: Publish) -> LauncherHandler:
    work_dir = settings.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    store = make_object_store(settings)
    backends = parse_backends(settings.launcher_backends)
    # New on every start of the launcher process: attempts assigned to an older one are lost.
    incarnation = uuid.uuid4().hex[:12]
    # The backend for each kind of training job (TrainingJobSpec.backend).
    serving: dict[str, Backend] = {}
    cluster: Any = None  # a Slurm, Ray or Kubernetes cluster: its GPUs are the launcher's
    for name in backends:
        if name == "process":
            serving["process"] = ProcessBackend()
        elif name == "container":
            from tunestream.launcher.container import ContainerEngine

            serving["container"] = ContainerEngine.connect(settings, incarnation)
        elif name == "kubernetes":
            from tunestream.launcher.kubernetes import KubernetesCluster

            serving["container"] = cluster = KubernetesCluster.connect(settings, incarnation)
        elif name == "slurm":
            from tunestream.launcher.slurm import SlurmCluster

            serving["process"] = cluster = SlurmCluster.connect(settings)
        else:
            from tunestream.launcher.ray import RayCluster

            serving["process"] = cluster = RayCluster.connect(settings)
    for backend in serving.values():
        backend.reap(settings.launcher_id)
    # A cluster launcher's GPUs are its cluster's (Slurm, Ray or Kubernetes picks the devices); "auto" asks it.
    if cluster is not None and settings.launcher_gpus.strip().lower() == "auto":
        gpus = cluster.gpus()
    else:
        gpus = detect_gpus(settings.launcher_gpus)
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

    def make_run(spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout) -> TrainingRun:
        backend = serving.get(spec.backend)
        if backend is None:  # the scheduler only sends a launcher the kinds of job it serves
            raise RuntimeError(f"this launcher has no {spec.backend} backend")
        return TrainingRun(spec, tuning_job_name, attempt, layout, store, publish, options, backend)

    def kill_leftover(layout: JobLayout) -> None:
        for backend in serving.values():
            backend.kill_leftover(layout)

    handler = LauncherHandler(
        launcher_id=settings.launcher_id,
        make_run=make_run,
        publish=publish,
        work_dir=work_dir,
        slots=settings.launcher_slots,
        gpus=gpus,
        backends=sorted(serving),
        heartbeat_interval_s=settings.heartbeat_interval_s,
        # Containers run without a network on request; processes where a network namespace can be made.
        isolating=[b for b in backends if b == "container" or (b == "process" and can_isolate_processes())],
        # Several instances of a job run together on this machine's slots: local processes meet on
        # loopback, Docker containers on a network of the job's own.
        multi_instance=[b for b in backends if b in ("process", "container")],
        preemptible=settings.launcher_preemptible,
        incarnation=incarnation,
        kill_leftover=kill_leftover,
    )
    where = cluster and (
        getattr(cluster, "partition", None) or getattr(cluster, "address", None) or getattr(cluster, "namespace", "")
    )
    log.info(
        "launcher %s (incarnation %s): %d slots, GPUs [%s], backends %s, network isolation for [%s]"
        + (f", cluster {where}" if cluster else ""),
        settings.launcher_id,
        handler.incarnation,
        settings.launcher_slots,
        ",".join(gpus),
        "/".join(backends),
        ",".join(handler.isolating),
    )
    return handler
