"""The seed's Hyperband experiment (AWS blog, experiment 1), live, against Optuna and Syne Tune.

    make up                                                        # Kafka, PostgreSQL, S3
    pip install -e '.[bayesian,examples,bench]'                    # optuna, syne-tune
    python benchmarks/mlp_curves.py --configs 80 --out benchmarks/out/seed_pilot   # pilot (calibration)
    python benchmarks/seed_experiment.py [--seeds 5] [--cap 300] [--max-jobs 60]   # resumable; hours
    python benchmarks/seed_experiment.py --report                  # table, JSON and plot of what finished
    python benchmarks/seed_experiment.py --smoke                   # about a minute, nothing kept

The training function is `examples/mlp/train.py` (a three-layer MLP, numpy on the CPU, one thread,
`make_classification(5000, 20, n_informative=10, n_redundant=5)`, 80/20 split), tuned over units
10-1000, Adam learning rate 1e-4-0.1, L2 1e-6-2, batch size 10-200 (all log scale), up to 20 epochs;
epochs are the resource. Every method runs it as a subprocess, two at a time:

- tunestream Random, Bayesian, Hyperband (MinResource 1, MaxResource 20) and promotion Hyperband
  (the same with Promotion Enabled and a CheckpointConfig; the program pauses and resumes from its
  checkpoint, each resume a training job that counts toward --max-jobs; its new configurations from
  the GP over configuration and resource, the default, or at random with
  tunestream-promotion-random): through
  the real services
  (api, suggester, launcher with 2 slots, collector, tracker; own topic prefix, started here as in
  api_load.py) on the shared Kafka/PostgreSQL/S3 stack;
- Optuna TPE and GP samplers, each with HyperbandPruner(1, 20, 3) and MedianPruner, and Syne Tune
  ASHA (random search) and BOHB (ASHA with a KDE searcher): their samplers/schedulers are asked and
  told by two worker threads here, each running the same program, reading its epoch lines and
  killing it when the pruner/scheduler says stop. Their trial overhead is thus a thread and a
  process start: the peers do not pay for a platform.

A training job's objective is its last reported accuracy (SageMaker's rule; a stopped job's too), known
when it ends. A run's time-to-target is the time, from submission, at which the first job ends with an
objective >= target; it stops the run there (the best-so-far curve after it is not needed) or at
`--cap` seconds / `--max-jobs` training jobs, where a miss counts as censored at the cap. The target is
calibrated from the pilot (the final accuracy that `--target-share` of its random configurations reach);
the blog's literal 96 % is reported as well. Each finished run is appended to
benchmarks/out/seed_experiment_runs.jsonl, and a rerun skips (method, seed) pairs already there, so the
full form can run unattended (nohup) and resume. Output: benchmarks/out/seed_experiment.json,
docs/seed_experiment.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tunestream.trials import TERMINAL_STATUSES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from api_load import Stack  # noqa: E402  (the five services as child processes, own prefix)

PROGRAM = ROOT / "examples" / "mlp" / "train.py"
OUT = ROOT / "benchmarks" / "out"
LINE = re.compile(r"epoch=(\d+) .*validation:accuracy=([0-9.]+)")
# tunestream-promotion is what a user gets (since 2026-12-06 its new configurations from the joint
# GP, Proposals "Model", and the pause at a new best between rungs); the others name what they set
# in HyperbandStrategyConfig on top of it.
TUNESTREAM = (
    "tunestream-random",
    "tunestream-bayesian",
    "tunestream-hyperband",
    "tunestream-promotion",
    "tunestream-promotion-model",
    "tunestream-promotion-random",
    "tunestream-promotion-rungs",
)
PROMOTION_VARIANTS: dict[str, dict[str, str]] = {
    "tunestream-promotion-model": {"Proposals": "Model"},
    "tunestream-promotion-random": {"Proposals": "Random"},
    "tunestream-promotion-rungs": {"PauseAtNewBest": "Disabled"},
}
OPTUNA = ("optuna-tpe-hyperband", "optuna-tpe-median", "optuna-gp-hyperband", "optuna-gp-median")
SYNETUNE = ("synetune-asha", "synetune-bohb")
METHODS = TUNESTREAM + OPTUNA + SYNETUNE
RANGES = {"units": (10, 1000), "batch_size": (10, 200), "learning_rate": (1e-4, 0.1), "l2": (1e-6, 2.0)}
ACTIVE: set[subprocess.Popen[str]] = set()  # the peers' training processes, killed on SIGTERM
LOAD_QUIET = 3.5  # mean 1-minute load above which a run counts as contended (its own share is about 2.3)
CHILD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --------------------------------------------------------------------------------------------- target
def calibrate(pilot: Path, share: float, override: float | None = None) -> dict[str, Any]:
    """The final accuracy that `share` of the pilot's random configurations reach (rounded down to 0.5 %),
    or `override`; with the pilot's share of configurations reaching the target used."""
    curves = json.loads(pilot.read_text())["curves"]
    finals = np.array([c["accuracy"][-1] for c in curves if c["accuracy"]])
    raw = float(np.quantile(finals, 1 - share))
    target = math.floor(raw * 200) / 200 if override is None else override
    return {
        "calibrated_target": math.floor(raw * 200) / 200,
        "pilot": str(pilot.relative_to(ROOT) if pilot.is_relative_to(ROOT) else pilot),
        "pilot_configs": len(finals),
        "share": share,
        "quantile_accuracy": raw,
        "target": target,
        "pilot_share_reaching_target": float((finals >= target).mean()),
        "pilot_share_reaching_96": float((finals >= 0.96).mean()),
        "pilot_seconds_median": float(np.median([sum(c["epoch_seconds"]) for c in curves])),
    }


