"""Checkpoints and the objective's steps: a retried attempt that restores a checkpoint of its own
counts its values on from the step that checkpoint holds, so its curve continues rather than
restarting at step 1 and overwriting the steps before it. Real processes, no servers: checkpoints
go to a stand-in store that keeps bytes in memory."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.unit.scheduler.test_fleet import spec
from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import EventBase, TrainingJobStarted, TrainingOutputLogged
from tunestream.launcher.backend import Attempt, RunOptions
from tunestream.launcher.checkpoints import AttemptCheckpoints, CheckpointSync
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.process import ProcessBackend
from tunestream.launcher.run import TrainingRun
from tunestream.metric_values import MetricExtractor

# Resumes from its checkpoint, then per epoch: train, checkpoint (atomically), validate, print the epoch's
# value, which is the epoch / 100, so any value tells the step it must be recorded at.
PROGRAM = """
import json, os, pathlib, time
state = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"]) / "state.json"
done = json.loads(state.read_text())["epoch"] if state.is_file() else 0
for epoch in range(done + 1, 41):
    time.sleep(0.04)
    partial = state.with_name(".state.partial")
    partial.write_text(json.dumps({"epoch": epoch}))
    os.replace(partial, state)
    time.sleep(0.02)  # say, a validation pass: a push in this gap finds the new epoch before its line
    print(f"epoch={epoch} m={epoch / 100}", flush=True)
"""


class MemoryStore:
    """Keeps objects as bytes; notes, whenever a step is recorded, the epoch of the checkpoint stored."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.steps_recorded: list[int] = []
        self.epochs_stored: list[int] = []

    def put_file(self, uri: str, path: Path, content_type: str = "") -> None:
        self.objects[uri] = path.read_bytes()

    def put_bytes(self, uri: str, data: bytes, content_type: str = "") -> None:
        self.objects[uri] = data
        if uri.endswith(".steps"):
            step = json.loads(data)["step"]
            self.epochs_stored.append(json.loads(self.objects["s3://b/ckpt/tj-000/state.json"])["epoch"])
            self.steps_recorded.append(step)

    def get_bytes(self, uri: str) -> bytes:
        return self.objects[uri]

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        count = 0
        for uri, data in self.objects.items():
            if uri.startswith(uri_prefix):
                target = dest / uri[len(uri_prefix) :].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                count += 1
        return count


def checkpointing_job() -> object:
    return spec(0).model_copy(
        update={
            "command": [sys.executable, "-c", PROGRAM],
            "metric_definitions": [MetricDefinition(Name="m", Regex=r"m=([0-9.]+)")],
            "checkpoint_s3_uri": "s3://b/ckpt",
        }
    )


async def test_a_retry_from_its_own_checkpoint_continues_the_curve(tmp_path: Path) -> None:
    events: list[EventBase] = []

    async def publish(batch: Sequence[EventBase]) -> None:
        events.extend(batch)

    options = RunOptions(
        launcher_id="me",
        cwd=tmp_path,
        stop_grace_s=2,
        batch_interval_s=0.05,
        batch_lines=100,
        checkpoint_interval_s=0.2,
    )
    store = MemoryStore()
    job = checkpointing_job()
    first = TrainingRun(job, "tj", Attempt(0), JobLayout(tmp_path / "a0"), store, publish, options, ProcessBackend())  # type: ignore[arg-type]
    running = asyncio.create_task(first.run())
    await asyncio.sleep(1.0)
    first.interrupt("the launcher restarts")
    await asyncio.wait_for(running, timeout=30)
    # Several periodic pushes and the last one, each recording the step its checkpoint holds.
    assert len(store.steps_recorded) >= 3 and store.steps_recorded == store.epochs_stored, store.steps_recorded
    recorded = store.steps_recorded[-1]
    assert 0 < recorded < 40

    second = TrainingRun(job, "tj", Attempt(1), JobLayout(tmp_path / "a1"), store, publish, options, ProcessBackend())  # type: ignore[arg-type]
    await asyncio.wait_for(second.run(), timeout=60)
    started = {e.payload.attempt: e.payload for e in events if isinstance(e, TrainingJobStarted)}
    assert started[0].step_offset == 0 and started[1].step_offset == recorded

    # Numbered as the collector numbers them, every value lands on its own epoch's step.
    for attempt, payload in started.items():
        extractor = MetricExtractor(payload.metric_definitions, step_offset=payload.step_offset)
        lines = [
            line.text
            for e in events
            if isinstance(e, TrainingOutputLogged) and e.payload.attempt == attempt
            for line in e.payload.lines
        ]
        matches = [m for line in lines for m in extractor.feed(line)]
        assert matches and all(round(m.value * 100) == m.step for m in matches), (attempt, matches)
        if attempt == 1:
            assert matches[0].step == recorded + 1 and matches[-1].step == 40


