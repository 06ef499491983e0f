"""Scale: a 10,000-training-job Random job and a 1,000-parallel job of no-op training jobs.

    make up                                   # Kafka, PostgreSQL, S3
    python benchmarks/scale.py [--long-jobs 10000] [--long-parallel 32] [--wide-jobs 1000] [--smoke]

Starts the five services (own topic prefix; see benchmarks/api_load.py) and runs, one after the other:

- long: one Random tuning job of `--long-jobs` no-op training jobs (noop.sh: `echo score=1`),
  `--long-parallel` at a time, launcher with that many slots;
- wide: one Random tuning job of `--wide-jobs` no-op training jobs with MaxParallelTrainingJobs =
  `--wide-jobs`, on `--launchers` launcher processes whose slots add up to it.

Reports for each: the time from submission until the api says the tuning job ended, the time until
the tracker has every training job in PostgreSQL (what the api shows), the most training jobs that
were running at once (from the read model), and every service's peak RSS (sampled every 0.5 s from
/proc; the training programs are not counted). Writes benchmarks/out/scale.json and docs/scale.png
(RSS and finished training jobs over time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import ENDED, ROOT, PeakRss, Stack, rss_mb
from platform_overhead import code_env, export_baseline, noop_job, write_noop

OUT = ROOT / "benchmarks" / "out" / "scale.json"
PLOT = ROOT / "docs" / "scale.png"


class ScaleStack(Stack):
    """Stack with extra launcher processes (each `slots` slots)."""

    def __init__(self, work: Path, slots: int, launchers: int, code: Path | None) -> None:
        super().__init__(work, slots)
        self.env.update(code_env(code))
        self.extra = launchers - 1

    def start(self) -> None:
        super().start()
        for i in range(self.extra):
            name = f"launcher{i + 2}"
            log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "tunestream.cli.main", "service", "launcher"],
                cwd=ROOT,
                env={**self.env, "TUNESTREAM_LAUNCHER_ID": f"{self.env['TUNESTREAM_LAUNCHER_ID']}-{i + 2}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def run_one(
    label: str, program: Path, jobs: int, parallel: int, launchers: int, work: Path, code: Path | None
) -> dict[str, Any]:
    slots = -(-parallel // launchers)
    stack = ScaleStack(work, slots, launchers, code)
    stack.start()
    rss = PeakRss(stack.procs, interval_s=0.5)
    series: list[dict[str, Any]] = []
    name = f"scale-{label}-{stack.prefix[-6:]}"
    status, ended_s, tracked_s, max_running = "", float("nan"), float("nan"), 0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=120) as http:
            started = time.monotonic()
            r = http.post("/tuning-jobs", json=noop_job(name, program, jobs, parallel))
            if r.status_code != 200:
                raise SystemExit(f"submission refused: {r.text}")
            while time.monotonic() - started < 3600:
                d = http.get(f"/tuning-jobs/{name}").json()
                counters = d.get("TrainingJobStatusCounters", {})
                finished = sum(v for k, v in counters.items() if k != "InProgress")
                max_running = max(max_running, counters.get("InProgress", 0))
                now = time.monotonic() - started
                series.append(
                    {"t": now, "finished": finished, "rss": {n: rss_mb(p.pid) for n, p in stack.procs.items()}}
                )
                status = d["HyperParameterTuningJobStatus"]
                if status in ENDED and ended_s != ended_s:
                    ended_s = now
                if status in ENDED and finished >= jobs:
                    tracked_s = now
                    break
                time.sleep(1.0)
    finally:
        rss.stop()
        stack.stop()
    peaks = rss.peaks
    result = {
        "training_jobs": jobs,
        "parallel": parallel,
        "launchers": launchers,
        "slots_each": slots,
        "status": status,
        "ended_s": ended_s,
        "all_tracked_s": tracked_s,
        "throughput_per_s": jobs / tracked_s if tracked_s == tracked_s else 0.0,
        "max_in_progress_seen": max_running,
        "rss_peak_mb": peaks,
        "series": series,
    }
    print(
        f"  {label}: {jobs} training jobs, {parallel} parallel on {launchers} launcher(s) x {slots} slots: "
        f"{status} after {ended_s:.1f}s, all in the read model after {tracked_s:.1f}s; "
        f"most InProgress seen {max_running}; peak RSS " + ", ".join(f"{n} {v:.0f} MB" for n, v in peaks.items()),
        flush=True,
    )
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, axes = plt.subplots(2, len(runs), figsize=(6 * len(runs), 7), squeeze=False)
    for col, (label, run) in enumerate(runs.items()):
        t = [s["t"] for s in run["series"]]
        axes[0][col].plot(t, [s["finished"] for s in run["series"]])
        axes[0][col].set_title(f"{label}: {run['training_jobs']} jobs, {run['parallel']} parallel")
        axes[0][col].set_ylabel("training jobs finished (read model)")
        for name in run["rss_peak_mb"]:
            axes[1][col].plot(t, [s["rss"].get(name, 0) for s in run["series"]], label=name)
        axes[1][col].axhline(500, color="grey", linestyle=":", label="goal 500 MB")
        axes[1][col].set_ylabel("RSS MB")
        axes[1][col].set_xlabel("s since submission")
        axes[1][col].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-jobs", type=int, default=10_000)
    parser.add_argument("--long-parallel", type=int, default=32)
    parser.add_argument("--wide-jobs", type=int, default=1000, help="training jobs = MaxParallelTrainingJobs")
    parser.add_argument("--launchers", type=int, default=1, help="launcher processes for the wide job")
    parser.add_argument("--only", choices=("long", "wide"), help="run one of the two")
    parser.add_argument("--baseline", metavar="GIT_REF", help="run the services of this revision instead")
    parser.add_argument("--smoke", action="store_true", help="200 training jobs 16 parallel; 50 x 50 parallel")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--plot", type=Path, default=PLOT)
    args = parser.parse_args()
    if args.smoke:
        args.long_jobs, args.long_parallel, args.wide_jobs = 200, 16, 50
        args.out = args.out.with_name(args.out.stem + "_smoke.json")
        args.plot = args.out.with_suffix(".png")

    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tunestream-scale-") as tmp:
        program = write_noop(Path(tmp))
        code = export_baseline(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        if args.only in (None, "long"):
            runs["long"] = run_one("long", program, args.long_jobs, args.long_parallel, 1, Path(tmp) / "long", code)
        if args.only in (None, "wide"):
            runs["wide"] = run_one(
                "wide", program, args.wide_jobs, args.wide_jobs, args.launchers, Path(tmp) / "wide", code
            )
    result = {"cpus": os.cpu_count(), "baseline": args.baseline, "runs": runs}
    print(f"{'run':<6}{'jobs':>7}{'parallel':>9}{'ended s':>9}{'tracked s':>10}{'jobs/s':>8}  peak RSS MB")
    for label, r in runs.items():
        print(
            f"{label:<6}{r['training_jobs']:>7}{r['parallel']:>9}{r['ended_s']:>9.1f}{r['all_tracked_s']:>10.1f}"
            f"{r['throughput_per_s']:>8.1f}  " + ", ".join(f"{n} {v:.0f}" for n, v in r["rss_peak_mb"].items())
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    plot(result, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    if any(r["status"] != "Completed" for r in runs.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
