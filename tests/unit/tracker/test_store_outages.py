"""An S3 store that is away is waited out where work must reach it: the tracker's log upload, the
launcher's model upload and last checkpoint push. A real error is not retried."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3.exceptions
from minio.error import InvalidResponseError, ServerError

from tests.support.launcher_runs import capturing_run
from tunestream.events.v1 import EventBase, TrainingJobAttemptFailed, TrainingJobFinished
from tunestream.launcher import run as run_module
from tunestream.launcher.layout import JobLayout
from tunestream.objstore.outages import store_unavailable
from tunestream.tracker import handler as tracker_module
from tunestream.tracker.handler import TrackerHandler

AWAY = urllib3.exceptions.MaxRetryError(None, "/bucket/key", "connection refused")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "away"),
    [
        (AWAY, True),
        (urllib3.exceptions.ProtocolError("connection reset"), True),
        (ConnectionRefusedError(), True),
        (ServerError("bad gateway", 502), True),
        (ServerError("not implemented", 501), True),
        (InvalidResponseError(503, "text/html", "<html>down</html>"), True),
        (InvalidResponseError(403, "text/html", "<html>no</html>"), False),
        (ValueError("a bug"), False),
        (PermissionError("local file"), False),
    ],
)
def test_what_counts_as_the_store_being_away(exc: BaseException, away: bool) -> None:
    assert store_unavailable(exc) is away


class FlakyStore:
    """Fails the first `failures` uploads with `error`, then stores."""

    def __init__(self, failures: int, error: BaseException = AWAY) -> None:
        self.failures = failures
        self.error = error
        self.stored: list[str] = []

    def put_file(self, uri: str, path: Path, content_type: str = "application/octet-stream") -> None:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        self.stored.append(uri)


def report(tmp_path: Path, store: FlakyStore, patience_s: float) -> list[EventBase]:
    layout = JobLayout(tmp_path)
    layout.model_dir.mkdir(parents=True, exist_ok=True)
    (layout.model_dir / "weights.bin").write_bytes(b"w")
    run, sent = capturing_run(layout, store, store_patience_s=patience_s)
    asyncio.run(run._report(0))
    return sent


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "retry_delay", lambda failures: 0.01)
    monkeypatch.setattr(tracker_module, "RETRY_DELAYS_S", (0.0,))


def test_the_model_upload_waits_out_a_store_that_is_away(tmp_path: Path) -> None:
    store = FlakyStore(failures=3)
    (finished,) = report(tmp_path, store, patience_s=60)
    assert isinstance(finished, TrainingJobFinished)
    assert finished.payload.model_artifact_s3_uri == store.stored[0]
    assert store.stored[0].endswith("/output/model.tar.gz")


def test_past_its_patience_the_attempt_fails_and_is_retried(tmp_path: Path) -> None:
    (failed,) = report(tmp_path, FlakyStore(failures=10**6), patience_s=0.05)
    assert isinstance(failed, TrainingJobAttemptFailed)
    assert failed.payload.reason.startswith("InternalServerError: model upload failed")


def test_a_real_upload_error_is_not_waited_on(tmp_path: Path) -> None:
    store = FlakyStore(failures=1, error=PermissionError("denied"))
    (failed,) = report(tmp_path, store, patience_s=60)
    assert isinstance(failed, TrainingJobAttemptFailed)
    assert store.failures == 0 and store.stored == []


class _Tracker(TrackerHandler):
    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(engine=None, store=None, bucket="b")  # type: ignore[arg-type]
        self.errors = errors
        self.writes = 0

    def write(self, events: Sequence[Any]) -> None:
        self.writes += 1
        if self.errors:
            raise self.errors.pop(0)


def test_the_tracker_writes_again_once_the_store_is_back() -> None:
    tracker = _Tracker([AWAY, ServerError("unavailable", 503)])
    asyncio.run(tracker._write_waiting_out_outages([SimpleNamespace(event_id="e-1")]))  # type: ignore[list-item]
    assert tracker.writes == 3


def test_the_tracker_does_not_retry_a_bug() -> None:
    tracker = _Tracker([ValueError("bad event")])
    with pytest.raises(ValueError):
        asyncio.run(tracker._write_waiting_out_outages([SimpleNamespace(event_id="e-1")]))  # type: ignore[list-item]
    assert tracker.writes == 1
