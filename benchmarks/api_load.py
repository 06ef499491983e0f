"""API latency under load: 20 tuning jobs submitted at once, Describe/List hammered while they run.

    make up                                   # Kafka, PostgreSQL, S3
    python benchmarks/api_load.py [--tuning-jobs 20] [--training-jobs 6] [--clients 8] [--smoke]

Starts the five services as processes (own topic prefix, own api port), submits the tuning jobs in
parallel (each runs tests/integration/programs/trainer.py: a few epochs of a short sleep), and
while they run, `--clients` threads call DescribeHyperParameterTuningJob,
ListHyperParameterTuningJobs and ListTrainingJobsForHyperParameterTuningJob in a loop. It reports
p50/p90/p99/max latency per operation, the time until every tuning job ended, and each service's
peak RSS (sampled from /proc every 0.2 s; the training programs, children of the launcher, are not
counted). Writes benchmarks/out/api_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tunestream.trials import TERMINAL_STATUSES

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "tests" / "integration" / "programs" / "trainer.py"
SERVICES = ("api", "suggester", "launcher", "collector", "tracker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss:
    """Each service's peak RSS, sampled from /proc every `interval_s` in a thread until `stop()`."""

    def __init__(self, procs: dict[str, subprocess.Popen[bytes]], interval_s: float = 0.2) -> None:
        self.peaks = dict.fromkeys(procs, 0.0)
        self._procs, self._interval_s, self._done = procs, interval_s, threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._done.is_set():
            for name, proc in self._procs.items():
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss_mb(proc.pid))
            time.sleep(self._interval_s)

    def stop(self) -> None:
        self._done.set()


def score_job(
    name: str,
    command: list[str],
    training_jobs: int,
    parallel: int,
    seed: int,
    static: dict[str, str] | None = None,
    max_runtime_s: int = 600,
) -> dict[str, Any]:
    """A Random tuning job over one dummy range whose program prints `score=<value>`; the benchmarks'
    common workload (api_load, platform_overhead, scale)."""
    definition: dict[str, Any] = {
        "AlgorithmSpecification": {
            "Command": command,
            "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}],
        },
        "OutputDataConfig": {"S3OutputPath": "s3://tunestream/bench/output"},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
    }
    if static is not None:
        definition["StaticHyperParameters"] = static
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": seed,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": training_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
        },
        "TrainingJobDefinition": definition,
    }


