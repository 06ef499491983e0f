"""Platform overhead: how much time tunestream adds around a training program that does nothing.

    make up                                   # Kafka, PostgreSQL, S3
    python benchmarks/platform_overhead.py [--parallel 1 4 16] [--jobs 100 200 400] [--smoke]

The training program is `noop.sh` (`#!/bin/sh` + `echo score=1`): the cheapest program that prints an
objective. For each parallelism P, one Random tuning job of N no-op training jobs with
MaxParallelTrainingJobs=P runs through the five services (own topic prefix, launcher with
max(P, 16) slots). Afterwards every event of the job is read back from Kafka and, per training job,
these timestamps are used (all wall-clock, same host):

    proposed   TrainingJobProposed.occurred_at      suggester decided to run it
    assigned   TrainingJobAssigned.occurred_at      scheduler placed it on the launcher
    started    TrainingJobStarted.occurred_at       launcher spawned the program (just before publishing)
    running    first TrainingOutputLogged line .at  launcher read the program's `score=1` line
    exited     last TrainingOutputLogged line .at   = the program's exit, for a program that prints and exits
    finished   TrainingJobFinished.occurred_at      launcher reported the end (after model.tar.gz upload)
    collected  ObjectiveCollected.occurred_at       collector read the objective
    next       the TrainingJobProposed it freed the slot for: the k-th training job to exit (by `exited`)
               is paired with the (P+k)-th proposal (by `proposed`)

    start overhead = running - proposed        (proposal -> process start)
    end overhead   = next - exited             (program exit -> next proposal)
    throughput     = N / (last collected - first proposed)

The peer is Optuna (RandomSampler) with RDBStorage on the same PostgreSQL server, in a fresh schema:
P threads each loop ask -> spawn noop.sh -> read its line -> wait -> tell, with the same definitions
(proposal = `ask` returned; process start = its line read; exit = `wait` returned; next proposal = the
thread's next `ask` returned); and the same loop in-process (no subprocess: the objective is 1.0).
Prints a table, writes benchmarks/out/platform_overhead.json and docs/platform_overhead.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import ENDED, ROOT, PeakRss, Stack, score_job

OUT = ROOT / "benchmarks" / "out" / "platform_overhead.json"
PLOT = ROOT / "docs" / "platform_overhead.png"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, list[int]]:
    """The shared stack's processes (Kafka, PostgreSQL, S3), found by command line."""
    found: dict[str, list[int]] = {"kafka": [], "postgres": [], "s3": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "/tmp/ci" in cmd:  # a CI run's private servers
            continue
        if "kafka.Kafka" in cmd:
            found["kafka"].append(int(entry.name))
        elif cmd.startswith("postgres") or "/postgres " in cmd or "bin/postgres" in cmd:
            found["postgres"].append(int(entry.name))
        elif "weed" in cmd.split(" ")[0]:
            found["s3"].append(int(entry.name))
    return found


def cpu_snapshot(procs: dict[str, int]) -> dict[str, float]:
    snap = {name: cpu_s(pid) for name, pid in procs.items()}
    for name, pids in infra_pids().items():
        snap[name] = sum(cpu_s(pid) for pid in pids)
    return snap


def write_noop(folder: Path) -> Path:
    path = folder / "noop.sh"
    path.write_text("#!/bin/sh\necho score=1\n")
    path.chmod(0o755)
    return path


def noop_job(name: str, program: Path, training_jobs: int, parallel: int, seed: int = 7) -> dict[str, Any]:
    return score_job(name, [str(program)], training_jobs, parallel, seed)


def read_events(bootstrap: str, prefix: str, tuning_job: str) -> list[Any]:
    """Every event of a tuning job on the trials, training and metrics topics (replay's reader)."""
    from tunestream.events.topics import Topics
    from tunestream.replay.source import read_history

    history = asyncio.run(read_history(bootstrap, Topics(prefix), tuning_job))
    return [*history.trials, *history.training, *history.metrics]


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def analyse(events: list[Any], parallel: int) -> dict[str, Any]:
    """Per-training-job timestamps (see the module docstring) -> overhead and throughput figures."""
    jobs: dict[str, dict[str, float]] = {}
    proposals: list[float] = []
    for e in events:
        t = e.type
        if t == "TrainingJobProposed":
            jobs.setdefault(e.payload.spec.training_job_name, {})["proposed"] = _ts(e.occurred_at)
            proposals.append(_ts(e.occurred_at))
            continue
        name = getattr(e.payload, "training_job_name", None)
        if name is None:
            continue
        j = jobs.setdefault(name, {})
        if t == "TrainingJobAssigned":
            j.setdefault("assigned", _ts(e.occurred_at))
        elif t == "TrainingJobStarted":
            j.setdefault("started", _ts(e.occurred_at))
        elif t == "TrainingOutputLogged" and e.payload.lines:
            j["running"] = min(j.get("running", 1e20), _ts(e.payload.lines[0].at))
            j["exited"] = max(j.get("exited", 0.0), _ts(e.payload.lines[-1].at))
        elif t == "TrainingJobFinished":
            j.setdefault("finished", _ts(e.occurred_at))
        elif t == "ObjectiveCollected":
            j.setdefault("collected", _ts(e.occurred_at))
    complete = [j for j in jobs.values() if {"proposed", "running", "exited", "collected"} <= j.keys()]
    proposals.sort()
    exits = sorted(complete, key=lambda j: j["exited"])
    for k, j in enumerate(exits):
        if parallel + k < len(proposals):
            j["next"] = proposals[parallel + k]

    def spans(a: str, b: str) -> list[float]:
        return [j[b] - j[a] for j in complete if a in j and b in j]

    first = min(j["proposed"] for j in complete)
    last = max(j["collected"] for j in complete)
    return {
        "training_jobs": len(complete),
        "throughput_per_s": len(complete) / (last - first),
        "start_overhead": stats(spans("proposed", "running")),
        "end_overhead": stats(spans("exited", "next")),
        "stages": {
            "proposed->assigned (scheduler)": stats(spans("proposed", "assigned")),
            "assigned->started (launcher prepare+spawn)": stats(spans("assigned", "started")),
            "started->running (program's line read)": stats(spans("started", "running")),
            "exited->finished (launcher wait+flush+upload)": stats(spans("exited", "finished")),
            "finished->collected (collector)": stats(spans("finished", "collected")),
            "collected->next (suggester)": stats(spans("collected", "next")),
        },
    }


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan")}
    a = np.asarray(values) * 1000
    return {
        "count": len(values),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
    }


def code_env(code: Path | None) -> dict[str, str]:
    """Environment that makes the services import tunestream from another source tree (a baseline)."""
    if code is None:
        return {}
    return {"PYTHONPATH": f"{code / 'shared'}:{code / 'services'}"}


def export_baseline(ref: str, folder: Path) -> Path:
    """The source tree of a git revision, exported read-only (git archive) into `folder`."""
    archive = subprocess.run(["git", "archive", ref, "shared", "services"], cwd=ROOT, capture_output=True, check=True)
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def run_tunestream(
    program: Path, parallels: list[int], counts: list[int], work: Path, code: Path | None = None
) -> dict[str, Any]:
    stack = Stack(work, slots=max(16, *parallels))
    stack.env.update(code_env(code))
    stack.start()
    rss = PeakRss(stack.procs)
    results: dict[str, Any] = {}
    bootstrap = _bootstrap()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=60) as http:
            for parallel, n in zip(parallels, counts, strict=True):
                name = f"noop-{stack.prefix[-6:]}-p{parallel}"
                pids = {n: p.pid for n, p in stack.procs.items()}
                cpu_before = cpu_snapshot(pids)
                started = time.monotonic()
                r = http.post("/tuning-jobs", json=noop_job(name, program, n, parallel))
                if r.status_code != 200:
                    raise SystemExit(f"submission refused: {r.text}")
                status = ""
                while time.monotonic() - started < 1800:
                    status = http.get(f"/tuning-jobs/{name}").json()["HyperParameterTuningJobStatus"]
                    if status in ENDED:
                        break
                    time.sleep(0.2)
                wall = time.monotonic() - started
                cpu_after = cpu_snapshot(pids)
                events = read_events(bootstrap, stack.prefix, name)
                for _ in range(10):  # a read right after the job ended may miss a topic's metadata
                    if any(e.type == "ObjectiveCollected" for e in events):
                        break
                    time.sleep(1)
                    events = read_events(bootstrap, stack.prefix, name)
                result = analyse(events, parallel)
                cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
                result.update(status=status, wall_s=wall, submitted=n, cpu_s=cpu)
                results[str(parallel)] = result
                print(f"  tunestream P={parallel}: {n} jobs in {wall:.1f}s ({status})", flush=True)
    finally:
        rss.stop()
        stack.stop()
    return {"runs": results, "rss_peak_mb": rss.peaks}


