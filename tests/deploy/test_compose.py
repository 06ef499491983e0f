"""docker-compose.yml stays valid and speaks the same configuration names as the code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunestream.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
CLUSTER = ROOT / "docker-compose.kafka-cluster.yml"
SETTINGS = {f"TUNESTREAM_{name.upper()}" for name in Settings.model_fields}
SERVICES = ("api", "suggester", "launcher", "collector", "tracker")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_config_is_valid() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "neither `docker compose` nor docker-compose is installed (deploy/test.sh installs Debian's docker-compose)"
        )
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    both = [*command, "-f", str(COMPOSE), "-f", str(CLUSTER), "config", "-q"]
    result = subprocess.run(both, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_the_three_broker_file_agrees_with_itself() -> None:
    """docker-compose.kafka-cluster.yml: three voters, each a broker the services bootstrap from,
    replication 3 with 2 in sync (as deploy/kafka.sh with TUNESTREAM_KAFKA_NODES=3)."""
    base, cluster = _compose()["services"], yaml.safe_load(CLUSTER.read_text())
    nodes = {name: spec for name, spec in cluster["services"].items() if name.startswith("kafka")}
    assert sorted(nodes) == ["kafka", "kafka-2", "kafka-3"]
    voters = "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
    for i, (name, spec) in enumerate(sorted(nodes.items()), start=1):
        env = {**base.get(name, {}).get("environment", {}), **spec["environment"]}
        assert env["KAFKA_NODE_ID"] == str(i) and env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    for name in (*SERVICES, "migrate"):
        bootstrap = cluster["services"][name]["environment"]["TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS"]
        assert bootstrap == "kafka:9092,kafka-2:9092,kafka-3:9092", name


def test_every_tunestream_variable_is_a_setting() -> None:
    compose = _compose()
    used = set()
    for name in (*SERVICES, "migrate"):
        env = compose["services"][name]["environment"]
        used |= {k for k in env if k.startswith("TUNESTREAM_")}
    unknown = used - SETTINGS
    assert not unknown, f"docker-compose.yml sets variables no Settings field reads: {sorted(unknown)}"
    assert {"TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS", "TUNESTREAM_DATABASE_URL", "TUNESTREAM_S3_ENDPOINT"} <= used


def test_every_interpolated_variable_has_a_default() -> None:
    text = COMPOSE.read_text()
    for match in re.finditer(r"\$\{([A-Z0-9_]+)([^}]*)\}", text):
        assert match.group(2).startswith(":-"), f"${{{match.group(1)}}} has no default"


def test_five_services_share_one_image_and_wait_for_the_stack() -> None:
    compose = _compose()["services"]
    for name in SERVICES:
        service = compose[name]
        assert service["command"] == ["service", name]
        assert service["image"] == "tunestream:local"
        assert set(service["depends_on"]) == {"kafka", "postgres", "minio", "migrate"}
    assert compose["migrate"]["command"] == ["db", "upgrade"]


# Knobs of deploy/ itself (ports, timeouts, versions): read by the scripts, never by the services.
DEPLOY_ONLY = {
    "TUNESTREAM_STACK_DIR",
    "TUNESTREAM_BIN",
    "TUNESTREAM_KAFKA_PORT",
    "TUNESTREAM_KAFKA_CONTROLLER_PORT",
    "TUNESTREAM_KAFKA_NODES",
    "TUNESTREAM_KAFKA_JVM_OPTS",
    "TUNESTREAM_KAFKA_START_TIMEOUT",
    "TUNESTREAM_POSTGRES_PORT",
    "TUNESTREAM_POSTGRES_START_TIMEOUT",
    "TUNESTREAM_S3_PORT",
    "TUNESTREAM_S3_START_TIMEOUT",
    "TUNESTREAM_WEED_VERSION",
    "TUNESTREAM_DOCKER_BRIDGE",
    "TUNESTREAM_DOCKER_START_TIMEOUT",
    "TUNESTREAM_DOCKER_STORAGE_DRIVER",
    "TUNESTREAM_SLURM_CPUS",
    "TUNESTREAM_SLURM_GPUS",
    "TUNESTREAM_SLURM_START_TIMEOUT",
    "TUNESTREAM_RAY_CPUS",
    "TUNESTREAM_RAY_GPUS",
    "TUNESTREAM_RAY_OBJECT_STORE_BYTES",
    "TUNESTREAM_RAY_START_TIMEOUT",
    "TUNESTREAM_K8S_BIN_DIR",
    "TUNESTREAM_K8S_GPUS",
    "TUNESTREAM_K8S_START_TIMEOUT",
    # the image deploy/images/build-trainer.sh builds (and deploy/k8s.sh imports)
    "TUNESTREAM_TRAINER_IMAGE",
    # test.sh tells the container tests why the engine could not start
    "TUNESTREAM_CONTAINER_TESTS_SKIP",
    # ... and the dashboard's browser tests why Chromium could not be installed
    "TUNESTREAM_BROWSER_TESTS_SKIP",
    # ... and the SageMaker SDK test why the SDK could not be installed
    "TUNESTREAM_SDK_TESTS_SKIP",
    # ... and the Slurm and Ray tests why their clusters could not start
    "TUNESTREAM_SLURM_TESTS_SKIP",
    "TUNESTREAM_RAY_TESTS_SKIP",
    "TUNESTREAM_K8S_TESTS_SKIP",
}


def test_deploy_scripts_use_only_known_names() -> None:
    text = "".join(p.read_text() for p in sorted((ROOT / "deploy").glob("*.sh")))
    used = set(re.findall(r"TUNESTREAM_[A-Z0-9_]+", text))
    assert {"TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS", "TUNESTREAM_DATABASE_URL", "TUNESTREAM_S3_ENDPOINT"} <= used
    unknown = used - SETTINGS - DEPLOY_ONLY
    assert not unknown, (
        f"deploy/ uses names that are neither Settings fields nor documented deploy knobs: {sorted(unknown)}"
    )


def test_each_service_has_a_healthcheck_on_its_own_port() -> None:
    from tunestream.health import health_port

    compose = _compose()
    base = Settings.model_fields["health_port_base"].default
    for name in SERVICES:
        test = " ".join(compose["services"][name]["healthcheck"]["test"])
        port = Settings.model_fields["api_port"].default if name == "api" else health_port(name, base)
        assert f"http://localhost:{port}/" in test, (name, test)
