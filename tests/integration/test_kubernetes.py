"""Training jobs as batch/v1 Jobs on the private Kubernetes of deploy/k8s.sh (etcd, kube-apiserver,
controller manager, scheduler, containerd and a kubelet whose node advertises 2 GPUs), made by a
launcher with the kubernetes backend: data in, model and checkpoints out, GPU limits, values that
Kubernetes would expand, stops, runtime limits, a failing program, a missing image, a pod deleted
under the job and a killed kubelet (both retried from the checkpoint), and a restarted launcher that
deletes what it left.

The image is tunestream/test-trainer:1, imported into the node's containerd by deploy/k8s.sh.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ROOT, Services, free_port_base, wait_until_ended
from tests.integration.side_launchers import SideLauncher, first_training_job, only_training_job, trainer_image_job
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore

kubernetes = pytest.importorskip("kubernetes")

IMAGE = "tunestream/test-trainer:1"
K8S_ENV = ROOT / ".stack" / "k8s.env"
K8S_SCRIPT = ["bash", str(ROOT / "deploy" / "k8s.sh")]
NAMESPACE = "default"


def _script(*args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*K8S_SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)


def _env() -> dict[str, str]:
    if not K8S_ENV.is_file():
        return {}
    pairs = (line.split("=", 1) for line in K8S_ENV.read_text().splitlines() if "=" in line and line[0] != "#")
    return {k.strip(): v.strip() for k, v in pairs}


@pytest.fixture(scope="module")
def kubeconfig() -> Iterator[str]:
    """deploy/k8s.sh's cluster: the running one, else started here (and stopped after)."""
    skip = os.environ.get("TUNESTREAM_K8S_TESTS_SKIP")
    if skip:  # deploy/test.sh tried already
        pytest.skip(f"kubernetes tests need deploy/k8s.sh's cluster: {skip}")
    started = False
    if "kubelet   running" not in _script("status").stdout:
        done = _script("up")
        assert done.returncode == 0, f"deploy/k8s.sh up failed:\n{(done.stdout + done.stderr)[-3000:]}"
        started = True
    config = _env().get("KUBECONFIG")
    assert config, f"deploy/k8s.sh up wrote no KUBECONFIG into {K8S_ENV}"
    try:
        yield config
    finally:
        if started:
            _script("down", timeout_s=120)


@pytest.fixture(scope="module")
def kube(kubeconfig: str) -> Any:
    return kubernetes.config.new_client_from_config(config_file=kubeconfig)


def _listed(list_call: Any, **labels: str) -> list[dict[str, Any]]:
    """What a namespaced list call of the API answers for the tunestream.io/ labels given."""
    selector = ",".join(f"tunestream.io/{k}={v}" for k, v in labels.items())
    answer = list_call(NAMESPACE, label_selector=selector, _preload_content=False)
    return list(json.loads(answer.data)["items"])


def _jobs(kube: Any, **labels: str) -> list[dict[str, Any]]:
    return _listed(kubernetes.client.BatchV1Api(kube).list_namespaced_job, **labels)


def _pods(kube: Any, **labels: str) -> list[dict[str, Any]]:
    return _listed(kubernetes.client.CoreV1Api(kube).list_namespaced_pod, **labels)


@pytest.fixture(scope="module")
def launcher(
    services: Services, settings: Settings, kubeconfig: str, kube: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SideLauncher]:
    """A launcher with only the kubernetes backend, next to the session's process launcher."""
    kl = SideLauncher(
        services,
        "k8s-launcher",
        f"{settings.launcher_id}-k8s",
        {
            "TUNESTREAM_LAUNCHER_BACKENDS": "kubernetes",
            "TUNESTREAM_LAUNCHER_SLOTS": "2",
            "TUNESTREAM_LAUNCHER_GPUS": "auto",
            "TUNESTREAM_KUBE_CONFIG": kubeconfig,
            "TUNESTREAM_KUBE_IMAGE_PULL_POLICY": "Never",
            "TUNESTREAM_KUBE_POLL_S": "0.5",
            "TUNESTREAM_WORK_DIR": str(tmp_path_factory.mktemp("k8s-launcher")),
        },
    )
    kl.start()
    try:
        yield kl
    finally:
        kl.kill(signal.SIGTERM)
        if "kubelet   stopped" in _script("status").stdout:  # a test that killed it brings it back; make sure
            _script("start", "kubelet", timeout_s=180)
        for job in _jobs(kube, launcher=kl.launcher_id):
            kubernetes.client.BatchV1Api(kube).delete_namespaced_job(
                job["metadata"]["name"], NAMESPACE, propagation_policy="Background"
            )