def _bootstrap() -> str:
    for line in (ROOT / ".stack" / "stack.env").read_text().splitlines():
        if line.startswith("TUNESTREAM_KAFKA_BOOTSTRAP_SERVERS="):
            return line.split("=", 1)[1]
    raise SystemExit(".stack/stack.env has no Kafka address; run `make up`")


def _database_url() -> str:
    for line in (ROOT / ".stack" / "stack.env").read_text().splitlines():
        if line.startswith("TUNESTREAM_DATABASE_URL="):
            return line.split("=", 1)[1]
    raise SystemExit(".stack/stack.env has no database URL; run `make up`")


def run_optuna(program: Path | None, parallel: int, n: int) -> dict[str, Any]:
    """Optuna ask/tell loops on PostgreSQL (a fresh schema of the stack's server); P threads."""
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = _database_url()
    schema = f"optuna_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        storage = optuna.storages.RDBStorage(
            f"{url}?options=-csearch_path%3D{schema}", engine_kwargs={"pool_size": parallel + 2}
        )
        study = optuna.create_study(
            study_name="noop", storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=7)
        )
        lock = threading.Lock()
        left = [n]
        start_over: list[float] = []
        end_over: list[float] = []

        def worker() -> None:
            exited: float | None = None
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                trial = study.ask()
                trial.suggest_float("x", 0.0, 1.0)
                proposed = time.perf_counter()
                if exited is not None:
                    end_over.append(proposed - exited)
                if program is None:
                    start_over.append(time.perf_counter() - proposed)
                    value = 1.0
                    exited = time.perf_counter()
                else:
                    proc = subprocess.Popen([str(program)], stdout=subprocess.PIPE, text=True)
                    assert proc.stdout is not None
                    line = proc.stdout.readline()
                    start_over.append(time.perf_counter() - proposed)
                    proc.stdout.read()
                    proc.wait()
                    exited = time.perf_counter()
                    value = float(line.strip().split("=", 1)[1])
                study.tell(trial, value)

        began = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        done = len(study.get_trials(deepcopy=False))
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return {
        "training_jobs": done,
        "wall_s": wall,
        "throughput_per_s": done / wall,
        "start_overhead": stats(start_over),
        "end_overhead": stats(end_over),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(result["systems"])
    parallels = result["parallel"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    width = 0.8 / len(systems)
    x = np.arange(len(parallels))
    for i, system in enumerate(systems):
        runs = result["systems"][system]
        for ax, key in ((axes[0], "start_overhead"), (axes[1], "end_overhead")):
            p50 = [runs[str(p)][key]["p50_ms"] for p in parallels]
            p99 = [runs[str(p)][key]["p99_ms"] for p in parallels]
            ax.bar(x + i * width, p50, width, label=system)
            ax.scatter(x + i * width, p99, marker="_", s=200, color="black")
        axes[2].bar(x + i * width, [runs[str(p)]["throughput_per_s"] for p in parallels], width, label=system)
    for ax, title in zip(
        axes,
        ("proposal -> process start (bar p50, tick p99)", "program exit -> next proposal", "throughput"),
        strict=True,
    ):
        ax.set_xticks(x + width * (len(systems) - 1) / 2, [f"P={p}" for p in parallels])
        ax.set_title(title)
    axes[0].set_ylabel("ms (log)")
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("no-op training jobs / s")
    axes[2].axhline(50, color="grey", linestyle=":", label="goal at P=16")
    axes[0].axhline(50, color="grey", linestyle=":")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--jobs", type=int, nargs="+", default=[100, 200, 400], help="training jobs per P")
    parser.add_argument("--smoke", action="store_true", help="P=1 and 4, 6 training jobs each")
    parser.add_argument("--skip-optuna", action="store_true")
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="also run the services of this revision (git archive; e.g. a92c7c0), same jobs, same invocation",
    )
    parser.add_argument("--label", default="", help="stored in the JSON")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--plot", type=Path, default=PLOT)
    args = parser.parse_args()
    if args.smoke:
        args.parallel, args.jobs = [1, 4], [6, 6]
        args.out = args.out.with_name(args.out.stem + "_smoke.json")
        args.plot = args.out.with_suffix(".png")
    if len(args.jobs) != len(args.parallel):
        raise SystemExit("--jobs needs one count per --parallel value")

    systems: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tunestream-overhead-") as tmp:
        program = write_noop(Path(tmp))
        print("tunestream (5 services, Kafka, PostgreSQL, S3):", flush=True)
        ts = run_tunestream(program, args.parallel, args.jobs, Path(tmp) / "stack")
        systems["tunestream"] = ts["runs"]
        if args.baseline:
            print(f"tunestream at {args.baseline} (baseline):", flush=True)
            code = export_baseline(args.baseline, Path(tmp) / "baseline")
            base = run_tunestream(program, args.parallel, args.jobs, Path(tmp) / "stack-baseline", code)
            systems[f"tunestream@{args.baseline}"] = base["runs"]
        if not args.skip_optuna:
            for label, prog in (("optuna+pg subprocess", program), ("optuna+pg in-process", None)):
                systems[label] = {}
                for p, n in zip(args.parallel, args.jobs, strict=True):
                    systems[label][str(p)] = run_optuna(prog, p, n)
                    print(f"  {label} P={p}: {n} trials in {systems[label][str(p)]['wall_s']:.1f}s", flush=True)

    result = {
        "label": args.label,
        "cpus": os.cpu_count(),
        "parallel": args.parallel,
        "jobs": args.jobs,
        "systems": systems,
        "tunestream_rss_peak_mb": ts["rss_peak_mb"],
        "baseline": args.baseline,
    }
    header = f"{'system':<22}{'P':>3}{'jobs':>6}{'start p50':>11}{'p99':>9}{'end p50':>10}{'p99':>9}{'jobs/s':>8}"
    print(header + "   (overheads in ms)")
    for system, runs in systems.items():
        for p in args.parallel:
            r = runs[str(p)]
            s, e = r["start_overhead"], r["end_overhead"]
            print(
                f"{system:<22}{p:>3}{r['training_jobs']:>6}{s['p50_ms']:>11.1f}{s['p99_ms']:>9.1f}"
                f"{e['p50_ms']:>10.1f}{e['p99_ms']:>9.1f}{r['throughput_per_s']:>8.1f}"
            )
    for system in (s for s in systems if s.startswith("tunestream")):
        print_stages(system, systems[system], args.parallel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    plot(result, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    if any(
        r["status"] != "Completed" for s, runs in systems.items() if s.startswith("tunestream") for r in runs.values()
    ):
        raise SystemExit(1)


def print_stages(system: str, runs: dict[str, Any], parallels: list[int]) -> None:
    print(f"{system} stages (p50 / p99 ms):")
    for p in parallels:
        stages = runs[str(p)]["stages"]
        print(f"  P={p}: " + "; ".join(f"{k} {v['p50_ms']:.0f}/{v['p99_ms']:.0f}" for k, v in stages.items()))
        run = runs[str(p)]
        print(
            f"        CPU s in {run['wall_s']:.1f}s wall ({os.cpu_count()} cores = "
            f"{(os.cpu_count() or 1) * run['wall_s']:.0f}): "
            + ", ".join(f"{k} {v:.1f}" for k, v in run["cpu_s"].items())
        )


if __name__ == "__main__":
    main()
