"""ManifestFile channels: the manifest's objects, under their relative keys, each host its share;
a bad manifest fails the training job with a ClientError instead of being retried."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.launcher.test_launcher_hosts import finished, job, lines_by_host, options
from tunestream.events.v1 import EventBase, InputChannel, TrainingJobStarted
from tunestream.launcher.backend import Attempt
from tunestream.launcher.layout import JobLayout
from tunestream.launcher.manifest import ManifestError, manifest_entries
from tunestream.launcher.process import ProcessBackend
from tunestream.launcher.run import TrainingRun

MANIFEST = [{"prefix": "s3://b/data/"}, "a.csv", "sub/b.csv", "c.csv"]


def test_entries_are_the_prefix_joined_with_each_relative_key() -> None:
    assert manifest_entries("s3://b/m.json", json.dumps(MANIFEST).encode()) == [
        ("s3://b/data/a.csv", "a.csv"),
        ("s3://b/data/sub/b.csv", "sub/b.csv"),
        ("s3://b/data/c.csv", "c.csv"),
    ]
    no_slash = [{"prefix": "s3://b/data"}, "a.csv"]
    assert manifest_entries("s3://b/m", json.dumps(no_slash).encode()) == [("s3://b/data/a.csv", "a.csv")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "is not JSON"),
        (b'["a.csv"]', 'starting with {"prefix"'),
        (b'[{"prefix": "/local/"}, "a"]', "must be an s3:// URI"),
        (b'[{"prefix": "s3://b/"}, "../escape"]', "item 1 must be a key relative to the prefix"),
        (b'[{"prefix": "s3://b/"}, "/abs"]', "item 1 must be a key relative to the prefix"),
    ],
)
def test_a_bad_manifest_names_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(ManifestError, match="ClientError: the manifest s3://b/m") as raised:
        manifest_entries("s3://b/m", body)
    assert reason in str(raised.value)


class ManifestStore:
    def __init__(self, manifest: bytes) -> None:
        self.manifest = manifest

    def get_bytes(self, uri: str) -> bytes:
        assert uri == "s3://b/m.json"
        return self.manifest

    def download_object(self, uri: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(uri)

    def put_file(self, uri: str, path: Path, content_type: str = "") -> None:
        pass


async def run(tmp_path: Path, manifest: bytes, hosts: int) -> list[EventBase]:
    events: list[EventBase] = []

    async def publish(batch: Sequence[EventBase]) -> None:
        events.extend(batch)

    channel = InputChannel(
        name="train", s3_uri="s3://b/m.json", data_type="ManifestFile", distribution="ShardedByS3Key"
    )
    script = 'echo "$(cd "$SM_CHANNEL_TRAIN" && find . -type f | sort | tr "\\n" " ")"'
    spec = job(script, hosts, input_channels=[channel])
    training = TrainingRun(
        spec,
        "tj",
        Attempt(0),
        JobLayout(tmp_path / "job"),
        ManifestStore(manifest),
        publish,
        options(tmp_path),
        ProcessBackend(),  # type: ignore[arg-type]
    )
    await asyncio.wait_for(training.run(), timeout=30)
    return events


async def test_each_host_downloads_its_share_of_the_listed_objects(tmp_path: Path) -> None:
    events = await run(tmp_path, json.dumps(MANIFEST).encode(), hosts=2)
    assert finished(events).payload.status.value == "Completed"
    assert lines_by_host(events) == {"algo-1": ["./a.csv ./c.csv "], "algo-2": ["./sub/b.csv "]}


async def test_a_bad_manifest_fails_the_training_job_before_it_starts(tmp_path: Path) -> None:
    events = await run(tmp_path, b'[{"prefix": "s3://b/"}, "../x"]', hosts=1)
    end = finished(events).payload
    assert end.status.value == "Failed" and end.failure_reason is not None
    assert end.failure_reason.startswith("ClientError: the manifest s3://b/m.json: item 1")
    assert not [e for e in events if isinstance(e, TrainingJobStarted)]