def k8s_job(name: str, *, jobs: int = 1, parallel: int = 1, image: str = IMAGE, **static: str) -> dict[str, Any]:
    return trainer_image_job(name, "it-k8s", jobs=jobs, parallel=parallel, image=image, **static)


def _checkpointing(api: TunestreamClient, store: S3ObjectStore, name: str) -> str:
    """A 12-epoch training job that may be retried once, once it has pushed a checkpoint of epoch 2."""
    uri = f"s3://tunestream/it-k8s/{name}/checkpoints"
    job = k8s_job(name, epochs="12", sleep="0.5")
    job["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": uri}
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    api.create_tuning_job(job)
    training_job = first_training_job(api, name)

    def epoch() -> int:
        try:
            return int(store.get_bytes(f"{uri}/{training_job}/epoch"))
        except Exception:
            return 0

    wait_for("a checkpoint of epoch 2", lambda: epoch() >= 2, timeout_s=60)
    return training_job


def test_a_tuning_job_runs_as_kubernetes_jobs_with_its_gpus_and_values_as_given(
    api: TunestreamClient, launcher: SideLauncher, kube: Any, store: S3ObjectStore, run_id: str
) -> None:
    name = f"k8s-ok-{run_id}"
    data = f"s3://tunestream/it-k8s/{name}/train"
    store.put_bytes(f"{data}/a.csv", b"1,2\n")
    store.put_bytes(f"{data}/sub/b.csv", b"3,4\n")
    checkpoints = f"s3://tunestream/it-k8s/{name}/checkpoints"
    job = k8s_job(name, jobs=3, parallel=2, sleep="1")
    definition = job["TrainingJobDefinition"]
    definition["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": data, "S3DataType": "S3Prefix"}}}
    ]
    definition["CheckpointConfig"] = {"S3Uri": checkpoints}
    definition["ResourceConfig"] = {"InstanceCount": 1, "GpuCount": 1}
    # Kubernetes expands $(VAR) in env values and args: a job's own values must reach it untouched.
    odd = "$(HOME) ${HOME} $$ 'q'"
    definition["Environment"] = {"TRAINER_ECHO": odd}
    submitted = time.monotonic()
    api.create_tuning_job(job)
    training_job = first_training_job(api, name)
    wait_for("its first line", lambda: "training with x=" in api.logs(training_job), timeout_s=60)
    print(f"kubernetes backend: submission to the program's first line in the log {time.monotonic() - submitted:.2f} s")
    (running,) = wait_for("its Job", lambda: _jobs(kube, **{"training-job": training_job}) or None)
    container = running["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert running["metadata"]["labels"]["tunestream.io/launcher"] == launcher.launcher_id
    describe = wait_until_ended(api, name, timeout_s=120)

    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert describe["TrainingJobStatusCounters"]["Completed"] == 3, describe["TrainingJobStatusCounters"]
    for summary in api.training_jobs(name):
        tj = summary["TrainingJobName"]
        x = float(summary["TunedHyperParameters"]["x"])
        assert abs(summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] - (1 - (x - 0.3) ** 2)) < 1e-5
        training = api.describe_training_job(tj)
        assert training["TrainingJobStatus"] == "Completed" and training["ExitCode"] == 0, training
        assert training["LauncherId"] == launcher.launcher_id
        artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
        with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
            model = json.loads(tar.extractfile("model.txt").read())  # type: ignore[union-attr]
            train_files = tar.extractfile("train-files.txt").read().decode()  # type: ignore[union-attr]
        assert model == training["HyperParameters"]
        assert train_files.split() == ["a.csv", "sub/b.csv"]
        assert store.get_bytes(f"{checkpoints}/{tj}/epoch").strip() == b"3"
        log_text = api.logs(tj)
        assert f"echo={odd}\n" in log_text and "SM_CURRENT_HOST=algo-1" in log_text and "epoch=3 " in log_text
    # Each attempt's Job is deleted once reported.
    wait_for("the Jobs to be deleted", lambda: not _jobs(kube, **{"tuning-job": name}), timeout_s=30)