# ------------------------------------------------------------------------------------------ the runs
class LoadProbe:
    """Other work on the machine during a run: 1-minute load average (a run's own share is about 2.3:
    two training processes and the services) and whether a CI run (/tmp/ci) was seen; every 2 s."""

    def __init__(self) -> None:
        self.loads: list[float] = []
        self.ci = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stopped.wait(2.0):
            self.loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
            ci = subprocess.run(["pgrep", "-f", "/tmp/ci"], capture_output=True, text=True, check=False)
            self.ci = self.ci or bool(ci.stdout.strip())

    def stop(self) -> dict[str, Any]:
        self.stopped.set()
        self.thread.join()
        mean = float(np.mean(self.loads)) if self.loads else None
        return {
            "load_mean": mean,
            "load_max": max(self.loads, default=None),
            "ci_running": self.ci,
            "contended": self.ci or (mean is not None and mean > LOAD_QUIET),
        }


class Run:
    """What one run records: every training job (start, end, objective, epochs) relative to t0."""

    def __init__(self, method: str, seed: int, target: float, cap: float, max_jobs: int) -> None:
        self.method, self.seed, self.target, self.cap, self.max_jobs = method, seed, target, cap, max_jobs
        self.t0 = time.time()
        self.jobs: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.extra: dict[str, Any] = {}
        self.active: set[subprocess.Popen[str]] = set()

    def add(self, job: dict[str, Any]) -> None:
        with self.lock:
            self.jobs.append(job)
            if job["objective"] is not None and job["objective"] >= self.target:
                self.done.set()

    def record(self) -> dict[str, Any]:
        jobs = sorted(self.jobs, key=lambda j: j["end"])
        reached: dict[str, float | None] = {f"{t:.3f}": None for t in (self.target, 0.96)}
        best, curve = -1.0, []
        for j in jobs:
            if j["end"] > self.cap:  # a job ending after the cap (killed there, or still stopping) does not count
                continue
            if j["objective"] is not None and j["objective"] > best:
                best = j["objective"]
                curve.append((round(j["end"], 3), best))
            for t in (self.target, 0.96):
                if reached[f"{t:.3f}"] is None and j["objective"] is not None and j["objective"] >= t:
                    reached[f"{t:.3f}"] = j["end"]
        wall = max([j["end"] for j in jobs], default=0.0)
        busy = sum(j["end"] - j["start"] for j in jobs)
        span = min(wall, reached[f"{self.target:.3f}"] or wall)
        busy_before = sum(max(0.0, min(j["end"], span) - j["start"]) for j in jobs if j["start"] < span)
        return {
            "method": self.method,
            "seed": self.seed,
            "target": self.target,
            "cap_s": self.cap,
            "max_jobs": self.max_jobs,
            "time_to_target_s": reached[f"{self.target:.3f}"],
            "time_to_96_s": reached["0.960"],
            "best": best,
            "curve": curve,
            "training_jobs": len(jobs),
            "epochs": sum(j["epochs"] for j in jobs),
            "stopped_early": sum(1 for j in jobs if j["stopped"]),
            "wall_s": wall,
            "busy_worker_s": busy,
            # Share of 2 workers' time, until the target (or the end), spent inside a training process.
            "worker_utilisation": busy_before / (2 * span) if span > 0 else 0.0,
            "jobs": jobs,
            **self.extra,
        }


