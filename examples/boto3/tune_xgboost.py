#!/usr/bin/env python3
"""SageMaker code, unchanged but for `endpoint_url`: the XGBoost example tuned through boto3.

boto3 validates requests against SageMaker's model, which has no `Command`, so the training program
is named as `TrainingImage: file:///abs/path` (a local executable; a container image works too when a
launcher has the container backend).

    python examples/boto3/tune_xgboost.py [--max-jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-jobs", type=int, default=10)
    parser.add_argument("--name", default=f"boto3-xgb-{int(time.time())}")
    args = parser.parse_args()

    job = json.loads((ROOT / "examples" / "xgboost_breast_cancer" / "job.json").read_text())
    job["HyperParameterTuningJobName"] = args.name
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = args.max_jobs
    definition = job["TrainingJobDefinition"]
    del definition["AlgorithmSpecification"]["Command"]
    definition["AlgorithmSpecification"]["TrainingImage"] = f"file://{ROOT}/examples/xgboost_breast_cancer/train.py"
    definition["RoleArn"] = "arn:aws:iam::000000000000:role/tunestream"  # required by botocore; unused

    sm = boto3.client(
        "sagemaker",
        endpoint_url=os.environ.get("TUNESTREAM_API_URL", "http://127.0.0.1:8080"),
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "AKIDLOCAL"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local-secret"),
    )
    sm.create_hyper_parameter_tuning_job(**job)
    while True:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=args.name)
        print(d["HyperParameterTuningJobStatus"], d["TrainingJobStatusCounters"], flush=True)
        if d["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(2)
    best = d["BestTrainingJob"]
    print("best training job:", best["TrainingJobName"])
    print("objective:", best["FinalHyperParameterTuningJobObjectiveMetric"])
    print("hyperparameters:", best["TunedHyperParameters"])
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=args.name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    for page in pages:
        for s in page["TrainingJobSummaries"]:
            print(f"  {s['TrainingJobName']}  {s['TrainingJobStatus']:<10} {s['TrainingEndTime']:%H:%M:%S}")


if __name__ == "__main__":
    main()