def test_stop_max_runtime_failures_and_refusals_on_kubernetes(
    api: TunestreamClient, launcher: SideLauncher, kube: Any, run_id: str
) -> None:
    hang = f"k8s-hang-{run_id}"
    job = k8s_job(hang, epochs="100", sleep="1", ignore_term="1")
    job["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] = 4
    api.create_tuning_job(job)
    fail = f"k8s-fail-{run_id}"
    failing = k8s_job(fail, fail="1")
    failing["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    api.create_tuning_job(failing)
    missing = f"k8s-noimg-{run_id}"
    api.create_tuning_job(k8s_job(missing, image="tunestream/does-not-exist:1"))

    described = only_training_job(api, hang, timeout_s=120)
    # A program that ignores SIGTERM is killed after the grace period; the stop stays a stop.
    assert described["TrainingJobStatus"] == "Stopped" and described["SecondaryStatus"] == "MaxRuntimeExceeded"
    failed = only_training_job(api, fail)
    assert failed["TrainingJobStatus"] == "Failed" and failed["ExitCode"] == 3, failed
    assert "bad hyperparameter fail=1" in failed["FailureReason"] and "FailedAttempts" not in failed
    no_image = only_training_job(api, missing)
    assert no_image["TrainingJobStatus"] == "Failed" and "FailedAttempts" not in no_image
    reason = no_image["FailureReason"]
    assert re.match(r"ClientError: training image 'tunestream/does-not-exist:1' .*ErrImageNeverPull", reason)

    stop = f"k8s-stop-{run_id}"
    api.create_tuning_job(k8s_job(stop, epochs="100", sleep="1"))
    training_job = first_training_job(api, stop)
    wait_for("the program to run", lambda: "training with x=" in api.logs(training_job), timeout_s=60)
    api.stop(stop)
    assert wait_until_ended(api, stop, timeout_s=60)["HyperParameterTuningJobStatus"] == "Stopped"
    stopped = api.describe_training_job(training_job)
    assert stopped["TrainingJobStatus"] == "Stopped", stopped
    assert "got SIGTERM, stopping" in api.logs(training_job)
    for name in (hang, fail, missing, stop):
        wait_for(f"{name}'s Jobs to be deleted", lambda n=name: not _jobs(kube, **{"tuning-job": n}), timeout_s=30)


def _retried_from_checkpoint(api: TunestreamClient, name: str, training_job: str, reason: str) -> dict[str, Any]:
    describe = wait_until_ended(api, name, timeout_s=240)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    final = api.describe_training_job(training_job)
    assert final["TrainingJobStatus"] == "Completed", final
    (lost,) = final["FailedAttempts"]
    assert re.search(reason, lost["Reason"]), lost
    log_text = api.logs(training_job)
    resumed = re.findall(r"resumed from epoch (\d+)", log_text)
    assert resumed and int(resumed[-1]) >= 2, log_text[-3000:]
    return dict(lost)


def test_a_pod_deleted_under_its_job_is_a_retried_attempt_that_resumes_from_its_checkpoint(
    api: TunestreamClient, launcher: SideLauncher, kube: Any, store: S3ObjectStore, run_id: str
) -> None:
    name = f"k8s-delpod-{run_id}"
    training_job = _checkpointing(api, store, name)
    (pod,) = _pods(kube, **{"training-job": training_job})
    kubernetes.client.CoreV1Api(kube).delete_namespaced_pod(pod["metadata"]["name"], NAMESPACE)
    _retried_from_checkpoint(api, name, training_job, r"its pod \S+ was deleted outside tunestream")


def test_a_killed_kubelet_is_a_lost_node_whose_attempt_resumes_from_its_checkpoint(
    api: TunestreamClient, launcher: SideLauncher, kube: Any, store: S3ObjectStore, run_id: str
) -> None:
    name = f"k8s-node-{run_id}"
    training_job = _checkpointing(api, store, name)
    killed_at = time.time()
    done = _script("kill", "kubelet")
    assert done.returncode == 0, done.stderr
    try:
        # The only node is gone: the retry waits until it is back.
        lost_event = wait_for(
            "the attempt to be given up",
            lambda: (api.describe_training_job(training_job).get("FailedAttempts") or [None])[0],
            timeout_s=90,
        )
        noticed_s = datetime.fromisoformat(lost_event["At"]).timestamp() - killed_at
        print(f"kubernetes backend: the killed kubelet was noticed {noticed_s:.1f} s after it was killed")
    finally:
        started = _script("start", "kubelet", timeout_s=180)
        assert started.returncode == 0, started.stderr
    lost = _retried_from_checkpoint(api, name, training_job, r"its node tunestream-node was lost: it is not Ready")
    assert lost["LauncherId"] == launcher.launcher_id


def test_a_restarted_launcher_deletes_the_jobs_it_left_and_the_attempt_is_retried(
    api: TunestreamClient, launcher: SideLauncher, kube: Any, run_id: str
) -> None:
    name = f"k8s-restart-{run_id}"
    job = k8s_job(name, epochs="8", sleep="0.5")
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    api.create_tuning_job(job)
    training_job = first_training_job(api, name)
    wait_for("the program to run", lambda: "training with x=" in api.logs(training_job), timeout_s=60)
    (first,) = _jobs(kube, **{"training-job": training_job})
    launcher.kill(signal.SIGKILL)
    launcher.start()
    left = first["metadata"]["name"]
    mine = lambda: {j["metadata"]["name"] for j in _jobs(kube, launcher=launcher.launcher_id)}  # noqa: E731
    wait_for("the leftover Job to be deleted", lambda: left not in mine(), timeout_s=30)
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    final = api.describe_training_job(training_job)
    assert final["TrainingJobStatus"] == "Completed" and len(final["FailedAttempts"]) == 1, final


# --- tunestream's own services on the cluster (deploy/kubernetes/tunestream.yaml) ------------------

MANIFESTS = ROOT / "deploy" / "kubernetes" / "tunestream.yaml"
RUNTIME_IMAGE = "docker.io/tunestream/host-runtime:test"


def _runtime_image(tmp: Path) -> None:
    """An image that runs this checkout's tunestream with this machine's Python: nothing can be pulled
    or built from deploy/Dockerfile here, so its pods mount /usr, the Python and the checkout from
    the node (the tests' only liberty with the manifests, besides addresses and ports)."""
    root = tmp / "rootfs"
    for folder in ("etc", "tmp", "proc", "sys", "dev", "var"):
        (root / folder).mkdir(parents=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    archive = tmp / "runtime.tar"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "images" / "oci-archive.py"),
            str(root),
            RUNTIME_IMAGE,
            str(archive),
            "--entrypoint",
            json.dumps([str(ROOT / ".venv" / "bin" / "tunestream")]),
        ],
        check=True,
    )
    done = _script("import", str(archive))
    assert done.returncode == 0, done.stderr


