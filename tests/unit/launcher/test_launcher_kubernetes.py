"""The kubernetes backend's own logic, without a cluster: the Job of an attempt, names and labels the
API accepts, values Kubernetes will not expand, and what a pod's state means for the attempt (read
from canned API answers). tests/integration/test_kubernetes.py runs it on a real cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.launcher_runs import spec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, RunOptions
from tunestream.launcher.factory import parse_backends
from tunestream.launcher.kubernetes import (
    KubernetesCluster,
    KubernetesProgram,
    job_manifest,
    job_name,
    label_value,
    literal,
    node_trouble,
)
from tunestream.launcher.layout import JobLayout

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _manifest(**changes: Any) -> dict[str, Any]:
    gpus = changes.pop("gpus", ())
    job = spec(training_image="tunestream/test-trainer:1", **changes)
    return job_manifest(
        job,
        Attempt(0, gpus),
        "ts-job-1-abc123",
        {"tunestream.io/launcher": "l1"},
        Path("/nodes/work/job"),
        Path("/nodes/work/job/checkpoints"),
        pull_policy="Never",
        cpus="1",
        memory=None,
        stop_grace_s=5,
    )


def test_names_and_labels_are_what_the_api_accepts() -> None:
    assert label_value("launcher-1") == "launcher-1"
    long = label_value("x" * 80)
    odd = label_value("host:4/a b")
    for value in (long, odd, label_value("-"), label_value("Tuning_Job.2")):
        assert LABEL_VALUE.match(value), value
    assert label_value("a" * 70) != label_value("a" * 71)  # cut names stay apart
    names = {job_name("My-Training_Job" + "x" * 60, 3) for _ in range(20)}
    assert len(names) == 20  # a resubmission never meets a Job still being deleted
    for name in names:
        assert DNS_LABEL.match(name) and name.startswith("ts-my-training-job") and "-4-" in name


def test_kubernetes_reads_every_dollar_of_a_value_back_as_itself() -> None:
    # Kubernetes expands $(VAR) in args and env values and reads $$ as $; doubling every $ leaves
    # nothing for it to expand.
    assert literal("$(HOME) ${X} $$ $") == "$$(HOME) $${X} $$$$ $$"
    container = _manifest(environment={"ODD": "$(HOME)"}, hyperparameters={"x": "$(echo pwned)"})["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert {"name": "ODD", "value": "$$(HOME)"} in container["env"]
    assert container["args"] == ["python", "train.py", "--x", "$$(echo pwned)"]


def test_an_attempt_is_one_pod_never_replaced_with_the_layout_mounted() -> None:
    job = _manifest(command=[], max_runtime_s=100)
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 100 + 5 + 600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == 5
    container = pod["containers"][0]
    # Without a Command the image's entrypoint gets `train`, as SageMaker starts it.
    assert container["args"] == ["train"] and "command" not in container
    assert container["imagePullPolicy"] == "Never"
    assert container["volumeMounts"] == [{"name": "ml", "mountPath": "/opt/ml"}]
    assert pod["volumes"] == [{"name": "ml", "hostPath": {"path": "/nodes/work/job", "type": "Directory"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SM_NUM_GPUS"] == "0" and env["SM_TRAINING_JOB_NAME"] == "tj-001-abcdef12"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert container["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


def test_gpus_are_limits_and_a_checkpoint_path_of_the_jobs_own_is_mounted_too() -> None:
    job = _manifest(gpus=("0", "1"), checkpoint_s3_uri="s3://b/ck/", checkpoint_local_path="/ckpt")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert {"name": "SM_NUM_GPUS", "value": "2"} in container["env"]
    assert {"name": "checkpoints", "mountPath": "/ckpt"} in container["volumeMounts"]
    assert {"name": "checkpoints", "hostPath": {"path": "/nodes/work/job/checkpoints", "type": "Directory"}} in pod[
        "volumes"
    ]


def test_a_node_that_is_not_ready_cannot_be_trusted() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    condition = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": "stopped posting"}
    silent = {"status": {"conditions": [condition]}}
    assert node_trouble(ready) is None
    assert node_trouble({"status": {}}) is None  # still registering
    assert node_trouble(silent) == "it is not Ready (NodeStatusUnknown: stopped posting)"
    assert node_trouble(None) == "it is no longer in the cluster"


def test_launchers_run_image_jobs_one_way() -> None:
    assert parse_backends("process,kubernetes") == ["process", "kubernetes"]
    with pytest.raises(ValueError, match="container and kubernetes all run image training jobs"):
        parse_backends("container,kubernetes")


# --- what a pod's state means, from canned answers of the API -------------------------------------


class CannedCluster(KubernetesCluster):
    """A cluster whose reads answer from dicts: the pods of the Job, its nodes, the Job itself."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(api=None, namespace="ns", work_dir=tmp_path)
        self.pods: list[dict[str, Any]] = []
        self.node: dict[str, Any] | None = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        self.job: dict[str, Any] | None = {"status": {}}

    def read(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        name = call.__name__
        if name == "list_namespaced_pod":
            return {"items": self.pods}
        if name == "read_node":
            return self.node
        if name == "read_namespaced_job":
            return self.job
        raise AssertionError(name)


def _pod(state: dict[str, Any], deleted: bool = False, phase: str = "Running", **status: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "ts-job-1-abc-xyz", "creationTimestamp": "2026-12-03T10:00:00Z"}
    if deleted:
        metadata["deletionTimestamp"] = "2026-12-03T10:01:00Z"
    return {
        "metadata": metadata,
        "spec": {"nodeName": "n1"},
        "status": {"phase": phase, "containerStatuses": [{"name": "training", "state": state}], **status},
    }


def _program(tmp_path: Path) -> tuple[CannedCluster, KubernetesProgram]:
    cluster = CannedCluster(tmp_path)
    options = RunOptions(launcher_id="l1", cwd=tmp_path, stop_grace_s=5, batch_interval_s=1, batch_lines=100)
    program = cluster.program(spec(training_image="img:1"), "tj", Attempt(0), JobLayout(tmp_path / "job"), options)
    program.job = "ts-job-1-abc"
    return cluster, program


async def test_what_a_pod_says_about_the_attempt(tmp_path: Path) -> None:
    cluster, program = _program(tmp_path)
    assert await program.look() is None  # no pod yet: the Job is being started
    cluster.pods = [_pod({"waiting": {"reason": "ContainerCreating"}})]
    assert await program.look() is None
    cluster.pods = [_pod({"running": {}})]
    assert await program.look() is None
    cluster.pods = [_pod({"terminated": {"exitCode": 3, "reason": "Error"}})]
    assert await program.look() == Exit(3)
    assert program.failure_reason(3, []) == "AlgorithmError: training program exited with code 3"
    cluster.pods = [_pod({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})]
    assert await program.look() == Exit(137)
    assert program.failure_reason(137, []).startswith("AlgorithmError: the container ran out of memory")


async def test_what_is_not_the_programs_doing_is_retried(tmp_path: Path) -> None:
    cluster, program = _program(tmp_path)
    cluster.pods = [_pod({"running": {}})]
    cluster.node = {"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}}
    lost = await program.look()
    assert lost is not None and lost.interrupted is not None
    assert "its node n1 was lost: it is not Ready (NodeStatusUnknown" in lost.interrupted
    cluster.node = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    cluster.pods = [_pod({"terminated": {"exitCode": 143, "reason": "Error"}}, deleted=True)]
    deleted = await program.look()
    assert deleted is not None and "was deleted outside tunestream (exit code 143)" in str(deleted.interrupted)
    cluster.pods = [_pod({"running": {}}, phase="Failed", reason="Evicted", message="low on memory")]
    evicted = await program.look()
    assert evicted is not None and "failed before the program ended (Evicted: low on memory)" in str(
        evicted.interrupted
    )
    cluster.pods, cluster.job = [], None
    gone = await program.look()  # it had a pod, which went with its Job
    assert gone is not None and "its pod ts-job-1-abc-xyz was deleted outside tunestream" in str(gone.interrupted)
    program.pod = None
    vanished = await program.look()
    assert vanished is not None and "its Job vanished" in str(vanished.interrupted)
    # Stopped by tunestream: the same signs are the stop it asked for.
    program._stopped = True
    assert await program.look() == Exit(-15)
    cluster.pods = [_pod({"terminated": {"exitCode": 143, "reason": "Error"}}, deleted=True)]
    assert await program.look() == Exit(143)


async def test_an_image_that_cannot_be_had_is_the_jobs_error(tmp_path: Path) -> None:
    cluster, program = _program(tmp_path)
    cluster.pods = [_pod({"waiting": {"reason": "ErrImageNeverPull", "message": 'image "img:1" is not present'}})]
    assert await program.look() == Exit(127)
    assert program.failure_reason(127, []) == (
        "ClientError: training image 'img:1' cannot be run on the Kubernetes cluster "
        '(ErrImageNeverPull: image "img:1" is not present)'
    )
    # A pull error may pass (a registry's hiccup): not at once.
    cluster, program = _program(tmp_path)
    cluster.pods = [_pod({"waiting": {"reason": "ErrImagePull", "message": "timeout"}})]
    assert await program.look() is None


async def test_more_gpus_than_any_node_has_is_refused_at_once(tmp_path: Path) -> None:
    cluster, _ = _program(tmp_path)
    cluster.gpus_per_node = lambda: [2, 2]  # type: ignore[method-assign]
    options = RunOptions(launcher_id="l1", cwd=tmp_path, stop_grace_s=5, batch_interval_s=1, batch_lines=100)
    program = cluster.program(
        spec(training_image="img:1"), "tj", Attempt(0, ("0", "1", "2")), JobLayout(tmp_path / "job"), options
    )
    with pytest.raises(LaunchFailed, match=r"ResourceLimitExceeded: no Ready node .* has 3 nvidia\.com/gpu"):
        await program.launch()


class Deletions:
    """Records the deletions a program asks the API for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def delete_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.calls.append(("job", name, kwargs["grace_period_seconds"]))

    def delete_namespaced_pod(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.calls.append(("pod", name, kwargs["grace_period_seconds"]))


async def test_a_stop_deletes_the_pod_with_the_grace_period_or_the_job_before_it_has_one(tmp_path: Path) -> None:
    cluster, program = _program(tmp_path)
    deletions = Deletions()
    cluster.core.delete_namespaced_pod = deletions.delete_namespaced_pod  # type: ignore[method-assign]
    cluster.batch.delete_namespaced_job = deletions.delete_namespaced_job  # type: ignore[method-assign]
    await program.signal(kill=False)  # still pending: no pod yet
    assert deletions.calls == [("job", "ts-job-1-abc", 5)]
    assert await program.look() == Exit(-15)  # the stop it asked for, not a lost attempt
    cluster.pods = [_pod({"running": {}})]
    program.pod = "ts-job-1-abc-xyz"
    await program.signal(kill=False)
    await program.signal(kill=True)
    assert deletions.calls[1:] == [("pod", "ts-job-1-abc-xyz", 5), ("pod", "ts-job-1-abc-xyz", 1)]
