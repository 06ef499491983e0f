"""The kubernetes backend: each attempt of an image training job (TrainingImage) is a batch/v1 Job of
a Kubernetes cluster, made with the official `kubernetes` client; it replaces the container backend
on a launcher ("kubernetes" in TUNESTREAM_LAUNCHER_BACKENDS).

- The job's folder (SageMaker's layout) is a hostPath volume at /opt/ml, as the container backend
  bind-mounts it, so the launcher's work folder must be on a filesystem every node has at the same
  path (or at TUNESTREAM_KUBE_WORK_DIR). Checkpoints sync from it and the model uploads from it.
- The image is started as the container backend starts it: its entrypoint with `train`, or with the
  job's Command as arguments. Kubernetes expands `$(VAR)` in args and env values, so every `$` of a
  job's value is doubled, which Kubernetes reads back as the value itself.
- GPUs are `nvidia.com/gpu` limits (the cluster's device plugin picks the devices); CPU and memory
  requests and limits come from TUNESTREAM_KUBE_CPUS / _MEMORY.
- Output is the pod's log, followed; Kubernetes gives stdout and stderr as one stream.
- Stop is the pod's deletion with the launcher's grace period (SIGTERM, then SIGKILL).
- A pod deleted or evicted by someone else, a node that is not Ready (a dead kubelet), or a Job that
  vanished is an interrupted attempt, retried per RetryStrategy; an image that cannot be had fails the
  training job with a ClientError.
- Every Job carries labels naming its launcher, so a restarted launcher deletes what an earlier run
  of it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import threading
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, LineSink, RunOptions
from tunestream.launcher.layout import JobLayout, container_command, failure_reason, training_environment
from tunestream.launcher.remote import MAX_PARTIAL_BYTES, ClusterUnreachable, RemoteProgram

log = logging.getLogger(__name__)

CONTAINER_ROOT = Path("/opt/ml")
CONTAINER = "training"
LABEL = "tunestream.io"
GPU_RESOURCE = "nvidia.com/gpu"
# Waiting reasons that mean the image will not run as asked: the training job's own error.
IMAGE_ERRORS = frozenset(
    {"ErrImageNeverPull", "InvalidImageName", "ImagePullBackOff", "CreateContainerConfigError", "ErrImagePull"}
)
# An ErrImagePull may be a registry's hiccup; it counts once the kubelet has tried this long.
IMAGE_PULL_PATIENCE_S = 60.0
# Finished Jobs the launcher could not delete (it was gone) disappear after this long.
TTL_AFTER_FINISHED_S = 3600
# A Job whose launcher is gone for good ends this long after its MaxRuntime would have.
DEADLINE_MARGIN_S = 600
# The failure reason's share of the program's last lines (Kubernetes does not split stderr out).
TAIL_LINES = 20
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """`text` as a label value (63 characters of [A-Za-z0-9-_.]), a hash keeping it unique when cut."""
    if _LABEL_VALUE.match(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9-_.]", "-", text)[:50].strip("-_.")
    return f"{safe}-{digest}" if safe else digest


def job_name(training_job_name: str, attempt: int) -> str:
    """A Job name for one attempt: a DNS label, unique per submission (a deleted Job with the same
    name may still be going away)."""
    base = re.sub(r"[^a-z0-9-]", "-", training_job_name.lower())[:40].strip("-") or "job"
    return f"ts-{base}-{attempt + 1}-{uuid.uuid4().hex[:6]}"


def literal(value: str) -> str:
    """A value Kubernetes passes on unchanged: it expands $(VAR) in args and env and reads $$ as $."""
    return value.replace("$", "$$")


def job_manifest(
    spec: TrainingJobSpec,
    attempt: Attempt,
    name: str,
    labels: dict[str, str],
    node_root: Path,
    node_checkpoints: Path,
    *,
    pull_policy: str,
    cpus: str | None,
    memory: str | None,
    stop_grace_s: float,
) -> dict[str, Any]:
    """The batch/v1 Job of one attempt, as the API takes it."""
    image = spec.training_image
    assert image is not None
    env = training_environment(spec, JobLayout(CONTAINER_ROOT), {})
    env["SM_NUM_GPUS"] = str(len(attempt.gpus))
    mounts = [{"name": "ml", "mountPath": str(CONTAINER_ROOT)}]
    volumes: list[dict[str, Any]] = [{"name": "ml", "hostPath": {"path": str(node_root), "type": "Directory"}}]
    local = spec.checkpoint_local_path
    if local and Path(local) != CONTAINER_ROOT / "checkpoints":
        mounts.append({"name": "checkpoints", "mountPath": local})
        volumes.append({"name": "checkpoints", "hostPath": {"path": str(node_checkpoints), "type": "Directory"}})
    limits: dict[str, str] = {}
    if cpus:
        limits["cpu"] = cpus
    if memory:
        limits["memory"] = memory
    if attempt.gpus:
        limits[GPU_RESOURCE] = str(len(attempt.gpus))
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy,
        # As the container backend: the image's entrypoint (or ContainerEntrypoint), with `train`, the
        # job's Command or ContainerArguments.
        **({"command": [literal(a) for a in spec.container_entrypoint]} if spec.container_entrypoint else {}),
        "args": [literal(a) for a in container_command(spec)],
        "env": [{"name": k, "value": literal(v)} for k, v in env.items()],
        "volumeMounts": mounts,
        "resources": {"limits": limits, "requests": dict(limits)} if limits else {},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels, "annotations": {f"{LABEL}/training-job": spec.training_job_name}},
        "spec": {
            # One pod, never replaced: a retry is tunestream's decision (RetryStrategy), a new Job.
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
            "activeDeadlineSeconds": int(spec.max_runtime_s + stop_grace_s + DEADLINE_MARGIN_S),
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": max(1, round(stop_grace_s)),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def node_trouble(node: dict[str, Any] | None) -> str | None:
    """Why a node cannot be trusted to run its pods (not Ready: its kubelet is silent), or None."""
    if node is None:
        return "it is no longer in the cluster"
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return None
            why = condition.get("reason") or condition.get("status")
            return f"it is not Ready ({why}: {condition.get('message', '')})"
    return None  # no Ready condition reported yet: a node still registering


def container_status(pod: dict[str, Any]) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER:
            return dict(status)
    return {}


class KubernetesCluster:
    """How a launcher reaches one Kubernetes cluster: an API client, a namespace, the nodes' view of
    the work folder."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        work_dir: Path,
        node_work_dir: Path | None = None,
        pull_policy: str = "IfNotPresent",
        cpus: str | None = None,
        memory: str | None = None,
        poll_s: float = 1.0,
        incarnation: str = "",
    ) -> None:
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.namespace = namespace
        self.work_dir = work_dir.resolve()
        self.node_work_dir = node_work_dir
        self.pull_policy = pull_policy
        self.cpus = cpus
        self.memory = memory
        self.poll_s = poll_s
        self.incarnation = incarnation

    @classmethod
    def connect(cls, settings: Settings, incarnation: str = "") -> KubernetesCluster:
        from kubernetes import client, config

        try:
            if settings.kube_config is not None:
                api = config.new_client_from_config(config_file=str(settings.kube_config))
            else:
                try:
                    configuration = client.Configuration()
                    config.load_incluster_config(client_configuration=configuration)
                    api = client.ApiClient(configuration)
                except config.ConfigException:
                    api = config.new_client_from_config()
            client.VersionApi(api).get_code(_request_timeout=10)
        except Exception as exc:
            where = settings.kube_config or "the in-cluster service account or ~/.kube/config"
            raise RuntimeError(f"the kubernetes backend cannot reach a cluster through {where}: {exc}") from exc
        return cls(
            api,
            settings.kube_namespace,
            settings.work_dir,
            settings.kube_work_dir,
            settings.kube_image_pull_policy,
            settings.kube_cpus,
            settings.kube_memory,
            settings.kube_poll_s,
            incarnation,
        )

    def node_path(self, path: Path) -> Path:
        """Where a path of the launcher's work folder is on the nodes."""
        path = path.resolve()
        if self.node_work_dir is None:
            return path
        return self.node_work_dir / path.relative_to(self.work_dir)

    def read(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """An API call's answer as plain JSON (dicts, as the API writes them)."""
        answer = call(*args, _preload_content=False, _request_timeout=30, **kwargs)
        return json.loads(answer.data)

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.read(self.core.list_node).get("items") or [])

    def gpus_per_node(self) -> list[int]:
        """What each Ready node may give (allocatable nvidia.com/gpu)."""
        counts = []
        for node in self.nodes():
            if node_trouble(node) is None and not (node.get("spec") or {}).get("unschedulable"):
                allocatable = (node.get("status") or {}).get("allocatable") or {}
                counts.append(int(allocatable.get(GPU_RESOURCE, "0")))
        return counts

    def gpus(self) -> list[str]:
        """One id per GPU of the cluster's Ready nodes: the scheduler's count of what may run at once."""
        return [str(i) for i in range(sum(self.gpus_per_node()))]

    def reap(self, launcher_id: str) -> int:
        """Delete every Job an earlier run of this launcher left; their attempts are reported lost."""
        jobs = self.read(
            self.batch.list_namespaced_job,
            self.namespace,
            label_selector=f"{LABEL}/launcher={label_value(launcher_id)}",
        )
        names = [job["metadata"]["name"] for job in jobs.get("items") or []]
        for name in names:
            with contextlib.suppress(Exception):
                self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background")
        if names:
            log.warning("deleted %d Kubernetes Jobs an earlier run of this launcher left: %s", len(names), names)
        return len(names)

    def kill_leftover(self, layout: JobLayout) -> None:
        return None  # Jobs are found by their labels, at the launcher's start (reap)

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> KubernetesProgram:
        return KubernetesProgram(self, spec, tuning_job_name, attempt, layout, options)


