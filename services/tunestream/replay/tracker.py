"""Tracker replay: the job's events through the tracker's own handler into a fresh schema, then a
row-by-row diff against the live read model."""

from __future__ import annotations

import heapq
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from tunestream.db.migrate import upgrade
from tunestream.db.tables import api_calls, log_batches, metric_points, training_jobs, tuning_jobs
from tunestream.events.v1 import Event
from tunestream.objstore.base import ObjectStore
from tunestream.replay.source import JobHistory
from tunestream.tracker.handler import TrackerHandler

# Columns left out of the diff, each because it legitimately differs between the live database and a
# replay of the same events:
IGNORED = {
    "tuning_jobs": {
        # The api writes the row before it publishes the job and sets published_at (its outbox) to the
        # moment Kafka acknowledged it; a replay only has the event, so it gets the event's time.
        "published_at",
        # Whose outbox the row was in: the api's bookkeeping before the event exists.
        "outbox_topic_prefix",
        # Set by the api's DeleteHyperParameterTuningJob straight in the database: not an event.
        "deleted_at",
    },
    "training_jobs": set[str](),
    # The audit trail's own outbox mark, as tuning_jobs.published_at.
    "api_calls": {"published_at", "outbox_topic_prefix"},
}
Rows = dict[str, dict[str, dict[str, Any]]]  # table -> primary key -> column -> value
# processed_events (the tracker's dedup bookkeeping) is not compared at all: it is keyed by event id
# across every job, and the replay fills it for the replayed schema only.


class _NoStore:
    """The replay must not overwrite the live logs in S3: log uploads go nowhere (the log's URI, the
    only trace of it in the database, is still computed by the tracker and compared)."""

    def ensure_bucket(self, bucket: str) -> None:
        pass

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        pass

    def put_file(self, uri: str, path: Path, content_type: str = "application/octet-stream") -> None:
        pass

    def get_bytes(self, uri: str) -> bytes:
        raise NotImplementedError("the tracker replay reads nothing from S3")

    def list_keys(self, uri_prefix: str) -> list[str]:
        return []

    def download_object(self, uri: str, dest: Path) -> None:
        raise NotImplementedError("the tracker replay reads nothing from S3")

    def download_prefix(self, uri_prefix: str, dest: Path, shard: tuple[int, int] | None = None) -> int:
        return 0


@dataclass
class Difference:
    table: str
    key: str
    field: str
    live: Any
    replayed: Any

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "field": self.field, "live": self.live, "replayed": self.replayed}

    def __str__(self) -> str:
        return f"{self.table}[{self.key}].{self.field}: live {self.live!r}, replayed {self.replayed!r}"


@dataclass
class TrackerReplay:
    events: int
    schema: str
    kept: bool
    differences: list[Difference] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def merged(history: JobHistory) -> Iterator[Event]:
    """The four topics interleaved by event time, each in its own partition order: what the live
    tracker read, up to the arrival order across topics (which its writes are built to tolerate)."""
    streams = [history.jobs, history.trials, history.training, history.metrics]
    return heapq.merge(*streams, key=lambda e: e.occurred_at)


def schema_name(job: str) -> str:
    return f"replay_{re.sub(r'[^a-z0-9]', '_', job.lower())}_{uuid.uuid4().hex[:6]}"[:63]


def schema_url(database_url: str, schema: str) -> str:
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def replay_tracker(
    database_url: str, bucket: str, history: JobHistory, *, keep: bool = False, live: Engine | None = None
) -> TrackerReplay:
    live_engine = live or create_engine(database_url)
    schema = schema_name(history.name)
    with live_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = schema_url(database_url, schema)
    replay_engine = create_engine(url)
    try:
        upgrade(url)
        store: ObjectStore = _NoStore()
        handler = TrackerHandler(replay_engine, store, bucket)
        count = 0
        for event in merged(history):
            handler.write([event])
            count += 1
        live_rows = snapshot(live_engine, history.name)
        replayed_rows = snapshot(replay_engine, history.name)
        result = TrackerReplay(events=count, schema=schema, kept=keep)
        result.differences = diff(live_rows, replayed_rows)
        result.rows = {table: len(rows) for table, rows in replayed_rows.items()}
        return result
    finally:
        replay_engine.dispose()
        if not keep:
            with live_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if live is None:
            live_engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def snapshot(engine: Engine, name: str) -> Rows:
    """The job's rows keyed by table and primary key, without the ignored columns."""
    out: Rows = {}
    with engine.connect() as conn:
        rows = conn.execute(select(tuning_jobs).where(tuning_jobs.c.name == name)).mappings().all()
        out["tuning_jobs"] = {
            r["name"]: {k: _plain(v) for k, v in r.items() if k not in IGNORED["tuning_jobs"]} for r in rows
        }
        jobs = conn.execute(select(training_jobs).where(training_jobs.c.tuning_job_name == name)).mappings().all()
        out["training_jobs"] = {
            r["name"]: {k: _plain(v) for k, v in r.items() if k not in IGNORED["training_jobs"]} for r in jobs
        }
        names = [r["name"] for r in jobs]
        points = conn.execute(select(metric_points).where(metric_points.c.training_job_name.in_(names))).mappings()
        out["metric_points"] = {
            f"{p['training_job_name']}/{p['metric_name']}/{p['step']}": {"value": p["value"], "at": _plain(p["at"])}
            for p in points
        }
        batches = conn.execute(select(log_batches).where(log_batches.c.training_job_name.in_(names))).mappings()
        out["log_batches"] = {
            f"{b['training_job_name']}/{b['seq']}": {"first_line": b["first_line"], "lines": b["lines"]}
            for b in batches
        }
        calls = conn.execute(select(api_calls).where(api_calls.c.tuning_job_name == name)).mappings()
        out["api_calls"] = {
            c["event_id"]: {k: _plain(v) for k, v in c.items() if k not in IGNORED["api_calls"]} for c in calls
        }
    # What Describe derives from the rows: the best training job and the counters.
    job_row = next(iter(out["tuning_jobs"].values()), {})
    statuses = Counter(r["status"] for r in out["training_jobs"].values())
    objectives = Counter(r["objective_status"] for r in out["training_jobs"].values())
    retryable = sum(1 for r in out["training_jobs"].values() if r["status"] == "Failed" and r["retryable"])
    out["derived"] = {
        name: {
            "BestTrainingJob": job_row.get("best_training_job_name"),
            **{f"TrainingJobStatus:{k}": v for k, v in sorted(statuses.items())},
            **{f"ObjectiveStatus:{k}": v for k, v in sorted(objectives.items())},
            "RetryableError": retryable,
        }
    }
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def diff(live: Rows, replayed: Rows) -> list[Difference]:
    out: list[Difference] = []
    for table in live.keys() | replayed.keys():
        a, b = live.get(table, {}), replayed.get(table, {})
        for key in sorted(a.keys() | b.keys()):
            if key not in b:
                out.append(Difference(table, key, "*", "present", "missing"))
            elif key not in a:
                out.append(Difference(table, key, "*", "missing", "present"))
            else:
                for column in sorted(a[key].keys() | b[key].keys()):
                    if not _same(a[key].get(column), b[key].get(column)):
                        out.append(Difference(table, key, column, a[key].get(column), b[key].get(column)))
    return sorted(out, key=lambda d: (d.table, d.key, d.field))
