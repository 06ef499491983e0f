"""SageMaker's own Python SDK, v2 (sagemaker 2.257), run unchanged against tunestream.

Nothing below names tunestream: boto3's standard variables point the SDK at it.

    export AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:8080      # the api
    export AWS_ENDPOINT_URL_S3=http://127.0.0.1:18333            # the stack's S3 store
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1
    python examples/sagemaker_sdk/tune_v2.py \
        --image file://$PWD/examples/xgboost_synthetic/train.py --output s3://tunestream/sdk-v2

The walk: Estimator.fit (one training job, CreateTrainingJob) and Estimator.attach;
HyperparameterTuner.fit and wait, describe, best_training_job, best_estimator,
Estimator.attach, analytics().dataframe(), a warm-started second tuner, a third one stopped
with stop_tuning_job(), HyperparameterTuner.create with two estimators (TrainingJobDefinitions)
searched in one tuning job, and a tuner with autotune=True (Autotune chooses a range for each
hyperparameter not kept static, from its value). Each step prints one line; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.tuner import (
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    WarmStartConfig,
    WarmStartTypes,
)

OBJECTIVE = "validation:logloss"
METRICS = [{"Name": OBJECTIVE, "Regex": r"validation:logloss=([0-9.eE+-]+)"}]
RANGES = {
    "eta": ContinuousParameter(0.05, 0.5, scaling_type="Logarithmic"),
    "max_depth": IntegerParameter(2, 8),
}


def estimator(session: sagemaker.Session, image: str, output: str, rounds: int) -> Estimator:
    return Estimator(
        image_uri=image,
        role="arn:aws:iam::000000000000:role/tunestream-sdk",
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=output,
        max_run=300,
        hyperparameters={"num_round": rounds, "subsample": 0.8},
        sagemaker_session=session,
    )


def tuner(est: Estimator, jobs: int, **kwargs: object) -> HyperparameterTuner:
    return HyperparameterTuner(
        est,
        objective_metric_name=OBJECTIVE,
        objective_type="Minimize",
        hyperparameter_ranges=RANGES,
        metric_definitions=METRICS,
        max_jobs=jobs,
        max_parallel_jobs=2,
        strategy="Random",
        **kwargs,  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="TrainingImage: a container image or file:// program")
    parser.add_argument("--output", required=True, help="S3OutputPath, e.g. s3://tunestream/sdk-v2")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    session = sagemaker.Session()
    run = uuid.uuid4().hex[:6]
    summary: dict[str, object] = {"sagemaker": sagemaker.__version__}

    # One training job, as Estimator.fit makes it. logs=False: the default ("All") streams the job's
    # log from CloudWatch Logs, an AWS service tunestream does not answer (`tunestream logs` has it).
    single = estimator(session, args.image, args.output, args.rounds)
    single.set_hyperparameters(num_round=args.rounds, subsample=0.8, eta=0.2, max_depth=4)
    single.fit(job_name=f"sdk2t-{run}", wait=True, logs=False)
    alone = Estimator.attach(f"sdk2t-{run}", sagemaker_session=session)
    summary.update(
        single_training_job=single.latest_training_job.name,
        single_status=single.latest_training_job.describe()["TrainingJobStatus"],
        single_model=single.model_data,
        single_attached_max_depth=alone.hyperparameters()["max_depth"],
    )
    print(f"training job {single.latest_training_job.name}: {summary['single_status']}", flush=True)

    first = tuner(estimator(session, args.image, args.output, args.rounds), args.jobs)
    first.fit(job_name=f"sdk2-{run}", wait=False, include_cls_metadata=False)
    first.wait()
    described = first.describe()
    status = described["HyperParameterTuningJobStatus"]
    best = first.best_training_job()
    print(f"tuning job {first.latest_tuning_job.name}: {status}, best training job {best}", flush=True)
    summary.update(tuning_job=first.latest_tuning_job.name, status=status, best_training_job=best)

    best_estimator = first.best_estimator()
    attached = Estimator.attach(best, sagemaker_session=session)
    print(f"best_estimator: {best_estimator.latest_training_job.name}, model {attached.model_data}", flush=True)
    summary.update(
        best_estimator=best_estimator.latest_training_job.name,
        attached_model=attached.model_data,
        attached_hyperparameters=attached.hyperparameters(),
    )

    frame = first.analytics().dataframe()
    print(frame[["TrainingJobName", "TrainingJobStatus", "FinalObjectiveValue"]].to_string(index=False), flush=True)
    summary.update(analytics_rows=len(frame), analytics_best=float(frame["FinalObjectiveValue"].min()))

    warm = tuner(
        estimator(session, args.image, args.output, args.rounds),
        2,
        warm_start_config=WarmStartConfig(
            WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, parents={first.latest_tuning_job.name}
        ),
    )
    warm.fit(job_name=f"sdk2w-{run}", include_cls_metadata=False)  # waits
    warm_described = warm.describe()
    parents = warm_described["WarmStartConfig"]["ParentHyperParameterTuningJobs"]
    summary.update(
        warm_status=warm_described["HyperParameterTuningJobStatus"],
        warm_parents=[p["HyperParameterTuningJobName"] for p in parents],
    )
    print(f"warm-started {warm.latest_tuning_job.name}: {summary['warm_status']}", flush=True)

    stopped = tuner(estimator(session, args.image, args.output, 500), 4)
    stopped.fit(job_name=f"sdk2s-{run}", wait=False, include_cls_metadata=False)
    time.sleep(2)
    stopped.stop_tuning_job()
    stopped.wait()
    summary["stopped_status"] = stopped.describe()["HyperParameterTuningJobStatus"]
    print(f"stopped {stopped.latest_tuning_job.name}: {summary['stopped_status']}", flush=True)

    # Two algorithms in one tuning job: shallow trees with a tuned learning rate, deep ones with a
    # fixed learning rate and tuned depth. Each training job runs one of them.
    several = HyperparameterTuner.create(
        estimator_dict={
            "shallow": estimator(session, args.image, args.output, args.rounds),
            "deep": estimator(session, args.image, args.output, args.rounds),
        },
        objective_metric_name_dict={"shallow": OBJECTIVE, "deep": OBJECTIVE},
        hyperparameter_ranges_dict={
            "shallow": {"eta": RANGES["eta"], "max_depth": IntegerParameter(2, 3)},
            "deep": {"max_depth": IntegerParameter(6, 8)},
        },
        metric_definitions_dict={"shallow": METRICS, "deep": METRICS},
        objective_type="Minimize",
        max_jobs=args.jobs,
        max_parallel_jobs=2,
        strategy="Random",
    )
    several.fit(
        job_name=f"sdk2d-{run}", include_cls_metadata={"shallow": False, "deep": False}, inputs=None, wait=False
    )
    several.wait()
    several_jobs = session.sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=several.latest_tuning_job.name
    )["TrainingJobSummaries"]
    several_best = several.best_estimator()
    summary.update(
        several_tuning_job=several.latest_tuning_job.name,
        several_status=several.describe()["HyperParameterTuningJobStatus"],
        several_definitions=sorted({s["TrainingJobDefinitionName"] for s in several_jobs}),
        several_best_estimator=several_best.latest_training_job.name,
        several_best_max_depth=several_best.hyperparameters()["max_depth"],
    )
    print(
        f"two estimators in {several.latest_tuning_job.name}: {summary['several_status']}, "
        f"definitions run {summary['several_definitions']}, best {summary['several_best_estimator']}",
        flush=True,
    )
    # Autotune: subsample (0.8) is not kept static, so Autotune chooses its range from that value.
    auto = tuner(
        estimator(session, args.image, args.output, args.rounds),
        args.jobs,
        autotune=True,
        hyperparameters_to_keep_static=["num_round"],
    )
    auto.fit(job_name=f"sdk2a-{run}", include_cls_metadata=False)  # waits
    auto_described = auto.describe()
    auto_ranges = auto_described["HyperParameterTuningJobConfig"]["ParameterRanges"]
    summary.update(
        autotune_tuning_job=auto.latest_tuning_job.name,
        autotune_status=auto_described["HyperParameterTuningJobStatus"],
        autotune_ranges=sorted(r["Name"] for kind in auto_ranges.values() for r in kind),
        autotune_early_stopping=auto_described["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"],
    )
    print(f"autotuned {auto.latest_tuning_job.name}: {summary['autotune_status']}, ranges {summary['autotune_ranges']}")
    print(json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    main()
