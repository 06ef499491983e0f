"""Settings for every service and the CLI, read once at the edge (a service's entry point).

Values come from TUNESTREAM_* environment variables, then from the file the local stack writes
(`.stack/stack.env`, or the file named by TUNESTREAM_ENV_FILE), then the defaults below, which
match the ports `deploy/stack.sh` uses.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env_file() -> str:
    return os.environ.get("TUNESTREAM_ENV_FILE", str(Path(".stack") / "stack.env"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TUNESTREAM_", extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = "tunestream"
    # retention.ms of the job topics when tunestream creates them; -1 keeps every event (replayable).
    topic_retention_ms: int = -1
    # Copies of each topic tunestream creates; 0: as many as the cluster has brokers, at most 3 (then
    # min.insync.replicas 2, so one broker may be lost). deploy/kafka.sh starts 3 with TUNESTREAM_KAFKA_NODES=3.
    kafka_replication_factor: int = 0

    # PostgreSQL (the tracker's read model)
    database_url: SecretStr = SecretStr("postgresql+psycopg://tunestream:tunestream@127.0.0.1:15432/tunestream")

    # S3 store (logs, model artifacts); any S3 server the MinIO SDK speaks to
    s3_endpoint: str = "127.0.0.1:18333"
    s3_access_key: str = "tunestream"
    s3_secret_key: SecretStr = SecretStr("tunestream-secret")
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket: str = "tunestream"

    # api
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_token: SecretStr | None = None
    api_url: str = "http://127.0.0.1:8080"
    # SageMaker's JSON 1.1 protocol (`POST /`, boto3): "AKID:SECRET[,AKID2:SECRET2]". Set (or with
    # api_token set), every request there must carry a SigV4 signature made with one of these keys.
    sagemaker_access_keys: SecretStr | None = None
    # Named principals with a role (admin, member, viewer), each with tokens and access keys: a TOML or
    # JSON file, or the same document as JSON in TUNESTREAM_PRINCIPALS (docs/security.md).
    principals_file: Path | None = None
    principals: SecretStr | None = None

    # /healthz and /readyz of the suggester, launcher, collector and tracker: this port plus 1, 2, 3, 4
    # (the api serves its own on api_port). 0 turns them off.
    health_host: str = "127.0.0.1"
    health_port_base: int = 8090

    # suggester
    # Threads a model-based proposal (torch, BLAS) may use. Training jobs usually run on the same
    # machine; a GP fit that takes every core slows them all down (docs/strategies.md).
    suggester_threads: int = 1

    # launcher
    # Stable across restarts, so a restarted launcher recognises the training jobs it had started.
    launcher_id: str = socket.gethostname()
    launcher_slots: int = 4
    # Attempts being set up and spawned at once; the rest of a burst waits its turn, so a wide job
    # (hundreds of slots) cannot starve the launcher's own loop, and its heartbeats, of the CPU.
    launcher_max_starting: int = 8
    # "process", "container" or both ("process,container"): which training jobs this launcher takes.
    # "slurm" (or "ray") takes the process jobs and submits each attempt to a Slurm (Ray) cluster instead;
    # "kubernetes" takes the image jobs and runs each attempt as a Job of a Kubernetes cluster.
    launcher_backends: str = "process"
    # "auto" (nvidia-smi), "none", or the GPU ids to hand out, e.g. "0,1,2,3".
    launcher_gpus: str = "auto"
    # Its capacity can be taken back (it runs on spot machines, or submits to a Slurm partition whose
    # jobs others preempt): it takes managed spot training jobs only (EnableManagedSpotTraining).
    launcher_preemptible: bool = False
    heartbeat_interval_s: float = 1.0
    checkpoint_interval_s: float = 10.0
    # How long a finished training job's model upload and last checkpoint push wait out an S3 store
    # that is away before the attempt fails (and is retried per RetryStrategy).
    store_patience_s: float = 300.0

    # scheduler (runs inside the suggester service)
    # A launcher silent for this long is declared lost and its attempts are retried elsewhere.
    heartbeat_timeout_s: float = 10.0
    # A training job no live launcher could ever run (backend, GPUs) fails after waiting this long.
    unplaceable_after_s: float = 600.0

    # container backend (Docker SDK)
    docker_host: str | None = None
    docker_network: str = "bridge"
    docker_cpus: float | None = None
    docker_memory: str | None = None

    # slurm backend (sbatch, scontrol, scancel on the launcher's host)
    # The cluster's slurm.conf (SLURM_CONF for the commands); unset: Slurm's own default.
    slurm_conf: Path | None = None
    slurm_partition: str | None = None
    slurm_cpus_per_task: int = 1
    # More sbatch options for every attempt (--account=..., --qos=...), split as a shell would.
    slurm_sbatch_args: str = ""
    # The longest gap between two looks at a job's state (scontrol show job).
    slurm_poll_s: float = 1.0

    # ray backend (the Ray Jobs API of the cluster's dashboard)
    ray_address: str = "http://127.0.0.1:8265"
    # entrypoint_num_cpus of every attempt; at least a little, so it runs on a node that has CPUs.
    ray_cpus_per_job: float = 1.0
    # The longest gap between two looks at a job's status.
    ray_poll_s: float = 1.0

    # kubernetes backend (the `kubernetes` client; "kubernetes" in launcher_backends instead of
    # "container" runs the image jobs as batch/v1 Jobs of a cluster)
    # A kubeconfig file; unset: the in-cluster service account, else ~/.kube/config.
    kube_config: Path | None = None
    kube_namespace: str = "default"
    # Always, IfNotPresent or Never (images imported on the nodes by hand, as deploy/k8s.sh does).
    kube_image_pull_policy: str = "IfNotPresent"
    # requests and limits of every training container ("2", "500m"; "4Gi"); unset: none.
    kube_cpus: str | None = None
    kube_memory: str | None = None
    # The job folders as the nodes see them (a shared filesystem mounted elsewhere); unset: the
    # launcher's own work_dir path.
    kube_work_dir: Path | None = None
    # The longest gap between two looks at a job's pod.
    kube_poll_s: float = 1.0
    work_dir: Path = Path(".stack") / "work"
    launcher_cwd: Path | None = None
    stop_grace_s: float = 5.0
    log_batch_interval_s: float = 0.25
    log_batch_lines: int = 500
    # Output forwarded per training job attempt (to Kafka, the tracker and the S3 log); past it only
    # lines matching the job's MetricDefinitions are forwarded, so the objective is never lost.
    log_max_bytes: int = 8 * 1024 * 1024
    # Names of the launcher's environment variables that training programs also receive (comma
    # separated), on top of PATH, HOME, LANG, ...; nothing else (no credentials) reaches them.
    training_env_passthrough: str = ""


def load_settings(**overrides: Any) -> Settings:
    env_file = _env_file()
    return Settings(_env_file=env_file if Path(env_file).is_file() else None, **overrides)  # type: ignore[call-arg]