def run_program(run: Run, values: dict[str, Any], on_epoch: Callable[[int, float], bool], epochs: int) -> None:
    """One training job as a subprocess; `on_epoch` returning False stops it (killed, as a stopper does)."""
    argv = [sys.executable, str(PROGRAM), "--epochs", str(epochs), "--threads", "1"]
    for name, value in values.items():
        argv += [f"--{name}", str(value)]
    with tempfile.TemporaryDirectory(prefix="seed-exp-") as model_dir:
        start = time.time() - run.t0
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **CHILD_ENV, "SM_MODEL_DIR": model_dir},
        )
        with run.lock:
            run.active.add(process)
            ACTIVE.add(process)
        accuracy: list[float] = []
        stopped = False
        assert process.stdout is not None
        for line in process.stdout:
            match = LINE.search(line)
            if not match:
                continue
            accuracy.append(float(match.group(2)))
            if run.done.is_set() or not on_epoch(int(match.group(1)), accuracy[-1]):
                stopped = True
                process.kill()
                break
        process.wait()
        process.stdout.close()
        with run.lock:
            run.active.discard(process)
            ACTIVE.discard(process)
    run.add(
        {
            "start": start,
            "end": time.time() - run.t0,
            "objective": accuracy[-1] if accuracy else None,
            "epochs": len(accuracy),
            "stopped": stopped and len(accuracy) < epochs,
            "hyperparameters": {k: str(v) for k, v in values.items()},
        }
    )


def workers(run: Run, n: int, one_job: Callable[[int], None]) -> None:
    """n threads each running jobs (index from a shared counter) until target, cap or max_jobs."""
    counter = iter(range(run.max_jobs))
    counter_lock = threading.Lock()

    def loop() -> None:
        while not run.done.is_set():
            with counter_lock:
                index = next(counter, None)
            if index is None:
                return
            one_job(index)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = run.t0 + run.cap
    while any(t.is_alive() for t in threads) and time.time() < deadline and not run.done.is_set():
        time.sleep(0.2)
    run.done.set()
    with run.lock:  # target reached or cap: running programs end now, as a stopped tuning job's would
        for process in run.active:
            process.kill()
    for t in threads:
        t.join()


def run_optuna(method: str, seed: int, target: float, cap: float, max_jobs: int, epochs: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _, sampler_name, pruner_name = method.split("-")
    sampler = optuna.samplers.TPESampler(seed=seed) if sampler_name == "tpe" else optuna.samplers.GPSampler(seed=seed)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
        if pruner_name == "hyperband"
        else optuna.pruners.MedianPruner(n_startup_trials=5)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    lock = threading.Lock()
    run = Run(method, seed, target, cap, max_jobs)
    asks: list[float] = []

    def one_job(_: int) -> None:
        with lock:
            started = time.perf_counter()
            trial = study.ask()
            values = {
                "units": trial.suggest_int("units", 10, 1000, log=True),
                "batch_size": trial.suggest_int("batch_size", 10, 200, log=True),
                "learning_rate": trial.suggest_float("learning_rate", *RANGES["learning_rate"], log=True),
                "l2": trial.suggest_float("l2", *RANGES["l2"], log=True),
            }
            asks.append(time.perf_counter() - started)
        last: list[float] = []
        pruned = [False]

        def on_epoch(epoch: int, accuracy: float) -> bool:
            last.append(accuracy)
            with lock:
                trial.report(accuracy, epoch)
                pruned[0] = trial.should_prune()
            return not pruned[0]

        run_program(run, values, on_epoch, epochs)
        with lock:
            if pruned[0]:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif len(last) == epochs:
                study.tell(trial, last[-1])
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)

    workers(run, 2, one_job)
    run.extra["suggest_s_median"] = float(np.median(asks)) if asks else None
    return run.record()


