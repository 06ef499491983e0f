"""A training job of several instances on the process backend: one program per host, SageMaker's
per-host configuration, shared model folder, shards of a channel, and the group starting, failing
and stopping as one. Real processes, no servers: the store is a stand-in that keeps what it is given."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.scheduler.test_fleet import spec
from tunestream.events.v1 import (
    EventBase,
    InputChannel,
    InstanceGroupSpec,
    TrainingJobFinished,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingOutputLogged,
)
from tunestream.launcher.backend import Attempt, RunOptions
from tunestream.launcher.hosts import RENDEZVOUS_PORTS, RendezvousPorts, ephemeral_ports
from tunestream.launcher.layout import JobLayout, host_names
from tunestream.launcher.process import ProcessBackend, ProcessProgram
from tunestream.launcher.run import TrainingRun

OBJECTS = [f"part-{i}.csv" for i in range(5)]


class ChannelStore:
    """Serves five objects under every prefix, and keeps a copy of every uploaded file."""

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.files: dict[str, Path] = {}
        self.downloads = 0

    def put_file(self, uri: str, path: Path, content_type: str = "") -> None:
        copy = self.keep / f"upload-{len(self.files)}"
        copy.write_bytes(path.read_bytes())
        self.files[uri] = copy

    def put_bytes(self, uri: str, data: bytes, content_type: str = "") -> None:
        copy = self.keep / f"upload-{len(self.files)}"
        copy.write_bytes(data)
        self.files[uri] = copy

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        self.downloads += 1
        keys = OBJECTS[shard[0] :: shard[1]] if shard else OBJECTS
        dest.mkdir(parents=True, exist_ok=True)
        for key in keys:
            (dest / key).write_text(key)
        return len(keys)


def options(tmp_path: Path, grace: float = 1.0) -> RunOptions:
    return RunOptions(launcher_id="me", cwd=tmp_path, stop_grace_s=grace, batch_interval_s=0.05, batch_lines=100)


def job(script: str, count: int, **update: object) -> TrainingJobSpec:
    return spec(0).model_copy(update={"command": ["/bin/sh", "-c", script], "instance_count": count, **update})


def training_run(
    tmp_path: Path,
    job_spec: TrainingJobSpec,
    events: list[EventBase],
    store: ChannelStore | None = None,
    backend: ProcessBackend | None = None,
    gpus: tuple[str, ...] = (),
) -> TrainingRun:
    async def publish(batch: Sequence[EventBase]) -> None:
        events.extend(batch)

    return TrainingRun(
        job_spec,
        "tj",
        Attempt(0, gpus),
        JobLayout(tmp_path / "job"),
        store or ChannelStore(tmp_path),  # type: ignore[arg-type]
        publish,
        options(tmp_path),
        backend or ProcessBackend(),
    )


async def run_job(
    tmp_path: Path, job_spec: TrainingJobSpec, store: ChannelStore, gpus: tuple[str, ...] = ()
) -> list[EventBase]:
    events: list[EventBase] = []
    await asyncio.wait_for(training_run(tmp_path, job_spec, events, store, gpus=gpus).run(), timeout=60)
    return events


def lines_by_host(events: list[EventBase]) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for e in events:
        if isinstance(e, TrainingOutputLogged):
            for line in e.payload.lines:
                out.setdefault(line.host, []).append(line.text)
    return out


def finished(events: list[EventBase]) -> TrainingJobFinished:
    [end] = [e for e in events if isinstance(e, TrainingJobFinished)]
    return end


def test_each_host_has_its_own_input_and_checkpoints_and_shares_model_and_output(tmp_path: Path) -> None:
    layouts = JobLayout(tmp_path).host_layouts(3)
    assert [(h.host, h.hosts, h.rank) for h in layouts] == [(n, host_names(3), k) for k, n in enumerate(host_names(3))]
    assert len({h.config_dir for h in layouts}) == len({h.data_dir for h in layouts}) == 3
    assert {h.model_dir for h in layouts} == {tmp_path / "model"}
    assert [h.checkpoint_dir for h in layouts] == [tmp_path / "hosts" / n / "checkpoints" for n in host_names(3)]
    assert {h.output_data_dir for h in layouts} == {tmp_path / "output" / "data"}
    assert JobLayout(tmp_path).host_layouts(1) == [JobLayout(tmp_path)]


async def test_every_host_runs_with_its_name_rank_and_the_rendezvous(tmp_path: Path) -> None:
    script = (
        'echo "host=$SM_CURRENT_HOST rank=$RANK of $WORLD_SIZE at $MASTER_ADDR:$MASTER_PORT hosts=$SM_HOSTS"; '
        'cat "$SM_INPUT_CONFIG_DIR/resourceconfig.json"; echo; '
        'echo "$SM_CURRENT_HOST" > "$SM_MODEL_DIR/$SM_CURRENT_HOST.txt"; echo m=$RANK'
    )
    store = ChannelStore(tmp_path)
    events = await run_job(tmp_path, job(script, 2, output_s3_path="s3://b/o"), store)
    assert finished(events).payload.status.value == "Completed"
    started = [e for e in events if isinstance(e, TrainingJobStarted)]
    assert len(started) == 1  # one training job, however many hosts
    by_host = lines_by_host(events)
    assert sorted(h for h in by_host if h) == ["algo-1", "algo-2"]
    ports = set()
    for rank, host in enumerate(["algo-1", "algo-2"]):
        first, config, metric = by_host[host]
        match = re.fullmatch(rf'host={host} rank={rank} of 2 at 127\.0\.0\.1:(\d+) hosts=\["algo-1", "algo-2"\]', first)
        assert match is not None, first
        ports.add(match.group(1))
        assert json.loads(config)["current_host"] == host and json.loads(config)["hosts"] == ["algo-1", "algo-2"]
        assert metric == f"m={rank}"
    assert len(ports) == 1  # every host meets on the same port
    [port] = [int(p) for p in ports]
    assert port not in ephemeral_ports() and not RENDEZVOUS_PORTS.holds(port)  # given back at the end
    # One model.tar.gz holding what every host wrote into the shared model folder.
    [model] = [path for uri, path in store.files.items() if uri.endswith("model.tar.gz")]
    with tarfile.open(model) as tar:
        assert sorted(tar.getnames()) == ["algo-1.txt", "algo-2.txt"]


async def test_a_sharded_channel_gives_each_host_its_share_and_a_replicated_one_all(tmp_path: Path) -> None:
    channels = [
        InputChannel(name="train", s3_uri="s3://b/train", distribution="ShardedByS3Key"),
        InputChannel(name="test", s3_uri="s3://b/test"),
    ]
    script = 'echo "train=$(ls "$SM_CHANNEL_TRAIN" | tr "\\n" " ") test=$(ls "$SM_CHANNEL_TEST" | wc -l)"'
    store = ChannelStore(tmp_path)
    events = await run_job(tmp_path, job(script, 2, input_channels=channels), store)
    assert finished(events).payload.status.value == "Completed"
    by_host = lines_by_host(events)
    assert by_host["algo-1"] == ["train=part-0.csv part-2.csv part-4.csv  test=5"]
    assert by_host["algo-2"] == ["train=part-1.csv part-3.csv  test=5"]
    assert store.downloads == 3  # two shards, and the replicated channel once, linked for the other host


async def test_a_failing_host_ends_the_others_and_the_job_fails_naming_it(tmp_path: Path) -> None:
    script = 'if [ "$SM_CURRENT_HOST" = algo-2 ]; then echo boom >&2; exit 3; fi; exec sleep 30'
    began = time.monotonic()
    events = await run_job(tmp_path, job(script, 3), ChannelStore(tmp_path))
    end = finished(events).payload
    assert end.status.value == "Failed" and end.exit_code == 3
    assert (end.failure_reason or "").endswith("(on algo-2)") and "boom" in (end.failure_reason or "")
    assert time.monotonic() - began < 15  # algo-1 and algo-3 did not sleep their 30 s


async def test_a_stop_ends_every_host(tmp_path: Path) -> None:
    events: list[EventBase] = []
    run = training_run(tmp_path, job('echo "up $SM_CURRENT_HOST"; exec sleep 30', 2), events)
    task = asyncio.create_task(run.run())
    while len([line for lines in lines_by_host(events).values() for line in lines]) < 2:
        await asyncio.sleep(0.05)
    pids = [int((h.pid_file).read_text()) for h in run.hosts]
    run.request_stop("Stopped: test")
    await asyncio.wait_for(task, timeout=20)
    assert finished(events).payload.status.value == "Stopped"
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


class SecondHostCannotStart(ProcessBackend):
    def __init__(self) -> None:
        self.first: ProcessProgram | None = None

    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> ProcessProgram:
        if layout.host == "algo-1":
            self.first = ProcessProgram(spec, attempt, layout, options)
            return self.first
        broken = spec.model_copy(update={"command": ["/no/such/program"]})
        return ProcessProgram(broken, attempt, layout, options)


async def test_all_hosts_start_or_none_does(tmp_path: Path) -> None:
    events: list[EventBase] = []
    backend = SecondHostCannotStart()
    await asyncio.wait_for(training_run(tmp_path, job("exec sleep 30", 2), events, backend=backend).run(), timeout=20)
    end = finished(events).payload
    assert end.status.value == "Failed" and "/no/such/program" in (end.failure_reason or "")
    assert not [e for e in events if isinstance(e, TrainingJobStarted)]
    assert backend.first is not None and backend.first._process is not None
    assert backend.first._process.returncode is not None or not os.path.exists(f"/proc/{backend.first._process.pid}")


async def test_the_gpus_of_the_job_are_split_among_its_hosts(tmp_path: Path) -> None:
    script = 'echo "gpus=$CUDA_VISIBLE_DEVICES n=$SM_NUM_GPUS"'
    events = await run_job(tmp_path, job(script, 2, gpu_count=2), ChannelStore(tmp_path), gpus=("0", "1", "2", "3"))
    by_host = lines_by_host(events)
    assert by_host["algo-1"] == ["gpus=0,1 n=2"] and by_host["algo-2"] == ["gpus=2,3 n=2"]


def test_a_leftover_host_process_is_killed_when_its_folder_is_used_again(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "job")
    hosts = layout.host_layouts(2)
    sleepers = []
    for host in hosts:
        host.host_root.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
        host.pid_file.write_text(str(proc.pid))
        sleepers.append(proc)
    ProcessBackend().kill_leftover(layout)
    for proc in sleepers:
        assert proc.wait(timeout=10) == -9
    assert not any(h.pid_file.exists() for h in hosts)


async def test_instance_groups_place_hosts_their_gpus_and_their_channels(tmp_path: Path) -> None:
    """A heterogeneous cluster: two CPU hosts of group `data` get the channel (sharded), the GPU host
    of group `train` gets its GPU and none of the data; every host reads the groups in resourceconfig.json."""
    groups = [
        InstanceGroupSpec(name="data", instance_type="ml.c5.xlarge", count=2, gpus=0),
        InstanceGroupSpec(name="train", instance_type="ml.g5.xlarge", count=1, gpus=1),
    ]
    channels = [
        InputChannel(name="train", s3_uri="s3://b/train", distribution="ShardedByS3Key", instance_groups=["data"])
    ]
    script = (
        'echo "group=$SM_CURRENT_INSTANCE_GROUP type=$SM_CURRENT_INSTANCE_TYPE gpus=$CUDA_VISIBLE_DEVICES '
        'files=$(ls "$SM_CHANNEL_TRAIN" | wc -l) members=$SM_CURRENT_INSTANCE_GROUP_HOSTS"; '
        'cat "$SM_INPUT_CONFIG_DIR/resourceconfig.json"; echo'
    )
    job_spec = job(script, 3, instance_groups=groups, input_channels=channels, gpu_count=0)
    assert job_spec.total_gpus == 1
    events = await run_job(tmp_path, job_spec, ChannelStore(tmp_path), gpus=("7",))
    assert finished(events).payload.status.value == "Completed"
    by_host = lines_by_host(events)
    assert by_host["algo-1"][0] == 'group=data type=ml.c5.xlarge gpus= files=3 members=["algo-1", "algo-2"]'
    assert by_host["algo-2"][0] == 'group=data type=ml.c5.xlarge gpus= files=2 members=["algo-1", "algo-2"]'
    assert by_host["algo-3"][0] == 'group=train type=ml.g5.xlarge gpus=7 files=0 members=["algo-3"]'
    config = json.loads(by_host["algo-3"][1])
    assert config["current_group_name"] == "train" and config["current_instance_type"] == "ml.g5.xlarge"
    assert config["instance_groups"] == [
        {"instance_group_name": "data", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1", "algo-2"]},
        {"instance_group_name": "train", "instance_type": "ml.g5.xlarge", "hosts": ["algo-3"]},
    ]


def test_rendezvous_ports_lie_outside_the_ephemeral_range_and_are_held_until_given_back() -> None:
    ports = RendezvousPorts(ephemeral=range(29510, 65536), rng=random.Random(0), is_free=lambda p: True)
    first = [ports.take() for _ in range(10)]
    assert sorted(first) == list(range(29500, 29510))  # all ten, none twice, none ephemeral
    with pytest.raises(RuntimeError, match="rendezvous"):
        ports.take()
    ports.give_back(first[3])
    assert ports.take() == first[3]


def test_a_port_something_else_has_bound_is_passed_over() -> None:
    ports = RendezvousPorts(ephemeral=range(29503, 65536), rng=random.Random(0), is_free=lambda p: p != 29501)
    assert sorted(ports.take() for _ in range(2)) == [29500, 29502]


def test_two_launchers_on_one_machine_start_from_different_ports() -> None:
    starts = {
        RendezvousPorts(ephemeral=range(32768, 61000), rng=random.Random(k), is_free=lambda p: True).take()
        for k in range(5)
    }
    assert len(starts) == 5 and all(29500 <= p < 32768 or p > 61000 for p in starts)