class Stack:
    """The five services as child processes with their own topic prefix and api port."""

    def __init__(self, work: Path, slots: int) -> None:
        run = uuid.uuid4().hex[:6]
        self.port = free_port()
        self.prefix = f"bench-{run}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TUNESTREAM_")},
            "TUNESTREAM_ENV_FILE": str(ROOT / ".stack" / "stack.env"),
            "TUNESTREAM_TOPIC_PREFIX": self.prefix,
            "TUNESTREAM_API_PORT": str(self.port),
            "TUNESTREAM_WORK_DIR": str(work),
            "TUNESTREAM_LAUNCHER_ID": f"bench-launcher-{run}",
            "TUNESTREAM_LAUNCHER_SLOTS": str(slots),
            "TUNESTREAM_LAUNCHER_GPUS": "none",
            "TUNESTREAM_LAUNCHER_CWD": str(ROOT),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for name in SERVICES:
            log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "tunestream.cli.main", "service", name],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs.values()):
                self.stop()
                raise SystemExit(f"services did not start; logs in {self.logs}")
            time.sleep(0.3)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000
    return {
        "count": len(values),
        "p50_ms": float(np.percentile(a, 50)),
        "p90_ms": float(np.percentile(a, 90)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tuning-jobs", type=int, default=20)
    parser.add_argument("--training-jobs", type=int, default=6, help="training jobs per tuning job")
    parser.add_argument("--clients", type=int, default=8, help="threads calling Describe/List in a loop")
    parser.add_argument("--slots", type=int, default=8, help="launcher slots")
    parser.add_argument("--smoke", action="store_true", help="3 tuning jobs of 2 training jobs, 2 clients")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "api_load.json")
    args = parser.parse_args()
    if args.smoke:
        args.tuning_jobs, args.training_jobs, args.clients = 3, 2, 2

    with tempfile.TemporaryDirectory(prefix="tunestream-bench-") as tmp:
        stack = Stack(Path(tmp), args.slots)
        stack.start()
        base = f"http://127.0.0.1:{stack.port}"
        names = [f"load-{stack.prefix[-6:]}-{i:02d}" for i in range(args.tuning_jobs)]
        latencies: dict[str, list[float]] = {"Describe": [], "ListTuningJobs": [], "ListTrainingJobs": []}
        errors: list[str] = []
        done = threading.Event()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=base, timeout=30) as http:
                while not done.is_set():
                    op = rng.choice(list(latencies))
                    name = rng.choice(names)
                    path = {
                        "Describe": f"/tuning-jobs/{name}",
                        "ListTuningJobs": "/tuning-jobs",
                        "ListTrainingJobs": f"/tuning-jobs/{name}/training-jobs",
                    }[op]
                    started = time.perf_counter()
                    response = http.get(path)
                    latencies[op].append(time.perf_counter() - started)
                    if response.status_code >= 500:
                        errors.append(f"{op} {response.status_code}")

        idle = {name: rss_mb(proc.pid) for name, proc in stack.procs.items()}
        rss = PeakRss(stack.procs)
        started = time.monotonic()
        try:
            with httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(args.tuning_jobs) as pool:
                submits = list(
                    pool.map(
                        lambda i: http.post(
                            "/tuning-jobs",
                            json=score_job(
                                names[i],
                                [sys.executable, str(PROGRAM)],
                                args.training_jobs,
                                parallel=2,
                                seed=i,
                                static={"epochs": "4", "sleep": "0.2"},
                                max_runtime_s=120,
                            ),
                        ),
                        range(args.tuning_jobs),
                    )
                )
                bad = [r.text for r in submits if r.status_code != 200]
                if bad:
                    raise SystemExit(f"submissions refused: {bad[:3]}")
                submitted = time.monotonic() - started
                clients = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
                for t in clients:
                    t.start()
                statuses: dict[str, str] = {}
                while True:
                    statuses = {n: http.get(f"/tuning-jobs/{n}").json()["HyperParameterTuningJobStatus"] for n in names}
                    if all(s in TERMINAL_STATUSES for s in statuses.values()) or time.monotonic() - started > 900:
                        break
                    time.sleep(1)
                elapsed = time.monotonic() - started
                done.set()
                for t in clients:
                    t.join(timeout=30)
        finally:
            done.set()
            rss.stop()
            stack.stop()
    peaks = rss.peaks

    result = {
        "tuning_jobs": args.tuning_jobs,
        "training_jobs_each": args.training_jobs,
        "clients": args.clients,
        "launcher_slots": args.slots,
        "submit_all_s": submitted,
        "all_ended_s": elapsed,
        "statuses": sorted(set(statuses.values())),
        "server_errors": len(errors),
        "latency": {op: percentiles(v) for op, v in latencies.items() if v},
        "rss_idle_mb": idle,
        "rss_peak_mb": peaks,
    }
    print(
        f"{args.tuning_jobs} tuning jobs x {args.training_jobs} training jobs submitted in {submitted:.2f}s, "
        f"all ended after {elapsed:.1f}s ({', '.join(result['statuses'])}); {args.clients} clients, "
        f"{len(errors)} server errors"
    )
    print(f"{'operation':<18}{'calls':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for op, p in result["latency"].items():
        print(f"{op:<18}{p['count']:>7}{p['p50_ms']:>9.1f}{p['p90_ms']:>9.1f}{p['p99_ms']:>9.1f}{p['max_ms']:>9.1f}")
    print(f"{'service':<18}{'idle MB':>9}{'peak MB':>9}")
    for name in SERVICES:
        print(f"{name:<18}{idle[name]:>9.0f}{peaks[name]:>9.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    if errors or any(s != "Completed" for s in statuses.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
