"""SageMaker's own Python SDK, v3 (sagemaker 3.27, `sagemaker.train`), run unchanged against tunestream.

Nothing below names tunestream: boto3's standard variables point the SDK at it, including STS and
IAM, which SDK v3 asks about the role before it trains (tunestream answers for its principals):

    export AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:8080      # the api
    export AWS_ENDPOINT_URL_STS=http://127.0.0.1:8080 AWS_ENDPOINT_URL_IAM=http://127.0.0.1:8080
    export AWS_ENDPOINT_URL_S3=http://127.0.0.1:18333            # the stack's S3 store
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1
    python examples/sagemaker_sdk/tune_v3.py \\
        --image file://$PWD/examples/xgboost_synthetic/train.py --output s3://tunestream/sdk-v3

The walk: ModelTrainer.train (CreateTrainingJob, after the SDK's role validation through IAM and
STS), then HyperparameterTuner.tune over the same trainer, describe and best_training_job. Each step
prints one line; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import uuid
from importlib.metadata import version

from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig, StoppingCondition
from sagemaker.train.tuner import HyperparameterTuner

OBJECTIVE = "validation:logloss"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="TrainingImage: a container image or file:// program")
    parser.add_argument("--output", required=True, help="S3OutputPath, e.g. s3://tunestream/sdk-v3")
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    summary: dict[str, object] = {"sagemaker": version("sagemaker")}

    trainer = ModelTrainer(
        training_image=args.image,
        role="arn:aws:iam::000000000000:role/tunestream-sdk",
        base_job_name=f"sdk3-{run}",
        hyperparameters={"num_round": 10, "subsample": 0.8, "eta": 0.2, "max_depth": 3},
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=args.output),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
    )
    # logs=False: following the log means CloudWatch Logs, an AWS service tunestream does not answer.
    trainer.train(wait=True, logs=False)
    job = trainer._latest_training_job
    summary.update(training_job=job.training_job_name, training_status=job.training_job_status)
    print(f"training job {job.training_job_name}: {job.training_job_status}", flush=True)

    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=OBJECTIVE,
        hyperparameter_ranges={"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 6)},
        metric_definitions=[{"Name": OBJECTIVE, "Regex": r"validation:logloss=([0-9.eE+-]+)"}],
        objective_type="Minimize",
        max_jobs=args.jobs,
        max_parallel_jobs=2,
        strategy="Random",
        # The default base name comes from the image's name, which a file:// program's (train.py) is not.
        base_tuning_job_name=f"sdk3t-{run}",
    )
    tuner.tune(wait=True)
    described = tuner.describe()
    summary.update(
        tuning_job=described.hyper_parameter_tuning_job_name,
        tuning_status=described.hyper_parameter_tuning_job_status,
        best_training_job=tuner.best_training_job(),
    )
    print(f"tuning job {summary['tuning_job']}: {summary['tuning_status']}, best {summary['best_training_job']}")
    print(json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    main()