class KubernetesProgram(RemoteProgram):
    cluster_name = "the Kubernetes API"

    def __init__(
        self,
        cluster: KubernetesCluster,
        spec: TrainingJobSpec,
        tuning_job_name: str,
        attempt: Attempt,
        layout: JobLayout,
        options: RunOptions,
    ) -> None:
        super().__init__(spec, attempt, layout, options, layout.root, cluster.poll_s)
        self.cluster = cluster
        self.tuning_job_name = tuning_job_name
        self.job: str | None = None
        self.pod: str | None = None
        self.node: str | None = None
        self._stopped = False  # tunestream deleted the pod
        self._done = threading.Event()  # the log follower's thread ends on it
        self._stream: Any = None
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._client_error: str | None = None
        self._oom = False
        self._pull_error_since: float | None = None
        self._message = ""

    def labels(self) -> dict[str, str]:
        return {
            f"{LABEL}/launcher": label_value(self._options.launcher_id),
            f"{LABEL}/incarnation": label_value(self.cluster.incarnation or "none"),
            f"{LABEL}/tuning-job": label_value(self.tuning_job_name),
            f"{LABEL}/training-job": label_value(self.name),
            f"{LABEL}/attempt": str(self.attempt.number),
        }

    def manifest(self) -> dict[str, Any]:
        self.job = self.job or job_name(self.name, self.attempt.number)
        return job_manifest(
            self.spec,
            self.attempt,
            self.job,
            self.labels(),
            self.cluster.node_path(self.layout.root),
            self.cluster.node_path(self.layout.checkpoint_dir),
            pull_policy=self.cluster.pull_policy,
            cpus=self.cluster.cpus,
            memory=self.cluster.memory,
            stop_grace_s=self._options.stop_grace_s,
        )

    async def launch(self) -> int:
        from kubernetes.client.exceptions import ApiException

        if self.spec.network_isolation:  # the scheduler sends such jobs only to launchers that isolate
            raise LaunchFailed("ClientError: EnableNetworkIsolation: the kubernetes backend cannot isolate a program")
        wanted = len(self.attempt.gpus)
        if wanted:
            per_node = await asyncio.to_thread(self.cluster.gpus_per_node)
            if wanted > max(per_node, default=0):
                raise LaunchFailed(
                    f"ResourceLimitExceeded: no Ready node of the Kubernetes cluster has {wanted} {GPU_RESOURCE} "
                    f"(the most on one node: {max(per_node, default=0)})"
                )
        body = self.manifest()
        try:
            # The client sends a plain dict as it is; its type hints only know its model classes.
            create: Callable[..., Any] = self.cluster.batch.create_namespaced_job
            await asyncio.to_thread(create, self.cluster.namespace, body)
        except ApiException as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
                raise LaunchFailed(f"ClientError: the Kubernetes API refused the Job: {_api_message(exc)}") from exc
            raise RuntimeError(f"creating Kubernetes Job {self.job} failed: {_api_message(exc)}") from exc
        log.info("training job %s attempt %d is Kubernetes Job %s", self.name, self.attempt.number + 1, self.job)
        # The Started event's pid: a number derived from the Job's name keeps the field's type.
        return zlib.crc32(body["metadata"]["name"].encode()) & 0x7FFFFFFF

    async def _read(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """An API read; None for a 404; ClusterUnreachable when the API cannot be asked."""
        from kubernetes.client.exceptions import ApiException

        try:
            return await asyncio.to_thread(self.cluster.read, call, *args, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClusterUnreachable(f"{exc.status} {_api_message(exc)}") from exc
        except Exception as exc:  # urllib3's connection errors, timeouts
            raise ClusterUnreachable(str(exc)) from exc

    async def _current_pod(self) -> dict[str, Any] | None:
        pods = await self._read(
            self.cluster.core.list_namespaced_pod,
            self.cluster.namespace,
            label_selector=f"batch.kubernetes.io/job-name={self.job}",
        )
        items = sorted((pods or {}).get("items") or [], key=lambda p: p["metadata"].get("creationTimestamp", ""))
        return items[0] if items else None

    async def look(self) -> Exit | None:
        pod = await self._current_pod()
        if pod is None:
            return await self._without_pod()
        self.pod = pod["metadata"]["name"]
        self.node = (pod.get("spec") or {}).get("nodeName") or self.node
        status = container_status(pod)
        state = status.get("state") or {}
        if "terminated" in state:
            return self._terminated(pod, state["terminated"])
        if pod["metadata"].get("deletionTimestamp") and not self._stopped:
            return self._interrupted(f"its pod {self.pod} was deleted outside tunestream")
        phase_reason = (pod.get("status") or {}).get("reason")
        if (pod.get("status") or {}).get("phase") == "Failed":
            message = (pod.get("status") or {}).get("message", "")
            return self._interrupted(f"its pod {self.pod} failed before the program ended ({phase_reason}: {message})")
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in IMAGE_ERRORS and self._image_error_final(waiting["reason"]):
            self._client_error = (
                f"ClientError: training image {self.spec.training_image!r} cannot be run on the Kubernetes "
                f"cluster ({waiting['reason']}: {waiting.get('message', '')})"
            )[:1024]
            return Exit(127)
        if self.node is not None:
            node = await self._read(self.cluster.core.read_node, self.node)
            trouble = node_trouble(node)
            if trouble is not None:
                return self._interrupted(f"its node {self.node} was lost: {trouble}")
        return None

    def _image_error_final(self, reason: str) -> bool:
        if reason != "ErrImagePull":
            return True
        now = asyncio.get_running_loop().time()
        self._pull_error_since = self._pull_error_since or now
        return now - self._pull_error_since > IMAGE_PULL_PATIENCE_S

    async def _without_pod(self) -> Exit | None:
        job = await self._read(self.cluster.batch.read_namespaced_job, self.job, self.cluster.namespace)
        if self._stopped:
            return Exit(-15)
        if self.pod is not None:  # it had one: someone deleted it (the Job then fails or goes too)
            return self._interrupted(f"its pod {self.pod} was deleted outside tunestream")
        if job is None:
            return self._interrupted("its Job vanished from the cluster")
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                return self._interrupted(
                    f"its Job failed without a pod ({condition.get('reason')}: {condition.get('message', '')})"
                )
        return None  # the pod is still to be made

    def _terminated(self, pod: dict[str, Any], terminated: dict[str, Any]) -> Exit:
        code = int(terminated.get("exitCode", 1))
        reason = terminated.get("reason") or ""
        self._message = str(terminated.get("message") or "").strip()
        if reason == "OOMKilled":
            self._oom = True
        if pod["metadata"].get("deletionTimestamp") and not self._stopped:
            return self._interrupted(f"its pod {self.pod} was deleted outside tunestream (exit code {code})")
        if reason == "StartError" and not self._stopped:
            self._client_error = f"ClientError: the container of training image {self.spec.training_image!r} "
            self._client_error += f"could not start: {self._message[:900]}"
        return Exit(code)

    def _interrupted(self, why: str) -> Exit:
        return Exit(-1, interrupted=f"InternalServerError: Kubernetes Job {self.job}: {why}"[:2048])

    # --- output ------------------------------------------------------------------------------------

    async def pump(self, line: LineSink) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def put(text: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, text)

        reader = asyncio.create_task(asyncio.to_thread(self._follow_log, put))
        try:
            while (text := await queue.get()) is not None:
                self._tail.append(text)
                await line("stdout", text)
        finally:
            self._done.set()
            self._close_stream()
            reader.cancel()

    def _follow_log(self, put: Callable[[str | None], None]) -> None:
        """The pod's log, followed from its first line; after a broken stream (an API server or kubelet
        restart) it is read again from the start and the lines already forwarded are skipped."""
        from kubernetes.client.exceptions import ApiException

        forwarded = 0
        try:
            while not self._done.is_set():
                if self.pod is None:
                    self._done.wait(0.1)
                    continue
                try:
                    self._stream = self.cluster.core.read_namespaced_pod_log(
                        self.pod, self.cluster.namespace, container=CONTAINER, follow=True, _preload_content=False
                    )
                    seen, partial = 0, b""
                    for chunk in self._stream.stream(64 * 1024):
                        *lines, partial = (partial + chunk).split(b"\n")
                        if len(partial) > MAX_PARTIAL_BYTES:  # a program that never ends its line
                            lines.append(partial)
                            partial = b""
                        for raw in lines:
                            seen += 1
                            if seen > forwarded:
                                forwarded = seen
                                put(raw.decode(errors="replace").rstrip("\r"))
                    if partial:
                        seen += 1
                        if seen > forwarded:
                            forwarded = seen
                            put(partial.decode(errors="replace").rstrip("\r"))
                    if self._container_ended():
                        return
                except ApiException as exc:
                    # A 404 may be the kubelet's, restarted and not knowing the pod yet; 400 while
                    # the container is being created.
                    if exc.status == 404 and self._pod_gone():
                        return
                except Exception as exc:  # a broken stream; read again unless the program has ended
                    if self._done.is_set():
                        return
                    log.debug("training job %s: log stream broke: %s", self.name, exc)
                finally:
                    self._close_stream()
                self._done.wait(0.2)
        finally:
            put(None)

    def _pod_gone(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.cluster.read(self.cluster.core.read_namespaced_pod, self.pod, self.cluster.namespace)
        except ApiException as exc:
            return exc.status == 404
        except Exception:
            return False
        return False

    def _container_ended(self) -> bool:
        """Whether the program's container has ended (or can no longer be asked about)."""
        try:
            pod = self.cluster.read(self.cluster.core.read_namespaced_pod, self.pod, self.cluster.namespace)
        except Exception:
            return self._done.is_set()
        return "terminated" in (container_status(pod).get("state") or {})

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.release_conn()
                stream.close()

    # --- stop and cleanup --------------------------------------------------------------------------

    async def signal(self, kill: bool) -> None:
        if self.job is None or self._ended.is_set():
            return
        self._stopped = True
        grace = 1 if kill else max(1, round(self._options.stop_grace_s))
        pod = self.pod or ((await self._current_pod_quietly()) or {}).get("metadata", {}).get("name")
        if pod is None:
            # No pod yet: the Job goes, so that none is made (and wait_exit sees the stop).
            await self._delete_job(grace_s=grace)
            return
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                self.cluster.core.delete_namespaced_pod, pod, self.cluster.namespace, grace_period_seconds=grace
            )

    async def _current_pod_quietly(self) -> dict[str, Any] | None:
        with contextlib.suppress(ClusterUnreachable):
            return await self._current_pod()
        return None

    async def cleanup(self) -> None:
        self._done.set()
        self._close_stream()
        await self._delete_job(grace_s=1)

    async def _delete_job(self, grace_s: int) -> None:
        """The attempt's Job and, in the background, its pod."""
        if self.job is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                self.cluster.batch.delete_namespaced_job,
                self.job,
                self.cluster.namespace,
                propagation_policy="Background",
                grace_period_seconds=grace_s,
            )

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        if self._client_error is not None:
            return self._client_error
        if self._oom:
            limit = f" (limit {self.cluster.memory})" if self.cluster.memory else ""
            return f"AlgorithmError: the container ran out of memory{limit} and was killed"
        return failure_reason(self.layout, exit_code, stderr_tail or list(self._tail))


def _api_message(exc: Any) -> str:
    """The API's own message of an ApiException (its Status body), else its text."""
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)[:500]
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason or exc)[:500]
