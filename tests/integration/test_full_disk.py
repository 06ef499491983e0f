"""A launcher whose work folder is full: the training job fails with that reason, and the launcher goes on.

The work folder is a real 8 MB tmpfs. A program that fills it fails on its own write; a program that
fits but leaves no room for the launcher's model.tar.gz fails the upload; each attempt's folder is
removed once reported, so the next training job on the same launcher completes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import Stack, running_stack, wait_until_ended
from tests.integration.conftest import PROGRAM
from tests.support.jobs import continuous, tuning_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small_disk() -> Iterator[Path]:
    mount = Path(tempfile.mkdtemp(prefix="tsfull-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


@pytest.fixture(scope="module")
def stack(small_disk: Path) -> Iterator[Stack]:
    with running_stack("fulldisk", {"TUNESTREAM_WORK_DIR": str(small_disk)}) as running:
        yield running


def one_job(name: str, **static: str) -> dict[str, Any]:
    return tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        jobs=1,
        parallel=1,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
        static={"epochs": "1", **static},
        output="s3://tunestream/it/fulldisk",
    )


def run(stack: Stack, name: str, **static: str) -> dict[str, Any]:
    stack.api.create_tuning_job(one_job(name, **static))
    wait_until_ended(stack, name, timeout_s=120)
    (job,) = stack.api.training_jobs(name)
    return stack.api.describe_training_job(job["TrainingJobName"])


def leftover_job_folders(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in work.glob("*/*") if p.is_dir())


def test_a_full_work_folder_fails_jobs_with_a_reason_and_the_launcher_goes_on(stack: Stack, small_disk: Path) -> None:
    tag = stack.topic_prefix[-6:]
    # The program's own write meets the full disk.
    filled = run(stack, f"fill-{tag}", mode="fill", fill_mb="32")
    assert filled["TrainingJobStatus"] == "Failed"
    assert "No space left on device" in filled["FailureReason"], filled["FailureReason"]

    # The program fits (5 of 8 MB), the launcher's model.tar.gz of it does not.
    fits = run(stack, f"fits-{tag}", mode="fill", fill_mb="5")
    assert fits["TrainingJobStatus"] == "Failed"
    assert "the launcher's work folder is full (No space left on device)" in fits["FailureReason"], fits

    # Both folders were removed once reported: the next job on the same launcher completes.
    assert leftover_job_folders(small_disk) == []
    fine = run(stack, f"fine-{tag}")
    assert fine["TrainingJobStatus"] == "Completed", fine
    assert stack.services.alive("launcher")
    assert leftover_job_folders(small_disk) == []
