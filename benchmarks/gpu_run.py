"""A tuning job whose training jobs train on CUDA, through the process backend (issue #16, part 6).

    python benchmarks/gpu_run.py [--jobs 4] [--parallel 2] [--gpus-per-job 1] [--out benchmarks/out/gpu_run.json]

On a machine with an NVIDIA GPU (nvidia-smi answers) it starts the stack and the five services
(`make services-start`; the launcher takes `TUNESTREAM_LAUNCHER_GPUS=auto`), submits a Random tuning
job over the MLP example with `backend=torch device=cuda` and `ResourceConfig.GpuCount`, waits for
it, and prints, for every training job, the GPU ids the launcher gave it and the device line the
program printed (its name as torch saw it). Without a GPU it says why and exits 2 before starting
anything. The container backend is not exercised here: no CUDA training image can be built on a
machine without registry access.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEVICE_LINE = re.compile(r"device=(\S+) gpu=('[^']*'|-) cuda_visible_devices='([^']*)'")


def gpus_here() -> list[str]:
    """The GPUs nvidia-smi lists; SystemExit(2) with the reason when there are none."""
    if shutil.which("nvidia-smi") is None:
        raise SystemExit("no NVIDIA GPU on this machine: nvidia-smi is not installed")
    done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    listed = [line for line in done.stdout.splitlines() if line.startswith("GPU ")]
    if done.returncode != 0 or not listed:
        raise SystemExit(f"no NVIDIA GPU on this machine: nvidia-smi -L said {(done.stderr or done.stdout).strip()!r}")
    return listed


def gpu_job(name: str, jobs: int, parallel: int, gpus_per_job: int) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 1,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": "units", "MinValue": "32", "MaxValue": "512", "ScalingType": "Logarithmic"}
                ],
                "ContinuousParameterRanges": [
                    {"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.01", "ScalingType": "Logarithmic"}
                ],
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "10", "backend": "torch", "device": "cuda"},
            "AlgorithmSpecification": {
                "Command": [sys.executable, str(ROOT / "examples" / "mlp" / "train.py")],
                "MetricDefinitions": [
                    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"},
                ],
            },
            "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "GpuCount": gpus_per_job},
            "OutputDataConfig": {"S3OutputPath": "s3://tunestream/gpu-run/output"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--gpus-per-job", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "gpu_run.json")
    args = parser.parse_args()
    try:
        listed = gpus_here()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    print("\n".join(listed))

    from tunestream.client import TunestreamClient
    from tunestream.config import load_settings

    env = {**os.environ, "TUNESTREAM_LAUNCHER_GPUS": os.environ.get("TUNESTREAM_LAUNCHER_GPUS", "auto")}
    subprocess.run(["make", "services-start"], cwd=ROOT, env=env, check=True)
    settings = load_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    api = TunestreamClient(settings.api_url, token=token)
    name = f"gpu-run-{int(time.time())}"
    started = time.monotonic()
    api.create_tuning_job(gpu_job(name, args.jobs, args.parallel, args.gpus_per_job))
    while (described := api.describe(name))["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping"):
        time.sleep(2)
    rows = []
    for job in api.training_jobs(name):
        detail = api.describe_training_job(job["TrainingJobName"])
        match = DEVICE_LINE.search(api.logs(job["TrainingJobName"]))
        rows.append(
            {
                "training_job": job["TrainingJobName"],
                "status": job["TrainingJobStatus"],
                "objective": (job.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
                "gpus_given": detail.get("Gpus"),
                "device": match.group(1) if match else None,
                "gpu_name": match.group(2).strip("'") if match else None,
                "cuda_visible_devices": match.group(3) if match else None,
                "failure_reason": detail.get("FailureReason"),
            }
        )
    print(f"\n{name}: {described['HyperParameterTuningJobStatus']} in {time.monotonic() - started:.0f} s")
    print("| training job | status | accuracy | GPUs given | device | GPU | CUDA_VISIBLE_DEVICES |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['training_job']} | {r['status']} | {r['objective']} | {r['gpus_given']} | {r['device']} "
            f"| {r['gpu_name']} | {r['cuda_visible_devices']} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"gpus": listed, "tuning_job": described, "training_jobs": rows}, indent=1))
    ok = described["HyperParameterTuningJobStatus"] == "Completed" and all(r["device"] == "cuda" for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
