"""The container backend (Docker SDK): a training job runs in a container of its TrainingImage.

The job's folder is mounted at /opt/ml, so the program finds SageMaker's layout at SageMaker's
paths (and the checkpoints folder also at CheckpointConfig.LocalPath when that differs). Without a
Command the image is started with the argument `train`, as SageMaker does. GPUs are device requests
for exactly the ids the scheduler assigned. Every container carries labels naming its launcher,
incarnation and training job, so a restarted launcher finds and removes what an earlier run left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, IPAMConfig, IPAMPool, Mount

from tunestream.config import Settings
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.backend import Attempt, Exit, LaunchFailed, LineSink, RunOptions
from tunestream.launcher.layout import JobLayout, container_command, failure_reason, training_environment

log = logging.getLogger(__name__)

CONTAINER_ROOT = Path("/opt/ml")
LABEL = "tunestream"


def container_name(training_job_name: str, attempt: int, host: str = "algo-1") -> str:
    suffix = "" if host == "algo-1" else f"-{host}"
    return f"tunestream-{training_job_name}-{attempt + 1}{suffix}"


def hosts_network_name(training_job_name: str, attempt: int) -> str:
    return f"tunestream-{training_job_name}-{attempt + 1}-hosts"


# The hosts of a training job of several instances meet on a network of their own, internal (no
# route out), with an address each in a /24 picked at random from this range, and each other's names
# in /etc/hosts: the engines deploy/docker.sh starts run without iptables, so Docker's embedded DNS
# cannot be relied on to resolve algo-2.
HOSTS_SUBNETS = (10, 200, 254)


class ContainerEngine:
    """One Docker engine and how this launcher runs containers on it."""

    def __init__(
        self,
        client: Any,
        network: str,
        cpus: float | None,
        memory: str | None,
        pull_missing: bool = True,
        incarnation: str = "",
    ) -> None:
        self.client = client
        self.network = network
        self.cpus = cpus
        self.memory = memory
        self.pull_missing = pull_missing
        # The launcher process's incarnation, on every container's labels.
        self.incarnation = incarnation

    @classmethod
    def connect(cls, settings: Settings, incarnation: str = "") -> ContainerEngine:
        try:
            client = docker.DockerClient(base_url=settings.docker_host) if settings.docker_host else docker.from_env()
            client.ping()
        except DockerException as exc:
            where = settings.docker_host or "DOCKER_HOST or the default socket"
            raise RuntimeError(f"the container backend cannot reach a Docker engine at {where}: {exc}") from exc
        return cls(
            client, settings.docker_network, settings.docker_cpus, settings.docker_memory, incarnation=incarnation
        )

    def reap(self, launcher_id: str) -> int:
        """Remove every container an earlier run of this launcher left (and the networks of its jobs
        of several instances); their attempts are reported lost."""
        removed = 0
        mine = {"label": f"{LABEL}.launcher={launcher_id}"}
        for container in self.client.containers.list(all=True, filters=mine):
            with contextlib.suppress(NotFound):
                container.remove(force=True)
                removed += 1
                log.warning("removed leftover container %s (%s)", container.name, container.labels)
        for network in self.client.networks.list(filters=mine):
            with contextlib.suppress(NotFound, APIError):
                network.remove()
        return removed

    @property
    def host_network(self) -> bool:
        """Containers share the engine host's network: a job's hosts meet on its loopback."""
        return self.network == "host"

    def hosts_network(self, name: str, labels: dict[str, str]) -> tuple[Any, str]:
        """A network for one attempt's hosts and its /24 prefix (10.x.y); an address range another
        network holds is skipped."""
        first, low, high = HOSTS_SUBNETS
        for _ in range(8):
            prefix = f"{first}.{random.randint(low, high)}.{random.randint(0, 255)}"
            with contextlib.suppress(NotFound):
                self.client.networks.get(name).remove()
            try:
                pool = IPAMPool(subnet=f"{prefix}.0/24", gateway=f"{prefix}.1")
                network = self.client.networks.create(
                    name, driver="bridge", internal=True, labels=labels, ipam=IPAMConfig(pool_configs=[pool])
                )
                return network, prefix
            except APIError as exc:
                if "overlap" not in str(exc).lower():
                    raise
        raise RuntimeError(f"no free address range for the network {name} in {first}.{low}-{high}.x")

    def kill_leftover(self, layout: JobLayout) -> None:
        return None  # containers are found by their labels, at the launcher's start (reap)

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> ContainerProgram:
        return ContainerProgram(spec, tuning_job_name, attempt, layout, options, self)


class ContainerProgram:
    def __init__(
        self,
        spec: TrainingJobSpec,
        tuning_job_name: str,
        attempt: Attempt,
        layout: JobLayout,
        options: RunOptions,
        engine: ContainerEngine,
    ) -> None:
        self.spec = spec
        self.tuning_job_name = tuning_job_name
        self.attempt = attempt
        self.layout = layout
        self._options = options
        self._engine = engine
        self._container: Any = None
        self._output: Any = None
        self._oom = False
        # A job of several instances: the hosts' network, which the last host's cleanup removes.
        self._network_name = hosts_network_name(spec.training_job_name, attempt.number)

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    async def launch(self) -> int:
        return await asyncio.to_thread(self._create_and_start)

    def _create_and_start(self) -> int:
        client = self._engine.client
        image = self.spec.training_image
        assert image is not None
        self._ensure_image(image)
        layout = self.layout
        name = container_name(self.name, self.attempt.number, layout.host)
        with contextlib.suppress(NotFound):
            client.containers.get(name).remove(force=True)
        labels = {
            f"{LABEL}.launcher": self._options.launcher_id,
            f"{LABEL}.incarnation": self._engine.incarnation,
            f"{LABEL}.tuning-job": self.tuning_job_name,
            f"{LABEL}.training-job": self.name,
            f"{LABEL}.attempt": str(self.attempt.number),
        }
        container_view = JobLayout(CONTAINER_ROOT, layout.host, layout.hosts, None, layout.groups, layout.group)
        several = len(layout.hosts) > 1
        network_mode = "none" if self.spec.network_isolation else self._engine.network
        extra_hosts: dict[str, str] | None = None
        master: tuple[str, int] | None = None
        address: str | None = None
        if several and self.attempt.master_port:
            if self._engine.host_network and not self.spec.network_isolation:
                extra_hosts = dict.fromkeys(layout.hosts, "127.0.0.1")
                master = ("127.0.0.1", self.attempt.master_port)
            else:
                prefix = self._hosts_prefix(labels)
                extra_hosts = {host: f"{prefix}.{k + 2}" for k, host in enumerate(layout.hosts)}
                address = extra_hosts[layout.host]
                master = (layout.hosts[0], self.attempt.master_port)
                if self.spec.network_isolation:
                    network_mode = self._network_name  # the hosts' network alone: no route out
        environment = training_environment(self.spec, container_view, {}, master=master)
        environment["SM_NUM_GPUS"] = str(len(self.attempt.gpus))
        mounts = [Mount(str(CONTAINER_ROOT), str(layout.host_root.resolve()), type="bind")]
        if several:  # what the hosts share, over each host's own folder
            for shared, there in ((layout.model_dir, "model"), (layout.output_dir, "output")):
                mounts.append(Mount(str(CONTAINER_ROOT / there), str(shared.resolve()), type="bind"))
        local = self.spec.checkpoint_local_path
        if local and Path(local) != CONTAINER_ROOT / "checkpoints":
            mounts.append(Mount(local, str(layout.checkpoint_dir.resolve()), type="bind"))
        try:
            self._container = client.containers.create(
                image,
                entrypoint=self.spec.container_entrypoint,
                command=container_command(self.spec),
                name=name,
                hostname=layout.host if several else None,
                extra_hosts=extra_hosts,
                environment=environment,
                mounts=mounts,
                labels=labels,
                network_mode=network_mode,
                device_requests=(
                    [DeviceRequest(driver="nvidia", device_ids=list(self.attempt.gpus), capabilities=[["gpu"]])]
                    if self.attempt.gpus
                    else None
                ),
                nano_cpus=int(self._engine.cpus * 1e9) if self._engine.cpus else None,
                mem_limit=self._engine.memory,
                stdin_open=False,
                tty=False,
            )
            if address is not None:
                # On the hosts' network with its own address (besides the engine network for the way
                # out, unless isolated): created on it, it had none, so it joins again with one.
                if network_mode == self._network_name:
                    client.api.disconnect_container_from_network(self._container.id, self._network_name)
                client.networks.get(self._network_name).connect(self._container, ipv4_address=address)
            # Attached before it starts, as `docker run` does: an attach after the start (even with
            # logs=1) loses whatever the program printed in between, e.g. its first lines.
            self._output = self._container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)
            self._container.start()
            self._container.reload()
        except APIError as exc:
            raise LaunchFailed(
                f"ClientError: cannot start a container of image {image!r}: {exc.explanation or exc}"
            ) from exc
        return int(self._container.attrs.get("State", {}).get("Pid") or 0)

    def _hosts_prefix(self, labels: dict[str, str]) -> str:
        """The hosts' network's address prefix: algo-1 makes the network, the others find it."""
        if self.layout.rank == 0:
            _, prefix = self._engine.hosts_network(self._network_name, labels)
            return prefix
        network = self._engine.client.networks.get(self._network_name)
        subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
        return str(subnet).rsplit(".", 1)[0]

    def _ensure_image(self, image: str) -> None:
        client = self._engine.client
        try:
            client.images.get(image)
            return
        except ImageNotFound:
            pass
        if self._engine.pull_missing:
            try:
                client.images.pull(image)
                return
            except DockerException as exc:
                raise LaunchFailed(
                    f"ClientError: training image {image!r} is not on launcher {self._options.launcher_id}'s "
                    f"Docker engine and could not be pulled: {exc}"
                ) from exc
        raise LaunchFailed(
            f"ClientError: training image {image!r} is not on launcher {self._options.launcher_id}'s Docker engine"
        )

    async def pump(self, line: LineSink) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()

        def follow() -> None:
            try:
                for out, err in self._output:
                    if out:
                        loop.call_soon_threadsafe(queue.put_nowait, ("stdout", out))
                    if err:
                        loop.call_soon_threadsafe(queue.put_nowait, ("stderr", err))
            except (DockerException, OSError, ValueError) as exc:  # OSError/ValueError: closed by _cleanup
                log.warning("training job %s: output stream ended: %s", self.name, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        reader = asyncio.create_task(asyncio.to_thread(follow))
        partial = {"stdout": b"", "stderr": b""}
        host = self.layout.log_host
        try:
            while (item := await queue.get()) is not None:
                stream, chunk = item
                *lines, partial[stream] = (partial[stream] + chunk).split(b"\n")
                for raw in lines:
                    await line(stream, raw.decode(errors="replace").rstrip("\r"), host)
            for stream, rest in partial.items():
                if rest:
                    await line(stream, rest.decode(errors="replace").rstrip("\r"), host)
        finally:
            reader.cancel()

    async def wait_exit(self) -> Exit:
        result = await asyncio.to_thread(self._container.wait)
        with contextlib.suppress(DockerException):
            await asyncio.to_thread(self._container.reload)
            self._oom = bool(self._container.attrs.get("State", {}).get("OOMKilled"))
        return Exit(int(result.get("StatusCode", -1)))

    async def signal(self, kill: bool) -> None:
        if self._container is None:
            return
        with contextlib.suppress(NotFound, APIError):  # APIError: it is not running any more
            await asyncio.to_thread(self._container.kill, "SIGKILL" if kill else "SIGTERM")

    async def cleanup(self) -> None:
        if self._output is not None:
            with contextlib.suppress(Exception):
                self._output.close()
        if self._container is not None:
            with contextlib.suppress(NotFound, APIError):
                await asyncio.to_thread(self._container.remove, force=True)
        if len(self.layout.hosts) > 1:
            await asyncio.to_thread(self._remove_hosts_network)

    def _remove_hosts_network(self) -> None:
        # Each host tries once its container is gone; the network goes with the last of them.
        with contextlib.suppress(NotFound, APIError):
            self._engine.client.networks.get(self._network_name).remove()

    def failure_reason(self, exit_code: int, stderr_tail: list[str]) -> str:
        if self._oom:
            return f"AlgorithmError: the container ran out of memory (limit {self._engine.memory}) and was killed"
        return failure_reason(self.layout, exit_code, stderr_tail)
