"""SageMaker's own Python SDK v3 in source-code mode (`ModelTrainer(source_code=SourceCode(...))`),
run unchanged against tunestream on a container engine.

The SDK uploads the source folder (a `code` channel) and its own driver (an `sm_drivers` channel with
sm_train.sh), and asks the image to run `/bin/bash -c ... sm_train.sh` (ContainerEntrypoint /
ContainerArguments); the driver needs bash and python3 with pip in the image, as AWS's framework
images have. Here the image is deploy/images/build-python.sh's tunestream/python:3.11.

Nothing below names tunestream: boto3's standard variables point the SDK at it (as for
tune_v3.py), and the SDK's config file names the default bucket the source is uploaded to:

    ~/.config/sagemaker/config.yaml:
        SchemaVersion: '1.0'
        SageMaker: {PythonSDK: {Modules: {Session: {DefaultS3Bucket: tunestream}}}}
    python examples/sagemaker_sdk/source_code_v3.py --image tunestream/python:3.11 --output s3://tunestream/sdk-v3-source

The walk: ModelTrainer.train (one training job) on that image, then HyperparameterTuner.tune (3
training jobs), describe and best_training_job. The last line is a JSON summary.

The tuning job is another matter: a HyperParameterTrainingJobDefinition has no ContainerEntrypoint,
so for it the SDK sends the script as the framework containers' toolkit expects it
(sagemaker_program, sagemaker_submit_directory) and relies on the image's legacy entry point. On AWS
that needs a framework image (a plain one fails: it has no `train`); here too, so the tuner's trainer
names the PyTorch Deep Learning Container (`image_uris.retrieve`), whose toolkit tunestream stands in
for (docs/builtin-algorithms.md).
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

from sagemaker.core import image_uris
from sagemaker.core.parameter import ContinuousParameter
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig, SourceCode, StoppingCondition
from sagemaker.train.tuner import HyperparameterTuner

OBJECTIVE = "valid:mse"
SOURCE = Path(__file__).resolve().parent / "source_v3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--image", required=True, help="an image with bash and python3 (pip), e.g. tunestream/python:3.11"
    )
    parser.add_argument("--output", required=True, help="S3OutputPath, e.g. s3://tunestream/sdk-v3-source")
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    summary: dict[str, object] = {}

    def trainer_on(image: str) -> ModelTrainer:
        return ModelTrainer(
            training_image=image,
            source_code=SourceCode(source_dir=str(SOURCE), entry_script="train.py"),
            role="arn:aws:iam::000000000000:role/tunestream-sdk",
            base_job_name=f"sdk3src-{run}",
            hyperparameters={"learning_rate": 0.05, "epochs": 20},
            compute=Compute(instance_type="ml.m5.large", instance_count=1),
            output_data_config=OutputDataConfig(s3_output_path=args.output),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
        )

    trainer = trainer_on(args.image)
    # logs=False: following the log means CloudWatch Logs, an AWS service tunestream does not answer.
    trainer.train(wait=True, logs=False)
    job = trainer._latest_training_job
    summary["training_job"] = job.training_job_name
    summary["training_status"] = job.training_job_status
    print(f"ModelTrainer.train: {job.training_job_name} {job.training_job_status}", flush=True)

    framework_image = image_uris.retrieve(
        framework="pytorch",
        region="us-east-1",
        version="2.4.0",
        py_version="py311",
        instance_type="ml.m5.large",
        image_scope="training",
    )
    summary["framework_image"] = framework_image
    tuner = HyperparameterTuner(
        model_trainer=trainer_on(framework_image),
        objective_metric_name=OBJECTIVE,
        objective_type="Minimize",
        metric_definitions=[{"Name": OBJECTIVE, "Regex": r"valid:mse=([0-9.eE+-]+)"}],
        hyperparameter_ranges={"learning_rate": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic")},
        max_jobs=args.jobs,
        max_parallel_jobs=2,
        strategy="Random",
        base_tuning_job_name=f"sdk3src-{run}",
    )
    tuner.tune(wait=True)
    described = tuner.describe()
    summary["tuning_job"] = described.hyper_parameter_tuning_job_name
    summary["tuning_status"] = described.hyper_parameter_tuning_job_status
    summary["best_training_job"] = tuner.best_training_job()
    print(f"HyperparameterTuner.tune: {summary['tuning_job']} {summary['tuning_status']}", flush=True)
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
