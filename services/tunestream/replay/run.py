"""Runs the replays a `tunestream replay` asks for and shapes their report."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tunestream.config import Settings
from tunestream.events.topics import Topics
from tunestream.replay.source import JobHistory, read_history

COMPONENTS = ("all", "tracker", "suggester")


def load_history(settings: Settings, name: str) -> JobHistory:
    return asyncio.run(read_history(settings.kafka_bootstrap_servers, Topics(settings.topic_prefix), name))


def run_replay(
    settings: Settings, name: str, component: str = "all", *, keep: bool = False, history: JobHistory | None = None
) -> dict[str, Any]:
    """The report: events read, and per component what was replayed and every difference found."""
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {', '.join(COMPONENTS)}")
    started = time.perf_counter()
    history = history or load_history(settings, name)
    report: dict[str, Any] = {
        "tuning_job": name,
        "events": {
            "jobs": len(history.jobs),
            "trials": len(history.trials),
            "training": len(history.training),
            "metrics": len(history.metrics),
            "undecodable": history.undecodable,
        },
        "read_s": round(time.perf_counter() - started, 3),
        "components": {},
    }
    if not history.jobs:
        report["error"] = f"no TuningJobSubmitted for {name} on {Topics(settings.topic_prefix).jobs}"
        report["differences"] = 1
        return report
    if component in ("all", "tracker"):
        from tunestream.replay.tracker import replay_tracker

        t0 = time.perf_counter()
        tracker = replay_tracker(settings.database_url.get_secret_value(), settings.s3_bucket, history, keep=keep)
        report["components"]["tracker"] = {
            "events_replayed": tracker.events,
            "schema": tracker.schema,
            "kept": tracker.kept,
            "rows": tracker.rows,
            "differences": [d.as_dict() for d in tracker.differences],
            "seconds": round(time.perf_counter() - t0, 3),
        }
    if component in ("all", "suggester"):
        from tunestream.replay.suggester import replay_suggester

        t0 = time.perf_counter()
        suggester = replay_suggester(history)
        report["components"]["suggester"] = {
            "inputs_replayed": suggester.inputs,
            "decisions_recorded": suggester.recorded,
            "decisions_replayed": suggester.replayed,
            "decisions": suggester.decisions,
            "recorded_without_inputs": suggester.unpositioned,
            "differences": [d.as_dict() for d in suggester.differences],
            "seconds": round(time.perf_counter() - t0, 3),
        }
    report["differences"] = sum(len(c["differences"]) for c in report["components"].values())
    return report


def render(report: dict[str, Any]) -> list[str]:
    """The report as lines of text."""
    ev = report["events"]
    lines = [
        f"tuning job {report['tuning_job']}: read {ev['jobs']} jobs, {ev['trials']} trials, "
        f"{ev['training']} training and {ev['metrics']} metrics events in {report['read_s']:.2f}s"
    ]
    if "error" in report:
        lines.append(f"error: {report['error']}")
    for name, c in report["components"].items():
        if name == "tracker":
            where = f"; schema {c['schema']} kept" if c["kept"] else ""
            head = f"tracker: {c['events_replayed']} events replayed into a fresh schema{where}"
            rows = ", ".join(f"{n} {t}" for t, n in sorted(c["rows"].items()))
            lines.append(f"{head} ({rows}) in {c['seconds']:.2f}s")
        else:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(c["decisions"].items()))
            lines.append(
                f"suggester: {c['inputs_replayed']} input events, {c['decisions_recorded']} decisions recorded "
                f"({kinds}), {c['decisions_replayed']} re-derived in {c['seconds']:.2f}s"
            )
        lines.append(f"  differences: {len(c['differences'])}")
        for d in c["differences"][:50]:
            if name == "tracker":
                where = f"{d['table']}[{d['key']}].{d['field']}"
                lines.append(f"    {where}: live {d['live']!r}, replayed {d['replayed']!r}")
            elif d["kind"] == "changed":
                where = f"{d['event_id']}.{d['field']}"
                lines.append(f"    {where}: recorded {d['recorded']!r}, replayed {d['replayed']!r}")
            else:
                lines.append(f"    {d['event_id']}: {d['kind']}")
        if len(c["differences"]) > 50:
            lines.append(f"    ... and {len(c['differences']) - 50} more (--json shows all)")
    return lines
