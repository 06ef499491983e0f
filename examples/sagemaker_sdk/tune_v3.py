"""SageMaker's own Python SDK, v3 (sagemaker 3.27, `sagemaker.train`), run unchanged against tunestream.

Nothing below names tunestream: boto3's standard variables point the SDK at it, including STS and
IAM, which SDK v3 asks about the role before it trains (tunestream answers for its principals):

    export AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:8080      # the api
    export AWS_ENDPOINT_URL_STS=http://127.0.0.1:8080 AWS_ENDPOINT_URL_IAM=http://127.0.0.1:8080
    export AWS_ENDPOINT_URL_S3=http://127.0.0.1:18333            # the stack's S3 store
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1
    python examples/sagemaker_sdk/tune_v3.py \\
        --image file://$PWD/examples/xgboost_synthetic/train.py --output s3://tunestream/sdk-v3

The walk, v2's in v3's terms: ModelTrainer.train (CreateTrainingJob, after the SDK's role
validation through IAM and STS) and TrainingJob.get, v3's attach; HyperparameterTuner.tune,
describe, best_training_job and the best job got back with its model, analytics().dataframe(); a
warm-started tuner (a HyperParameterTuningJobWarmStartConfig); one stopped with stop_tuning_job()
and wait(); a tuning job of two TrainingJobDefinitions (sagemaker-core's
HyperParameterTuningJob.create); and autotune=True. Each step prints one line; the last line is a
JSON summary. Two SDK 3.27 helpers fail on the client before they send anything (noted where
they would be used), so the walk takes the route they would have taken.
"""

from __future__ import annotations

import argparse
import json
import uuid
from importlib.metadata import version

from sagemaker.core import shapes
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
from sagemaker.core.resources import HyperParameterTuningJob, TrainingJob
from sagemaker.core.training.configs import Compute, OutputDataConfig, StoppingCondition
from sagemaker.train import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

ROLE = "arn:aws:iam::000000000000:role/tunestream-sdk"
OBJECTIVE = "validation:logloss"
METRICS = [{"Name": OBJECTIVE, "Regex": r"validation:logloss=([0-9.eE+-]+)"}]
RANGES = {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 6)}


def trainer(image: str, output: str, name: str, rounds: int) -> ModelTrainer:
    return ModelTrainer(
        training_image=image,
        role=ROLE,
        base_job_name=name,
        hyperparameters={"num_round": rounds, "subsample": 0.8, "eta": 0.2, "max_depth": 3},
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=output),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
    )


def tuner(model_trainer: ModelTrainer, name: str, jobs: int, **kwargs: object) -> HyperparameterTuner:
    return HyperparameterTuner(
        model_trainer=model_trainer,
        objective_metric_name=OBJECTIVE,
        hyperparameter_ranges=RANGES,
        metric_definitions=METRICS,
        objective_type="Minimize",
        max_jobs=jobs,
        max_parallel_jobs=2,
        strategy="Random",
        # The default base name comes from the image's name, which a file:// program's (train.py) is not.
        base_tuning_job_name=name,
        **kwargs,  # type: ignore[arg-type]
    )