def _for_this_machine(doc: dict[str, Any], settings: Settings, names: dict[str, Any]) -> dict[str, Any]:
    """A manifest pointed at the session's Kafka, PostgreSQL and S3 (on 127.0.0.1, so host network),
    with its own topics, free ports, and the runtime image."""
    kind = doc["kind"]
    if kind == "ConfigMap":
        doc["data"].update(names["config"])
    elif kind == "Secret":
        doc["stringData"].update(names["secrets"])
    pod = None
    if kind in ("Deployment", "StatefulSet", "Job"):
        pod = doc["spec"]["template"]["spec"]
    if pod is None:
        return doc
    pod["hostNetwork"] = True
    base_prefix = str(Path(sys.base_prefix).resolve())
    pod.setdefault("volumes", [])
    for name, path in (("host-usr", "/usr"), ("python", base_prefix), ("checkout", str(ROOT))):
        pod["volumes"].append({"name": name, "hostPath": {"path": path, "type": "Directory"}})
    for volume in pod["volumes"]:
        if volume["name"] == "work":
            volume["hostPath"]["path"] = names["work"]
    ports = names["ports"]
    for container in pod["containers"]:
        container["image"] = RUNTIME_IMAGE
        container["imagePullPolicy"] = "Never"
        container.setdefault("volumeMounts", [])
        for mount in container["volumeMounts"]:
            if mount["name"] == "work":
                mount["mountPath"] = names["work"]
        container["volumeMounts"] += [
            {"name": "host-usr", "mountPath": "/usr", "readOnly": True},
            {"name": "python", "mountPath": base_prefix, "readOnly": True},
            {"name": "checkout", "mountPath": str(ROOT), "readOnly": True},
        ]
        # The apiserver as the node reaches it (no kube-proxy for the service IP here).
        container.setdefault("env", []).extend({"name": k, "value": v} for k, v in names["apiserver"].items())
        for port in container.get("ports", []):
            port["containerPort"] = ports[port["containerPort"]]
        for probe in ("readinessProbe", "livenessProbe"):
            get = (container.get(probe) or {}).get("httpGet")
            if get and isinstance(get["port"], int):
                get["port"] = ports[get["port"]]
    return doc