def run_synetune(method: str, seed: int, target: float, cap: float, max_jobs: int, epochs: int) -> dict[str, Any]:
    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import lograndint, loguniform
    from syne_tune.optimizer.baselines import ASHA, BOHB

    space = {
        "units": lograndint(*RANGES["units"]),
        "batch_size": lograndint(*RANGES["batch_size"]),
        "learning_rate": loguniform(*RANGES["learning_rate"]),
        "l2": loguniform(*RANGES["l2"]),
        "epochs": epochs,
    }
    cls = ASHA if method == "synetune-asha" else BOHB
    scheduler = cls(space, metric="accuracy", time_attr="epoch", max_t=epochs, do_minimize=False, random_seed=seed)
    lock = threading.Lock()
    run = Run(method, seed, target, cap, max_jobs)
    asks: list[float] = []

    def one_job(index: int) -> None:
        with lock:
            started = time.perf_counter()
            suggestion = scheduler.suggest()
            asks.append(time.perf_counter() - started)
            if suggestion is None:
                return
            config = dict(suggestion.config)
            trial = Trial(trial_id=index, config=config, creation_time=datetime.now())
            scheduler.on_trial_add(trial)
        values = {k: v for k, v in config.items() if k != "epochs"}
        last: dict[str, Any] = {}

        def on_epoch(epoch: int, accuracy: float) -> bool:
            last.update(accuracy=accuracy, epoch=epoch)
            with lock:
                return str(scheduler.on_trial_result(trial, dict(last))) == "CONTINUE"

        run_program(run, values, on_epoch, epochs)
        with lock:
            if last.get("epoch") == epochs:
                scheduler.on_trial_complete(trial, dict(last))
            elif not last:
                scheduler.on_trial_error(trial)

    workers(run, 2, one_job)
    run.extra["suggest_s_median"] = float(np.median(asks)) if asks else None
    return run.record()


def _ts(value: str | None, t0: float) -> float | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - t0


def tunestream_job(
    name: str,
    strategy: str,
    seed: int,
    max_jobs: int,
    epochs: int,
    hyperband_extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    ranges = {
        "IntegerParameterRanges": [
            {"Name": n, "MinValue": str(RANGES[n][0]), "MaxValue": str(RANGES[n][1]), "ScalingType": "Logarithmic"}
            for n in ("units", "batch_size")
        ],
        "ContinuousParameterRanges": [
            {"Name": n, "MinValue": str(RANGES[n][0]), "MaxValue": str(RANGES[n][1]), "ScalingType": "Logarithmic"}
            for n in ("learning_rate", "l2")
        ],
    }
    promotion = strategy == "Promotion"
    config: dict[str, Any] = {
        "Strategy": "Hyperband" if promotion else strategy,
        "RandomSeed": seed,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": "Off",
    }
    if strategy == "Hyperband" or promotion:
        hyperband: dict[str, Any] = {"MinResource": 1, "MaxResource": epochs}
        if promotion:
            hyperband["Promotion"] = "Enabled"
        hyperband.update(hyperband_extra or {})
        config["StrategyConfig"] = {"HyperbandStrategyConfig": hyperband}
    checkpoints = {"CheckpointConfig": {"S3Uri": f"s3://tunestream/seed-experiment/checkpoints/{name}"}}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": str(epochs), "threads": "1"},
            # One BLAS thread, as the peers' programs get: the launcher passes on no variable of its own.
            "Environment": CHILD_ENV,
            "AlgorithmSpecification": {
                "Command": [sys.executable, str(PROGRAM)],
                "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}],
            },
            "OutputDataConfig": {"S3OutputPath": "s3://tunestream/seed-experiment/output"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
            **(checkpoints if promotion else {}),
        },
    }