def definition(
    name: str, args: argparse.Namespace, ranges: shapes.ParameterRanges
) -> shapes.HyperParameterTrainingJobDefinition:
    """One of several TrainingJobDefinitions, in sagemaker-core's shapes."""
    return shapes.HyperParameterTrainingJobDefinition(
        definition_name=name,
        tuning_objective=shapes.HyperParameterTuningJobObjective(type="Minimize", metric_name=OBJECTIVE),
        hyper_parameter_ranges=ranges,
        static_hyper_parameters={"num_round": str(args.rounds), "subsample": "0.8"},
        algorithm_specification=shapes.HyperParameterAlgorithmSpecification(
            training_image=args.image,
            training_input_mode="File",
            metric_definitions=[shapes.MetricDefinition(name=m["Name"], regex=m["Regex"]) for m in METRICS],
        ),
        role_arn=ROLE,
        output_data_config=shapes.OutputDataConfig(s3_output_path=args.output),
        resource_config=shapes.ResourceConfig(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=30),
        stopping_condition=shapes.StoppingCondition(max_runtime_in_seconds=300),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="TrainingImage: a container image or file:// program")
    parser.add_argument("--output", required=True, help="S3OutputPath, e.g. s3://tunestream/sdk-v3")
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    summary: dict[str, object] = {"sagemaker": version("sagemaker")}

    single = trainer(args.image, args.output, f"sdk3-{run}", args.rounds)
    # logs=False: following the log means CloudWatch Logs, an AWS service tunestream does not answer.
    single.train(wait=True, logs=False)
    job = single._latest_training_job
    attached = TrainingJob.get(training_job_name=job.training_job_name)
    summary.update(
        training_job=job.training_job_name,
        training_status=job.training_job_status,
        attached_model=attached.model_artifacts.s3_model_artifacts,
        attached_max_depth=attached.hyper_parameters["max_depth"],
    )
    print(f"training job {job.training_job_name}: {job.training_job_status}", flush=True)

    first = tuner(single, f"sdk3t-{run}", args.jobs)
    first.tune(wait=True)
    described = first.describe()
    best = first.best_training_job()
    best_job = TrainingJob.get(training_job_name=best)
    frame = first.analytics().dataframe()
    summary.update(
        tuning_job=described.hyper_parameter_tuning_job_name,
        tuning_status=described.hyper_parameter_tuning_job_status,
        best_training_job=best,
        best_model=best_job.model_artifacts.s3_model_artifacts,
        analytics_rows=len(frame),
        analytics_best=float(frame["FinalObjectiveValue"].min()),
    )
    print(f"tuning job {summary['tuning_job']}: {summary['tuning_status']}, best {best}", flush=True)

    # The SDK's own transfer_learning_tuner() fails in 3.27 before it sends anything (it builds
    # HyperParameterTuningJobWarmStartConfig with `parents=`, which that shape does not have), so the
    # warm start is given as a v3 user has to give it: the shape itself.
    warm = tuner(
        single,
        f"sdk3w-{run}",
        args.jobs,
        warm_start_config=shapes.HyperParameterTuningJobWarmStartConfig(
            warm_start_type="TransferLearning",
            parent_hyper_parameter_tuning_jobs=[
                shapes.ParentHyperParameterTuningJob(
                    hyper_parameter_tuning_job_name=described.hyper_parameter_tuning_job_name
                )
            ],
        ),
    )
    warm.tune(wait=True)
    warm_described = warm.describe()
    summary.update(
        warm_tuning_job=warm_described.hyper_parameter_tuning_job_name,
        warm_status=warm_described.hyper_parameter_tuning_job_status,
        warm_type=warm_described.warm_start_config.warm_start_type,
        warm_parents=[
            p.hyper_parameter_tuning_job_name
            for p in warm_described.warm_start_config.parent_hyper_parameter_tuning_jobs
        ],
    )
    print(f"warm-started {summary['warm_tuning_job']}: {summary['warm_status']}", flush=True)

    stopped = tuner(trainer(args.image, args.output, f"sdk3-{run}", 500), f"sdk3s-{run}", 4)
    stopped.tune(wait=False)
    stopped.stop_tuning_job()
    stopped.wait()
    summary["stopped_status"] = stopped.describe().hyper_parameter_tuning_job_status
    print(f"stopped {stopped.latest_tuning_job.hyper_parameter_tuning_job_name}: {summary['stopped_status']}")

    # Two algorithms in one tuning job: shallow trees with a tuned learning rate, deep ones with a
    # fixed learning rate and tuned depth. Each training job runs one of them. SDK 3.27's
    # HyperparameterTuner.create takes several model trainers but then builds one definition from
    # `model_trainer`, which is None there (AttributeError before anything is sent), so this goes
    # through sagemaker-core, the layer of SDK v3 that sends TrainingJobDefinitions.
    several = HyperParameterTuningJob.create(
        hyper_parameter_tuning_job_name=f"sdk3d-{run}",
        hyper_parameter_tuning_job_config=shapes.HyperParameterTuningJobConfig(
            strategy="Random",
            resource_limits=shapes.ResourceLimits(
                max_number_of_training_jobs=args.jobs + 1, max_parallel_training_jobs=2
            ),
            training_job_early_stopping_type="Off",
        ),
        training_job_definitions=[
            definition(
                "shallow",
                args,
                shapes.ParameterRanges(
                    continuous_parameter_ranges=[
                        shapes.ContinuousParameterRange(name="eta", min_value="0.05", max_value="0.5")
                    ],
                    integer_parameter_ranges=[
                        shapes.IntegerParameterRange(name="max_depth", min_value="2", max_value="3")
                    ],
                ),
            ),
            definition(
                "deep",
                args,
                shapes.ParameterRanges(
                    integer_parameter_ranges=[
                        shapes.IntegerParameterRange(name="max_depth", min_value="6", max_value="8")
                    ]
                ),
            ),
        ],
    )
    several.wait()
    several.refresh()
    several_name = several.hyper_parameter_tuning_job_name
    ran = list(several.get_all_training_jobs())
    several_best = TrainingJob.get(training_job_name=several.best_training_job.training_job_name)
    summary.update(
        several_tuning_job=several_name,
        several_status=several.hyper_parameter_tuning_job_status,
        several_definitions=sorted({s.training_job_definition_name for s in ran}),
        several_best=several_best.training_job_name,
        several_best_max_depth=several_best.hyper_parameters["max_depth"],
    )
    print(f"two trainers in {several_name}: {summary['several_status']}, ran {summary['several_definitions']}")

    # Autotune: subsample (0.8) is not kept static, so Autotune chooses its range from that value.
    auto = tuner(
        trainer(args.image, args.output, f"sdk3-{run}", args.rounds),
        f"sdk3a-{run}",
        args.jobs,
        autotune=True,
        hyperparameters_to_keep_static=["num_round"],
    )
    auto.tune(wait=True)
    auto_described = auto.describe()
    auto_ranges = auto_described.hyper_parameter_tuning_job_config.parameter_ranges
    summary.update(
        autotune_tuning_job=auto_described.hyper_parameter_tuning_job_name,
        autotune_status=auto_described.hyper_parameter_tuning_job_status,
        autotune_ranges=sorted(
            r.name
            for kind in (auto_ranges.continuous_parameter_ranges, auto_ranges.integer_parameter_ranges)
            for r in kind or []
        ),
    )
    print(f"autotuned {summary['autotune_tuning_job']}: {summary['autotune_status']}, {summary['autotune_ranges']}")
    print(json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    main()
