"""Hostile training programs (issue #6, part 3): each ends in the right status with a reason, the
tuning job moves on, no process outlives its training job, and the services' memory stays bounded
while a program prints a flood of output.

TUNESTREAM_HOSTILE_OUTPUT_MB sets the flood (default 100 MB; the full test is 1024).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from tests.integration.conftest import PROGRAM, Services, training_processes, wait_until_ended
from tests.support.jobs import tuning_job
from tunestream.client import TunestreamClient

MODES = ["ok", "crash", "hang", "stubborn", "fork", "silent", "nan"]
OUTPUT_MB = float(os.environ.get("TUNESTREAM_HOSTILE_OUTPUT_MB", "100"))


def grid_job(name: str, modes: list[str], max_runtime_s: int, **static: str) -> dict[str, Any]:
    return tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        strategy="Grid",
        jobs=len(modes),
        parallel=min(4, len(modes)),
        ranges={"CategoricalParameterRanges": [{"Name": "mode", "Values": modes}]},
        static={"epochs": "3", **static},
        metrics=[{"Name": "score", "Regex": r"score=(\S+)"}],
        output="s3://tunestream/it/output",
        max_runtime_s=max_runtime_s,
    )


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")  # killed, waiting for init to reap it


def test_hostile_programs_end_right_and_the_tuning_job_moves_on(api: TunestreamClient, run_id: str) -> None:
    name = f"hostile-{run_id}"
    api.create_tuning_job(grid_job(name, MODES, max_runtime_s=6))
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    by_mode = {}
    for row in api.training_jobs(name):
        training = api.describe_training_job(row["TrainingJobName"])
        by_mode[training["HyperParameters"]["mode"]] = {**row, **training}
    assert set(by_mode) == set(MODES)

    assert by_mode["ok"]["TrainingJobStatus"] == "Completed" and by_mode["ok"]["ObjectiveStatus"] == "Succeeded"

    crash = by_mode["crash"]
    assert crash["TrainingJobStatus"] == "Failed"
    assert "crashed at start on purpose" in crash["FailureReason"] and "exited with code 1" in crash["FailureReason"]

    for mode in ("hang", "stubborn"):  # stubborn ignores SIGTERM: SIGKILL after the grace period
        job = by_mode[mode]
        assert job["TrainingJobStatus"] == "Stopped", job
        assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
        assert "MaxRuntimeInSeconds (6 s)" in job["FailureReason"] or "MaxRuntimeExceeded" in str(job)

    silent = by_mode["silent"]
    assert silent["TrainingJobStatus"] == "Completed" and silent["ObjectiveStatus"] == "Failed"
    assert "without printing the objective metric" in silent["ObjectiveStatusReason"]

    nan = by_mode["nan"]
    assert nan["TrainingJobStatus"] == "Completed" and nan["ObjectiveStatus"] == "Failed"
    assert "not a finite number" in nan["ObjectiveStatusReason"] and "nan" in nan["ObjectiveStatusReason"]
    assert (
        "FinalHyperParameterTuningJobObjectiveMetric" not in nan
        or not nan["FinalHyperParameterTuningJobObjectiveMetric"]
    )

    fork = by_mode["fork"]
    assert fork["TrainingJobStatus"] == "Completed" and fork["ObjectiveStatus"] == "Succeeded"
    log_text = api.logs(fork["TrainingJobName"])
    children = {kind: int(pid) for pid, kind in re.findall(r"child_pid=(\d+) kind=(\w+)", log_text)}
    assert set(children) == {"group", "setsid"}, log_text
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in children.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in children.values()), children
    assert training_processes(name) == [] or all(_gone(pid) for pid in training_processes(name))

    # The best is a real number (ok or fork, same x), never the NaN or the silent job.
    best = describe["BestTrainingJob"]
    assert best["TrainingJobName"] in (by_mode["ok"]["TrainingJobName"], fork["TrainingJobName"])
    assert describe["ObjectiveStatusCounters"]["Failed"] >= 5  # crash, hang, stubborn, silent, nan


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_flood_of_output_keeps_memory_bounded_and_the_objective(
    api: TunestreamClient, services: Services, run_id: str
) -> None:
    watched = ("launcher", "collector", "tracker")
    before = {s: rss_kb(services.procs[s].pid) for s in watched}
    peak = dict(before)
    name = f"flood-{run_id}"
    started = time.monotonic()
    api.create_tuning_job(grid_job(name, ["spam", "ok"], max_runtime_s=300, spam_mb=str(OUTPUT_MB)))
    deadline = time.monotonic() + 400
    while api.describe(name)["HyperParameterTuningJobStatus"] not in ("Completed", "Failed", "Stopped"):
        assert time.monotonic() < deadline, "the flood job did not end"
        peak = {s: max(peak[s], rss_kb(services.procs[s].pid)) for s in watched}
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    after = {s: rss_kb(services.procs[s].pid) for s in watched}
    describe = api.describe(name)
    print(f"\nflood of {OUTPUT_MB:.0f} MB in {elapsed:.1f}s; RSS kB before {before} peak {peak} after {after}")
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    spam = next(
        r
        for r in api.training_jobs(name)
        if api.describe_training_job(r["TrainingJobName"])["HyperParameters"]["mode"] == "spam"
    )
    assert spam["TrainingJobStatus"] == "Completed" and spam["ObjectiveStatus"] == "Succeeded", spam
    assert spam["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.5
    log_text = api.logs(spam["TrainingJobName"])
    assert "[tunestream] output truncated after" in log_text
    assert "of output were not forwarded" in log_text and "epoch=3 score=" in log_text
    assert len(log_text) < 12 * 1024 * 1024  # the default cap is 8 MiB
    for s in watched:  # bounded: growth far below the output's size
        assert peak[s] - before[s] < 300 * 1024, (s, before[s], peak[s])