def test_restore_takes_only_its_own_prefix_and_its_recorded_step(tmp_path: Path) -> None:
    store = MemoryStore()
    store.objects["s3://b/ckpt/tj-000/state.json"] = b'{"epoch": 3}'
    store.objects["s3://b/ckpt/tj-0001/state.json"] = b'{"epoch": 9}'  # another job, same leading characters
    store.objects["s3://b/ckpt/.tunestream/tj-000.steps"] = b'{"step": 3}'
    restored = CheckpointSync(store, "s3://b/ckpt", "tj-000", tmp_path / "own").restore()  # type: ignore[arg-type]
    assert (restored.files, restored.step) == (1, 3)
    assert [p.name for p in (tmp_path / "own").iterdir()] == ["state.json"]

    # A resumed job's first attempt takes its parent's files; its step is the spec's, not the parent's record.
    child = CheckpointSync(store, "s3://b/ckpt", "tj-002", tmp_path / "child", resume_from="tj-000")  # type: ignore[arg-type]
    assert child.restore() == type(restored)(1, None)

    # Files without a recorded step (pushed by an older launcher): the step is unknown.
    del store.objects["s3://b/ckpt/.tunestream/tj-000.steps"]
    assert CheckpointSync(store, "s3://b/ckpt", "tj-000", tmp_path / "again").restore().step is None


def test_a_step_is_recorded_only_with_changed_files(tmp_path: Path) -> None:
    store = MemoryStore()
    sync = CheckpointSync(store, "s3://b/ckpt", "tj-000", tmp_path)  # type: ignore[arg-type]
    (tmp_path / "state.json").write_text('{"epoch": 1}')
    assert sync.push(1) == 1 and store.steps_recorded == [1]
    assert sync.push(2) == 0 and store.steps_recorded == [1]  # nothing new: the files still hold step 1


def test_a_program_killed_between_its_checkpoint_and_its_line_keeps_the_last_push(tmp_path: Path) -> None:
    """The last push of an attempt that was stopped or interrupted: files written after the last
    objective line hold a step that was never printed, so S3 keeps the last consistent push."""
    store = MemoryStore()
    objective = [MetricDefinition(Name="m", Regex=r"m=([0-9.]+)")]
    sync = CheckpointSync(store, "s3://b/ckpt", "tj-000", tmp_path)  # type: ignore[arg-type]
    checkpoints = AttemptCheckpoints(sync, "tj-000", objective, step_offset=0, interval_s=10)
    checkpoints.restore()
    state = tmp_path / "state.json"
    state.write_text('{"epoch": 1}')
    checkpoints.observe("epoch=1 m=0.01")
    state.write_text('{"epoch": 2}')  # the next epoch's checkpoint, then killed before its line
    assert checkpoints.push_last(ended_by_itself=False) == 0 and store.steps_recorded == []
    # Killed right after its line: the files are that line's, and go up with its step.
    checkpoints.observe("epoch=2 m=0.02")
    assert checkpoints.push_last(ended_by_itself=False) == 1 and store.steps_recorded == [2]
    # A program that ended by itself printed after its last checkpoint (the contract): always pushed.
    state.write_text('{"epoch": 3}')
    checkpoints.observe("epoch=3 m=0.03")
    assert checkpoints.push_last(ended_by_itself=True) == 1 and store.steps_recorded == [2, 3]
