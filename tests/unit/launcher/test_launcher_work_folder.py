"""A finished attempt's folder is removed once reported, and a full work folder is a failure with a
reason, not a launcher that stops."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest

from tests.support.launcher_runs import capturing_run
from tunestream.events.v1 import EventBase, TrainingJobAttemptFailed, TrainingJobFinished
from tunestream.launcher import artifacts
from tunestream.launcher import run as run_module
from tunestream.launcher.layout import JobLayout


class Store:
    def __init__(self) -> None:
        self.stored: list[str] = []

    def put_file(self, uri: str, path: Path, content_type: str = "application/octet-stream") -> None:
        assert path.is_file()
        self.stored.append(uri)


def run_once(tmp_path: Path) -> tuple[JobLayout, list[EventBase]]:
    layout = JobLayout(tmp_path / "tuning-job" / "tj-001-abcdef12")
    run, sent = capturing_run(layout, Store(), batch_interval_s=0.05)
    asyncio.run(run.run())
    return layout, sent


def test_a_finished_attempts_folder_is_removed_once_reported(tmp_path: Path) -> None:
    layout, sent = run_once(tmp_path)
    assert isinstance(sent[-1], TrainingJobFinished)
    assert sent[-1].payload.model_artifact_s3_uri is not None
    assert not layout.root.exists()


def test_a_full_work_folder_fails_the_attempt_with_that_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(artifacts, "tar_folder", no_space)
    layout, sent = run_once(tmp_path)
    failed = sent[-1]
    assert isinstance(failed, TrainingJobAttemptFailed)
    assert failed.payload.reason == (
        "InternalServerError: model upload failed: the launcher's work folder is full (No space left on device)"
    )
    assert not layout.root.exists()  # the space goes back at once


def test_other_launcher_errors_keep_their_message() -> None:
    assert run_module.internal_reason("launcher error", ValueError("bad")) == "InternalServerError: launcher error: bad"
