"""How the process backend starts programs: the missing-program check that stands in for exec's own
error behind setpriv, and the gate that lets only so many attempts set up and spawn at once.
Real processes, no servers: uploads go to a stand-in store that keeps what it is given."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.scheduler.test_fleet import spec
from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import (
    EventBase,
    TrainingJobFinished,
    TrainingJobSpec,
    TrainingJobStarted,
    TrainingOutputLogged,
)
from tunestream.launcher.backend import Attempt, LaunchFailed, RunOptions
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.process import ProcessBackend, ProcessProgram, can_isolate_processes, check_program
from tunestream.launcher.run import TrainingRun


def test_check_program(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(LaunchFailed, match=re.escape("cannot start './train.sh': not executable")):
        check_program("./train.sh", tmp_path, None)
    script.chmod(0o755)
    check_program("./train.sh", tmp_path, None)  # relative to the job's working directory
    check_program(str(script), None, None)
    with pytest.raises(LaunchFailed, match=re.escape("cannot start '/no/such/program': no such file")):
        check_program("/no/such/program", None, None)
    with pytest.raises(LaunchFailed, match="not found on PATH"):
        check_program("train.sh", None, "/usr/bin")
    check_program("train.sh", None, str(tmp_path))
    check_program("sh", None, os.environ.get("PATH"))


class KeepingStore:
    def __init__(self) -> None:
        self.files: dict[str, int] = {}

    def put_file(self, uri: str, path: Path, content_type: str = "") -> None:
        self.files[uri] = path.stat().st_size

    def put_bytes(self, uri: str, data: bytes, content_type: str = "") -> None:
        self.files[uri] = len(data)

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        return 0


class CountingProgram(ProcessProgram):
    """Counts the attempts that are inside launch at the same time."""

    inside = 0
    most = 0

    async def launch(self) -> int:
        CountingProgram.inside += 1
        CountingProgram.most = max(CountingProgram.most, CountingProgram.inside)
        try:
            await asyncio.sleep(0.05)  # a slow spawn: the others would pile in here without the gate
            return await super().launch()
        finally:
            CountingProgram.inside -= 1


class CountingBackend(ProcessBackend):
    def program(
        self, spec: TrainingJobSpec, tuning_job_name: str, attempt: Attempt, layout: JobLayout, options: RunOptions
    ) -> ProcessProgram:
        return CountingProgram(spec, attempt, layout, options)


async def test_a_burst_of_starts_passes_the_gate_a_few_at_a_time(tmp_path: Path) -> None:
    events: list[EventBase] = []

    async def publish(batch: Sequence[EventBase]) -> None:
        events.extend(batch)

    options = RunOptions(
        launcher_id="me",
        cwd=tmp_path,
        stop_grace_s=1,
        batch_interval_s=0.05,
        batch_lines=100,
        start_gate=asyncio.Semaphore(2),
    )
    store = KeepingStore()
    runs = [
        TrainingRun(
            spec(i).model_copy(update={"command": ["/bin/sh", "-c", "echo m=1"]}),
            "tj",
            Attempt(0),
            JobLayout(tmp_path / f"job-{i}"),
            store,  # type: ignore[arg-type]
            publish,
            options,
            CountingBackend(),
        )
        for i in range(8)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.run() for r in runs)), timeout=60)
    assert CountingProgram.most == 2
    started = [e for e in events if isinstance(e, TrainingJobStarted)]
    finished = [e for e in events if isinstance(e, TrainingJobFinished)]
    assert len(started) == 8
    assert sorted(e.payload.status.value for e in finished) == ["Completed"] * 8
    assert len(store.files) == 8  # every model.tar.gz uploaded


async def test_a_metric_line_is_sent_at_once_and_other_output_waits_for_its_batch(tmp_path: Path) -> None:
    """Early stopping waits on metric lines: they leave within milliseconds, not with the periodic batch."""
    sent: list[tuple[float, EventBase]] = []

    async def publish(batch: Sequence[EventBase]) -> None:
        sent.extend((time.monotonic(), e) for e in batch)

    options = RunOptions(launcher_id="me", cwd=tmp_path, stop_grace_s=1, batch_interval_s=30, batch_lines=100)
    program = "echo chatter; sleep 0.3; echo m=0.5; sleep 1.5; echo done"
    job = spec(0).model_copy(
        update={
            "command": ["/bin/sh", "-c", program],
            "metric_definitions": [MetricDefinition(Name="m", Regex=r"m=([0-9.]+)")],
        }
    )
    run = TrainingRun(
        job, "tj", Attempt(0), JobLayout(tmp_path / "job"), KeepingStore(), publish, options, ProcessBackend()
    )  # type: ignore[arg-type]
    started = time.monotonic()
    await asyncio.wait_for(run.run(), timeout=30)
    logged = [(at - started, e) for at, e in sent if isinstance(e, TrainingOutputLogged)]
    first_at, first = logged[0]
    assert [line.text for line in first.payload.lines] == ["chatter", "m=0.5"]
    assert first_at < 1.0  # the program ran on for 1.5 s after printing it
    assert [line.text for _, e in logged[1:] for line in e.payload.lines] == ["done"]


@pytest.mark.parametrize("compression", ["GZIP", "NONE"])
async def test_model_and_output_data_are_uploaded_as_sagemaker_lays_them_out(tmp_path: Path, compression: str) -> None:
    events: list[EventBase] = []

    async def publish(batch: Sequence[EventBase]) -> None:
        events.extend(batch)

    options = RunOptions(launcher_id="me", cwd=tmp_path, stop_grace_s=1, batch_interval_s=0.05, batch_lines=100)
    writes = (
        'mkdir -p "$SM_OUTPUT_DATA_DIR/sub" && echo d > "$SM_OUTPUT_DATA_DIR/sub/d.txt"'
        ' && echo m > "$SM_MODEL_DIR/m.txt"'
    )
    job = spec(0).model_copy(
        update={"command": ["/bin/sh", "-c", writes], "output_compression": compression, "output_s3_path": "s3://b/o"}
    )
    store = KeepingStore()
    run = TrainingRun(job, "tj", Attempt(0), JobLayout(tmp_path / "job"), store, publish, options, ProcessBackend())  # type: ignore[arg-type]
    await asyncio.wait_for(run.run(), timeout=60)
    [finished] = [e for e in events if isinstance(e, TrainingJobFinished)]
    base = f"s3://b/o/{job.training_job_name}/output/"
    if compression == "GZIP":
        assert sorted(store.files) == [base + "model.tar.gz", base + "output.tar.gz"]
        assert finished.payload.model_artifact_s3_uri == base + "model.tar.gz"
    else:
        assert sorted(store.files) == [base + "data/sub/d.txt", base + "model/m.txt"]
        assert finished.payload.model_artifact_s3_uri == base + "model/"


async def test_an_empty_output_data_folder_uploads_nothing(tmp_path: Path) -> None:
    async def publish(batch: Sequence[EventBase]) -> None:
        pass

    options = RunOptions(launcher_id="me", cwd=tmp_path, stop_grace_s=1, batch_interval_s=0.05, batch_lines=100)
    job = spec(0).model_copy(update={"command": ["/bin/sh", "-c", "true"], "output_s3_path": "s3://b/o"})
    store = KeepingStore()
    run = TrainingRun(job, "tj", Attempt(0), JobLayout(tmp_path / "job"), store, publish, options, ProcessBackend())  # type: ignore[arg-type]
    await asyncio.wait_for(run.run(), timeout=60)
    assert sorted(store.files) == [f"s3://b/o/{job.training_job_name}/output/model.tar.gz"]


@pytest.mark.skipif(not can_isolate_processes(), reason="no network namespace can be made here (unshare --net)")
async def test_a_network_isolated_program_reaches_nothing(tmp_path: Path) -> None:
    """EnableNetworkIsolation for a process: a server on this host's loopback answers the launcher,
    not the program, which has a network namespace of its own."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    probe = (
        "import socket, sys\n"
        "s = socket.socket(); s.settimeout(2)\n"
        f"print('reached=' + str(s.connect_ex(('127.0.0.1', {port})) == 0), flush=True)\n"
    )
    outputs: dict[bool, str] = {}
    for isolated in (False, True):
        events: list[EventBase] = []

        async def publish(batch: Sequence[EventBase], events: list[EventBase] = events) -> None:
            events.extend(batch)

        options = RunOptions(launcher_id="me", cwd=tmp_path, stop_grace_s=1, batch_interval_s=0.05, batch_lines=100)
        job = spec(0).model_copy(update={"command": [sys.executable, "-c", probe], "network_isolation": isolated})
        layout = JobLayout(tmp_path / f"job-{isolated}")
        run = TrainingRun(job, "tj", Attempt(0), layout, KeepingStore(), publish, options, ProcessBackend())  # type: ignore[arg-type]
        await asyncio.wait_for(run.run(), timeout=60)
        outputs[isolated] = " ".join(
            line.text for e in events if isinstance(e, TrainingOutputLogged) for line in e.payload.lines
        )
    server.close()
    assert "reached=True" in outputs[False] and "reached=False" in outputs[True], outputs
