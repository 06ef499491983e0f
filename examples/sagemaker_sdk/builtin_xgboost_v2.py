"""SageMaker's own Python SDK, v2, tuning the built-in XGBoost exactly as an AWS notebook does:
the image from `sagemaker.image_uris.retrieve`, two instances per training job, CSV channels, no
metric definitions (the built-in's are known), `validation:auc` as the objective.

Nothing below names tunestream: boto3's standard variables point the SDK at it (see tune_v2.py),
and tunestream runs its stand-in for the built-in algorithm (docs/builtin-algorithms.md).

    python examples/sagemaker_sdk/builtin_xgboost_v2.py --data s3://tunestream/xgb-data --output s3://tunestream/xgb

`--data` must hold train/ and validation/ CSV files (label first, no header);
`--write-data DIR` writes scikit-learn's breast cancer set that way, to upload. The last line
printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path


def write_data(folder: Path) -> None:
    """Breast cancer (569 rows) as label-first CSV: 400 rows to train on, the rest to validate."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    for channel, rows in (("train", slice(0, 400)), ("validation", slice(400, None))):
        (folder / channel).mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / channel / f"{channel}.csv", np.column_stack([y[rows], x[rows]]), delimiter=",", fmt="%.6g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="S3 prefix holding train/ and validation/")
    parser.add_argument("--output", help="S3OutputPath")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--write-data", type=Path, help="write the CSV files here and exit")
    args = parser.parse_args()
    if args.write_data:
        write_data(args.write_data)
        return
    # Here, not at the top: --write-data runs without the SDK.
    import sagemaker
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    session = sagemaker.Session()
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    xgb = Estimator(
        image_uri=image,
        role="arn:aws:iam::000000000000:role/tunestream-sdk",
        instance_count=2,
        instance_type="ml.m5.xlarge",
        output_path=args.output,
        max_run=600,
        sagemaker_session=session,
    )
    xgb.set_hyperparameters(objective="binary:logistic", num_round=50, eval_metric="auc")
    tuner = HyperparameterTuner(
        xgb,
        objective_metric_name="validation:auc",
        hyperparameter_ranges={
            "eta": ContinuousParameter(0.05, 0.5),
            "max_depth": IntegerParameter(2, 8),
            "min_child_weight": ContinuousParameter(1, 10),
        },
        max_jobs=args.jobs,
        max_parallel_jobs=2,
    )
    channels = {name: TrainingInput(f"{args.data}/{name}", content_type="text/csv") for name in ("train", "validation")}
    tuner.fit(channels, job_name=f"sdk2x-{uuid.uuid4().hex[:6]}", include_cls_metadata=False)  # waits
    described = tuner.describe()
    best = tuner.best_training_job()
    training = session.sagemaker_client.describe_training_job(TrainingJobName=best)
    summary = {
        "image": image,
        "tuning_job": tuner.latest_tuning_job.name,
        "status": described["HyperParameterTuningJobStatus"],
        "strategy": described["HyperParameterTuningJobConfig"]["Strategy"],
        "best_training_job": best,
        "best_auc": described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        "instance_count": training["ResourceConfig"]["InstanceCount"],
        "model": training["ModelArtifacts"]["S3ModelArtifacts"],
    }
    print(f"tuning job {summary['tuning_job']}: {summary['status']}, best {best} auc {summary['best_auc']}")
    print(json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    main()
