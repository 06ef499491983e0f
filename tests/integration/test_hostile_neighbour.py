"""One tenant cannot hurt another (issue #17, part 2): a hostile tuning job beside an innocent one
on the same launcher and collector.

The hostile job runs three programs at once: millions of one-character lines, one 100 MB line, and
a flood of 1 KB lines (TUNESTREAM_HOSTILE_OUTPUT_MB, 100 MB by default; 1024 in the full form),
under a metric regex that backtracks catastrophically in a backtracking engine. The innocent job's
program stamps each metric line with the time it printed it; the test measures how long each line
takes to be read by the launcher and to become a MetricReported event, alone and beside the hostile
job, and the gaps between the launcher's heartbeats. Figures go to test-artifacts/hostile_neighbour.json.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import statistics
import sys
import time
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from tests.integration.conftest import ARTIFACTS, PROGRAM, wait_until_ended
from tests.support.jobs import continuous, tuning_job
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.events.topics import Topics
from tunestream.events.v1 import LauncherHeartbeat, MetricReported, TrainingOutputLogged, decode
from tunestream.replay.source import read_history

OUTPUT_MB = int(float(os.environ.get("TUNESTREAM_HOSTILE_OUTPUT_MB", "100")))
EPOCHS = 30
# The regex a backtracking engine takes exponential time on for a line of x's with no y.
EVIL_REGEX = r"(x+x+)+y"
STAMP = re.compile(r"printed_at=([0-9.]+)")


def innocent_job(name: str) -> dict[str, Any]:
    return tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        seed=3,
        jobs=1,
        parallel=1,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
        static={"epochs": str(EPOCHS), "sleep": "0.1", "stamp": "1"},
        output="s3://tunestream/it/neighbour",
        max_runtime_s=120,
    )


def hostile_job(name: str) -> dict[str, Any]:
    return tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        strategy="Grid",
        jobs=3,
        parallel=3,
        ranges={"CategoricalParameterRanges": [{"Name": "mode", "Values": ["tiny", "longline", "spam"]}]},
        static={"epochs": "1", "tiny_lines": "3000000", "line_mb": "100", "spam_mb": str(OUTPUT_MB)},
        metrics=[{"Name": "score", "Regex": r"score=(\S+)"}, {"Name": "evil", "Regex": EVIL_REGEX + r"=([0-9.]+)"}],
        output="s3://tunestream/it/neighbour",
        max_runtime_s=300,
    )


def line_delays(settings: Settings, name: str) -> dict[str, list[float]]:
    """Per metric line: seconds from print to the launcher reading it, and to its MetricReported."""
    history = asyncio.run(read_history(settings.kafka_bootstrap_servers, Topics(settings.topic_prefix), name))
    read, reported = [], []
    printed: dict[int, float] = {}
    for event in history.training:
        if isinstance(event, TrainingOutputLogged):
            for line in event.payload.lines:
                if match := STAMP.search(line.text):
                    stamp = float(match.group(1))
                    read.append(line.at.timestamp() - stamp)
                    printed[round(line.at.timestamp() * 1e6)] = stamp
    for event in history.metrics:
        if isinstance(event, MetricReported) and event.payload.metric_name == "score":
            stamp = printed.get(round(event.payload.at.timestamp() * 1e6))
            if stamp is not None:
                reported.append(event.occurred_at.timestamp() - stamp)
    assert len(read) == EPOCHS and len(reported) == EPOCHS, (len(read), len(reported))
    return {"read": read, "reported": reported}


def heartbeat_gaps(settings: Settings, since: datetime, until: datetime) -> list[float]:
    """Gaps between the launcher's heartbeats in [since, until], read from the launchers topic."""

    async def read() -> list[float]:
        topic = Topics(settings.topic_prefix).launchers
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            # Without a group, the consumer is given every partition of the topic.
            partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
            assert partitions, f"no partitions of {topic}"
            # Heartbeats never stop coming: read up to the end as it is now.
            ends = await consumer.end_offsets(partitions)
            times = []
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for messages in batches.values():
                    for message in messages:
                        event = decode(message.value)
                        if (
                            isinstance(event, LauncherHeartbeat)
                            and event.payload.launcher_id == settings.launcher_id
                            and since <= event.occurred_at <= until
                        ):
                            times.append(event.occurred_at.timestamp())
        finally:
            await consumer.stop()
        times.sort()
        return [b - a for a, b in itertools.pairwise(times)]

    return asyncio.run(read())


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 4),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 4),
        "max": round(ordered[-1], 4),
    }


def run_innocent(api: TunestreamClient, settings: Settings, name: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    api.create_tuning_job(innocent_job(name))
    done = wait_until_ended(api, name, timeout_s=180)
    assert done["HyperParameterTuningJobStatus"] == "Completed", done
    return line_delays(settings, name), time.monotonic() - started


def test_a_hostile_job_does_not_slow_its_neighbour(api: TunestreamClient, settings: Settings, run_id: str) -> None:
    alone_from = datetime.now().astimezone()
    alone, alone_s = run_innocent(api, settings, f"neighbour-calm-{run_id}")
    alone_to = datetime.now().astimezone()

    hostile = f"neighbour-hostile-{run_id}"
    api.create_tuning_job(hostile_job(hostile))
    # The innocent job starts once the hostile programs are printing.
    deadline = time.monotonic() + 60
    while sum(1 for j in api.training_jobs(hostile) if j["TrainingJobStatus"] == "InProgress") < 3:
        assert time.monotonic() < deadline, api.training_jobs(hostile)
        time.sleep(0.2)
    time.sleep(1.0)
    beside_from = datetime.now().astimezone()
    beside, beside_s = run_innocent(api, settings, f"neighbour-beside-{run_id}")
    beside_to = datetime.now().astimezone()
    hostile_done = wait_until_ended(api, hostile, timeout_s=600)

    gaps_alone = heartbeat_gaps(settings, alone_from, alone_to)
    gaps_beside = heartbeat_gaps(settings, beside_from, beside_to)
    figures = {
        "output_mb": OUTPUT_MB,
        "alone": {
            "read_s": summary(alone["read"]),
            "reported_s": summary(alone["reported"]),
            "job_s": round(alone_s, 2),
        },
        "beside": {
            "read_s": summary(beside["read"]),
            "reported_s": summary(beside["reported"]),
            "job_s": round(beside_s, 2),
        },
        "heartbeat_gap_s": {"alone_max": round(max(gaps_alone), 3), "beside_max": round(max(gaps_beside), 3)},
        "hostile_status": hostile_done["HyperParameterTuningJobStatus"],
        "hostile_counters": hostile_done["TrainingJobStatusCounters"],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hostile_neighbour.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nhostile neighbour: {json.dumps(figures)}")

    # The hostile programs complete too: their objective lines are kept past the output cap.
    assert hostile_done["TrainingJobStatusCounters"]["Completed"] == 3, figures
    # The innocent job's metric lines reach the collector as they do alone, within a bound that leaves
    # room for the CPU the hostile programs themselves take from a small machine.
    assert figures["beside"]["reported_s"]["p90"] <= max(0.5, 4 * figures["alone"]["reported_s"]["p90"]), figures
    assert figures["beside"]["reported_s"]["max"] <= 2.0, figures
    assert figures["beside"]["job_s"] <= 1.5 * figures["alone"]["job_s"] + 1.0, figures
    # No heartbeat is late enough to come near the scheduler's timeout (4 s in these tests).
    assert figures["heartbeat_gap_s"]["beside_max"] <= 1.5, figures