def run_tunestream(
    stack: Stack, method: str, seed: int, target: float, cap: float, max_jobs: int, epochs: int
) -> dict[str, Any]:
    strategy = method.split("-")[1].capitalize()
    name = f"seed-{strategy.lower()[:5]}-s{seed}-{uuid.uuid4().hex[:6]}"
    run = Run(method, seed, target, cap, max_jobs)
    base = f"http://127.0.0.1:{stack.port}"

    def listing(http: httpx.Client) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"MaxResults": 100, **({"NextToken": token} if token else {})}
            page = http.get(f"/tuning-jobs/{name}/training-jobs", params=params).json()
            out += page["TrainingJobSummaries"]
            token = page.get("NextToken")
            if not token:
                return out

    with httpx.Client(base_url=base, timeout=60) as http:
        run.t0 = time.time()
        job = tunestream_job(name, strategy, seed, max_jobs, epochs, PROMOTION_VARIANTS.get(method))
        response = http.post("/tuning-jobs", json=job)
        if response.status_code != 200:
            raise SystemExit(f"submission refused: {response.text}")
        reached_at, stop_sent = None, False
        while True:
            status = http.get(f"/tuning-jobs/{name}").json()["HyperParameterTuningJobStatus"]
            if status in TERMINAL_STATUSES:
                break
            if not stop_sent:
                for s in listing(http):
                    value = (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
                    if value is not None and float(value) >= target and s.get("TrainingEndTime"):
                        reached_at = time.time() - run.t0
                        break
                if reached_at is not None or time.time() - run.t0 > cap:
                    http.post(f"/tuning-jobs/{name}/stop")
                    stop_sent = True
            time.sleep(0.5)
        summaries = listing(http)
        for s in summaries:
            points = http.get(f"/training-jobs/{s['TrainingJobName']}/metrics").json()["Metrics"]
            acc = [p for p in points if p["MetricName"] == "validation:accuracy"]
            start = _ts(s.get("TrainingStartTime"), run.t0)
            end = _ts(s.get("TrainingEndTime"), run.t0)
            value = (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
            if start is None or end is None:
                continue
            run.jobs.append(
                {
                    "start": start,
                    "end": end,
                    "created": _ts(s.get("CreationTime"), run.t0),
                    "objective": None if value is None else float(value),
                    "epochs": len(acc),
                    "stopped": s["TrainingJobStatus"] == "Stopped" and len(acc) < epochs,
                    "status": s["TrainingJobStatus"],
                    "hyperparameters": s.get("TunedHyperParameters", {}),
                }
            )
        run.extra["tuning_job"] = name
        run.extra["poll_reached_s"] = reached_at
        run.extra["ended_s"] = time.time() - run.t0
    return run.record()


# ------------------------------------------------------------------------------------------ summary
def summarise(runs: list[dict[str, Any]], cap: float) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        row: dict[str, Any] = {"n": len(mine)}
        for key, label in (("time_to_target_s", "target"), ("time_to_96_s", "96")):
            times = np.array([r[key] if r[key] is not None else r["cap_s"] for r in mine])
            q1, middle, q3 = np.percentile(times, [25, 50, 75])
            row[label] = {
                "median_s": float(middle),
                "q1_s": float(q1),
                "q3_s": float(q3),
                "reached": sum(r[key] is not None for r in mine),
            }
        row["training_jobs_median"] = float(np.median([r["training_jobs"] for r in mine]))
        row["epochs_median"] = float(np.median([r["epochs"] for r in mine]))
        row["worker_utilisation_median"] = float(np.median([r["worker_utilisation"] for r in mine]))
        row["best_median"] = float(np.median([r["best"] for r in mine]))
        row["contended"] = sum(1 for r in mine if r.get("contended") is not False)
        table[method] = row
    ratios: dict[str, Any] = {}

    def med(m: str) -> float | None:
        return table[m]["target"]["median_s"] if m in table else None

    if med("tunestream-random") and med("tunestream-hyperband"):
        ratios["random_over_hyperband"] = med("tunestream-random") / med("tunestream-hyperband")  # type: ignore[operator,unused-ignore]
    ts = [m for m in TUNESTREAM if m in table]
    peers = [m for m in OPTUNA + SYNETUNE if m in table]
    if ts and peers:
        best_ts = min(ts, key=lambda m: table[m]["target"]["median_s"])
        best_peer = min(peers, key=lambda m: table[m]["target"]["median_s"])
        ratios.update(
            best_tunestream=best_ts,
            best_peer=best_peer,
            best_peer_over_best_tunestream=table[best_peer]["target"]["median_s"]
            / table[best_ts]["target"]["median_s"],
        )
    return {"table": table, "ratios": ratios}


def overhead(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Where tunestream's time goes: proposal-to-start latency and the gap between one job's end and the next start."""
    out: dict[str, Any] = {}
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        gaps, launch = [], []
        for r in mine:
            jobs = sorted(r["jobs"], key=lambda j: j["start"])
            ends = sorted(j["end"] for j in jobs)
            for j in jobs[2:]:  # the first two fill the empty workers
                before = [e for e in ends if e <= j["start"]]
                if before:
                    gaps.append(j["start"] - before[-1])
            launch += [j["start"] - j["created"] for j in jobs if j.get("created") is not None]
        out[method] = {
            "end_to_next_start_s_median": float(np.median(gaps)) if gaps else None,
            "end_to_next_start_s_p90": float(np.percentile(gaps, 90)) if gaps else None,
            "created_to_start_s_median": float(np.median(launch)) if launch else None,
            "first_start_s_median": float(np.median([min(j["start"] for j in r["jobs"]) for r in mine if r["jobs"]])),
            "suggest_s_median": float(np.median([r["suggest_s_median"] for r in mine if r.get("suggest_s_median")]))
            if any(r.get("suggest_s_median") for r in mine)
            else None,
        }
    return out


def plot(runs: list[dict[str, Any]], target: float, cap: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Runs stop at the target, so the curves are flat after the slowest run's hit: the plot ends
    # there (at the cap when a run missed).
    slowest = max((r["time_to_target_s"] if r["time_to_target_s"] is not None else cap for r in runs), default=cap)
    horizon = min(cap, 1.1 * slowest)
    grid = np.linspace(0, horizon, 400)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        curves = []
        for r in mine:
            values = np.full(grid.shape, 0.5)  # no training job ended yet: chance level
            for t, best in r["curve"]:
                values[grid >= t] = best
            curves.append(values)
        median = np.median(np.vstack(curves), axis=0)
        style = "-" if method.startswith("tunestream") else ("--" if method.startswith("optuna") else ":")
        ax.step(
            grid,
            median,
            where="post",
            linestyle=style,
            linewidth=2 if "tunestream" in method else 1.3,
            label=f"{method} (n={len(mine)})",
        )
    ax.axhline(target, color="k", linewidth=0.8)
    ax.axhline(0.96, color="grey", linewidth=0.6, linestyle="--")
    ax.text(horizon * 0.99, target, f" target {target:.3f}", ha="right", va="bottom", fontsize=8)
    ax.text(horizon * 0.99, 0.96, " blog's 96 %", ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_ylim(min(0.90, target - 0.02), max(target + 0.01, 0.98))
    ax.set_xlabel("wall-clock seconds since submission (2 training jobs in parallel, 2-core machine)")
    ax.set_ylabel("best validation accuracy so far (median over seeds)")
    ax.set_title("Seed experiment 1: three-layer MLP, 5,000 points; runs stop at the target")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def report(runs: list[dict[str, Any]], calibration: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    summary = summarise(runs, args.cap)
    # Every full-length job of a Random run is one more random configuration: a check of the calibration.
    finals = [
        j["objective"]
        for r in runs
        if r["method"] == "tunestream-random"
        for j in r["jobs"]
        if j["epochs"] == args.epochs and j["objective"] is not None
    ]
    if finals:
        calibration["random_jobs"] = len(finals)
        calibration["random_jobs_share_reaching_target"] = float(np.mean(np.array(finals) >= calibration["target"]))
        calibration["random_jobs_share_reaching_96"] = float(np.mean(np.array(finals) >= 0.96))
    result = {
        "calibration": calibration,
        "cap_s": args.cap,
        "max_jobs": args.max_jobs,
        "epochs": args.epochs,
        "workers": 2,
        **summary,
        "overhead": overhead(runs),
        "runs": [{k: v for k, v in r.items() if k != "jobs"} for r in runs],
    }
    target = calibration["target"]
    print(
        f"target {target:.3f} (pilot: {calibration['pilot_share_reaching_target']:.1%} of random configurations "
        f"reach it; {calibration['pilot_share_reaching_96']:.1%} reach 96 %); cap {args.cap:.0f} s, "
        f"max {args.max_jobs} jobs; misses count as the cap"
    )
    if "random_jobs" in calibration:
        print(
            f"full-length jobs of the Random runs: {calibration['random_jobs']}, "
            f"{calibration['random_jobs_share_reaching_target']:.1%} reach the target, "
            f"{calibration['random_jobs_share_reaching_96']:.1%} reach 96 %"
        )
    print(
        f"{'method':<24}{'n':>3}  {'median s':>8} {'IQR s':>13} {'hit':>4}  {'96%: med':>8} {'IQR s':>13}"
        f" {'jobs':>5} {'epochs':>6} {'util':>5} {'busy':>4}"
    )
    for method, row in summary["table"].items():
        t, n96 = row["target"], row["96"]
        print(
            f"{method:<24}{row['n']:>3}  {t['median_s']:>8.0f} {t['q1_s']:>6.0f}-{t['q3_s']:<6.0f} {t['reached']:>4}"
            f"  {n96['median_s']:>8.0f} {n96['q1_s']:>6.0f}-{n96['q3_s']:<6.0f} {row['training_jobs_median']:>5.0f}"
            f" {row['epochs_median']:>6.0f} {row['worker_utilisation_median']:>5.2f} {row['contended']:>4}"
        )
    for key, value in summary["ratios"].items():
        print(f"{key}: {value if isinstance(value, str) else round(value, 2)}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--cap", type=float, default=300.0, help="wall-clock cap per run, seconds")
    parser.add_argument("--max-jobs", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pilot", type=Path, default=OUT / "seed_pilot" / "mlp_curves.json")
    parser.add_argument("--target-share", type=float, default=0.06)
    parser.add_argument("--target", type=float, help="override the calibrated target")
    parser.add_argument("--runs", type=Path, default=OUT / "seed_experiment_runs.jsonl")
    parser.add_argument("--out", type=Path, default=OUT / "seed_experiment.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "seed_experiment.png")
    parser.add_argument("--report", action="store_true", help="only summarise the runs file")
    parser.add_argument("--redo-contended", action="store_true", help="run again what ran under other load")
    parser.add_argument("--quiet-only", action="store_true", help="summarise only runs without other load")
    parser.add_argument(
        "--smoke", action="store_true", help="3 methods, 1 seed, 2 epochs, target 0.80, 20 s cap; nothing kept"
    )
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {METHODS}")
    tmp_out = None
    if args.smoke:
        tmp_out = Path(tempfile.mkdtemp(prefix="seed-smoke-"))
        args.seeds, args.epochs, args.cap, args.max_jobs = 1, 2, 20.0, 4
        if args.methods == ",".join(METHODS):  # one method per system unless asked for others
            methods = ["tunestream-hyperband", "optuna-tpe-hyperband", "synetune-asha"]
        args.runs, args.out, args.plot = tmp_out / "runs.jsonl", tmp_out / "out.json", tmp_out / "plot.png"
        calibration: dict[str, Any] = {
            "pilot": None,
            "target": 0.80,
            "pilot_share_reaching_target": float("nan"),
            "pilot_share_reaching_96": float("nan"),
        }
    elif args.pilot.exists():
        calibration = calibrate(args.pilot, args.target_share, args.target)
    elif args.target is not None:
        calibration = {
            "pilot": None,
            "target": args.target,
            "pilot_share_reaching_target": float("nan"),
            "pilot_share_reaching_96": float("nan"),
        }
    else:
        raise SystemExit(f"no pilot at {args.pilot}: run benchmarks/mlp_curves.py first, or give --target")
    if args.target is not None:
        calibration["target"] = args.target
    target = calibration["target"]

    def load() -> list[dict[str, Any]]:
        if not args.runs.exists():
            return []
        rows = [json.loads(line) for line in args.runs.read_text().splitlines() if line.strip()]
        same = [r for r in rows if r["target"] == target and r["cap_s"] == args.cap and r["max_jobs"] == args.max_jobs]
        # One run per (method, seed): the last one measured without other load, else the last one.
        chosen: dict[tuple[str, int], dict[str, Any]] = {}
        for r in same:
            key = (r["method"], r["seed"])
            if r["method"] in methods and (
                key not in chosen or r.get("contended") is False or chosen[key].get("contended")
            ):
                chosen[key] = r
        return list(chosen.values())

    if not args.report:
        done = {
            (r["method"], r["seed"]) for r in load() if not (args.redo_contended and r.get("contended") is not False)
        }
        todo = [
            (m, s) for s in range(args.first_seed, args.first_seed + args.seeds) for m in methods if (m, s) not in done
        ]
        print(f"target {target:.3f}; {len(done)} runs already in {args.runs}, {len(todo)} to go", flush=True)
        # The commit and the files changed in the working tree when the services started (read-only git).
        tree = subprocess.run(
            ["git", "log", "-1", "--format=%h"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip() + "".join(
            f" +{line[3:]}"
            for line in subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
            ).stdout.splitlines()
        )
        stack = None
        if any(m in TUNESTREAM for m, _ in todo):
            stack = Stack(Path(tempfile.mkdtemp(prefix="seed-exp-stack-")), slots=2)
            stack.env.update(CHILD_ENV)
            stack.start()
        try:
            for method, seed in todo:
                started = time.time()
                probe = LoadProbe()
                if method in TUNESTREAM:
                    assert stack is not None
                    record = run_tunestream(stack, method, seed, target, args.cap, args.max_jobs, args.epochs)
                elif method in OPTUNA:
                    record = run_optuna(method, seed, target, args.cap, args.max_jobs, args.epochs)
                else:
                    record = run_synetune(method, seed, target, args.cap, args.max_jobs, args.epochs)
                record["finished_at"] = datetime.now().isoformat(timespec="seconds")
                record["tree"] = tree
                record.update(probe.stop())
                args.runs.parent.mkdir(parents=True, exist_ok=True)
                with args.runs.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                ttt = record["time_to_target_s"]
                print(
                    f"{record['finished_at']} {method:<24} seed {seed}: "
                    f"{'not reached' if ttt is None else f'{ttt:.1f} s'} to {target:.3f}, best {record['best']:.4f}, "
                    f"{record['training_jobs']} jobs, {record['epochs']} epochs ({time.time() - started:.0f} s)",
                    flush=True,
                )
        finally:
            if stack is not None:
                stack.stop()
    runs = load()
    if args.quiet_only:
        runs = [r for r in runs if r.get("contended") is False]
    if not runs:
        raise SystemExit("no runs yet")
    result = report(runs, calibration, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    plot(runs, target, args.cap, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    if args.smoke:
        bad = [r for r in runs if not r["jobs"]]
        if bad:
            raise SystemExit(f"smoke: no training job ended for {[r['method'] for r in bad]}")


if __name__ == "__main__":

    def terminate(*_: Any) -> None:
        for process in list(ACTIVE):
            process.kill()
        sys.exit(143)

    signal.signal(signal.SIGTERM, terminate)
    main()