def test_the_manifests_run_tunestream_on_the_cluster_and_its_launcher_runs_jobs_there(
    kube: Any, kubeconfig: str, settings: Settings, store: S3ObjectStore, run_id: str, tmp_path: Path
) -> None:
    import yaml
    from kubernetes.utils import create_from_dict

    _runtime_image(tmp_path)
    api_port = free_port_base(1)
    health_base = free_port_base(5)
    token = f"k8s-token-{run_id}"
    apiserver = urllib.parse.urlsplit(kube.configuration.host)
    names = {
        "config": {
            "TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TUNESTREAM_S3_ENDPOINT": settings.s3_endpoint,
            "TUNESTREAM_TOPIC_PREFIX": f"k8s-{run_id}",
            "TUNESTREAM_API_HOST": "127.0.0.1",
            "TUNESTREAM_API_PORT": str(api_port),
            "TUNESTREAM_HEALTH_HOST": "127.0.0.1",
            "TUNESTREAM_HEALTH_PORT_BASE": str(health_base),
            "TUNESTREAM_LAUNCHER_SLOTS": "2",
            "TUNESTREAM_KUBE_IMAGE_PULL_POLICY": "Never",
            "TUNESTREAM_KUBE_POLL_S": "0.5",
            "TUNESTREAM_WORK_DIR": str(tmp_path / "work"),
        },
        "secrets": {
            "TUNESTREAM_DATABASE_URL": settings.database_url.get_secret_value(),
            "TUNESTREAM_S3_ACCESS_KEY": settings.s3_access_key,
            "TUNESTREAM_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
            "TUNESTREAM_API_TOKEN": token,
        },
        "work": str(tmp_path / "work"),
        "ports": {8080: api_port, **{8090 + i: health_base + i for i in range(1, 5)}},
        "apiserver": {"KUBERNETES_SERVICE_HOST": apiserver.hostname, "KUBERNETES_SERVICE_PORT": str(apiserver.port)},
    }
    docs = [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == sorted(
        {
            "Namespace",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
            "Job",
            "Deployment",
            "Service",
            "StatefulSet",
        }
    )
    core = kubernetes.client.CoreV1Api(kube)
    try:
        for doc in docs:
            create_from_dict(kube, _for_this_machine(doc, settings, names))
        client = TunestreamClient(f"http://127.0.0.1:{api_port}", token=token)
        wait_for("the api in the cluster", lambda: _answers(f"http://127.0.0.1:{api_port}/readyz"), timeout_s=180)
        name = f"k8s-incluster-{run_id}"
        client.create_tuning_job(k8s_job(name, jobs=2, parallel=2))
        describe = wait_until_ended(client, name, timeout_s=180)
        assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
        for summary in client.training_jobs(name):
            training = client.describe_training_job(summary["TrainingJobName"])
            # The StatefulSet's pod is the launcher; its service account made the Jobs.
            assert training["LauncherId"] == "tunestream-launcher-0", training
            assert "epoch=3 " in client.logs(summary["TrainingJobName"])
        pods = json.loads(core.list_namespaced_pod("tunestream", _preload_content=False).data)["items"]
        running = {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in pods}
        assert {"api", "suggester", "collector", "tracker", "launcher"} <= running
    finally:
        core.delete_namespace("tunestream")
        rbac = kubernetes.client.RbacAuthorizationV1Api(kube)
        rbac.delete_cluster_role_binding("tunestream-launcher-nodes")
        rbac.delete_cluster_role("tunestream-launcher-nodes")
        wait_for(
            "the namespace to go",
            lambda: "tunestream" not in {n.metadata.name for n in core.list_namespace().items},
            timeout_s=120,
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
