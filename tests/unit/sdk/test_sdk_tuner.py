"""HyperparameterTuner's requests: ranges, scaling, strategies, early stopping, warm start, names, errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.sdk.conftest import FakeApi
from tunestream.definitions import JOB_NAME_PATTERN, CreateTuningJobRequest
from tunestream.sdk.estimator import Estimator
from tunestream.sdk.exceptions import ClientError, NoBestTrainingJobError, UnexpectedStatusException
from tunestream.sdk.pytorch import PyTorch
from tunestream.sdk.session import Session
from tunestream.sdk.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    EarlyStoppingType,
    HyperbandStrategyConfig,
    HyperparameterTuner,
    IntegerParameter,
    StrategyConfig,
    TuningJobCompletionCriteriaConfig,
    WarmStartConfig,
    WarmStartTypes,
    name_from_base,
)
from tunestream.validation import validate_request

METRICS = [{"Name": "val:dice", "Regex": "val:dice=([0-9\\.]+)"}, {"Name": "train:loss", "Regex": "loss=([0-9.]+)"}]
RANGES = {
    "lr": ContinuousParameter(1e-5, 1e-3, scaling_type="Logarithmic"),
    "batch_size": CategoricalParameter([1, 2, 4]),
    "dropout": ContinuousParameter(0.1, 0.5),
    "layers": IntegerParameter(1, 4),
    "optimizer": CategoricalParameter(["adam", "sgd"]),
}


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    code = tmp_path / "code" / "training"
    code.mkdir(parents=True)
    (code / "train_fsdp.py").write_text("print('val:dice=0.5')\n")
    monkeypatch.chdir(tmp_path / "code")
    return code / "train_fsdp.py"


def pytorch(session: Session, **kwargs: Any) -> PyTorch:
    args: dict[str, Any] = {
        "entry_point": "train_fsdp.py",
        "source_dir": "training",
        "role": "arn:aws:iam::1:role/x",
        "instance_type": "ml.g5.xlarge",
        "instance_count": 1,
        "framework_version": "2.4.0",
        "py_version": "py311",
        "hyperparameters": {"model_name": "SegResNet", "epochs": 10, "val_interval": 2},
        "sagemaker_session": session,
    }
    args.update(kwargs)
    return PyTorch(**args)


def tuner(estimator: Any, **kwargs: Any) -> HyperparameterTuner:
    args: dict[str, Any] = {
        "estimator": estimator,
        "objective_metric_name": "val:dice",
        "hyperparameter_ranges": RANGES,
        "metric_definitions": METRICS,
        "max_jobs": 20,
        "max_parallel_jobs": 4,
    }
    args.update(kwargs)
    return HyperparameterTuner(**args)


def accepted(request: dict[str, Any]) -> None:
    """The api's own validation accepts the request."""
    validate_request(CreateTuningJobRequest.model_validate(request))


# ---------------------------------------------------------------- the lab's request


def test_the_lab_request(script: Path, session: Session) -> None:
    request = tuner(pytorch(session), objective_type="Maximize", strategy="Bayesian").build_request(
        {"training": "s3://unit-bucket/segmentation/processed/"}
    )
    accepted(request)
    name = request["HyperParameterTuningJobName"]
    assert re.fullmatch(r"pytorch-training-\d{6}-\d{6}", name)
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val:dice"}
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 4, "MaxNumberOfTrainingJobs": 20}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert "RandomSeed" not in config and "StrategyConfig" not in config
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"model_name": "SegResNet", "epochs": "10", "val_interval": "2"}
    assert definition["AlgorithmSpecification"] == {
        "TrainingInputMode": "File",
        "Command": [sys.executable, str(script.resolve())],
        "MetricDefinitions": METRICS,
    }
    assert definition["RoleArn"] == "arn:aws:iam::1:role/x"
    assert definition["InputDataConfig"] == [
        {
            "ChannelName": "training",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "s3://unit-bucket/segmentation/processed/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    ]
    assert definition["OutputDataConfig"] == {"S3OutputPath": f"s3://unit-bucket/{name}/output"}
    assert definition["ResourceConfig"] == {"InstanceCount": 1, "VolumeSizeInGB": 30, "InstanceType": "ml.g5.xlarge"}
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    for absent in ("Environment", "CheckpointConfig", "EnableManagedSpotTraining", "RetryStrategy"):
        assert absent not in definition


# ---------------------------------------------------------------- ranges and scaling


def test_ranges_become_parameter_ranges_as_text(script: Path, session: Session) -> None:
    ranges = tuner(pytorch(session)).hyperparameter_ranges()
    assert ranges == {
        "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "4", "ScalingType": "Auto"}],
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "1e-05", "MaxValue": "0.001", "ScalingType": "Logarithmic"},
            {"Name": "dropout", "MinValue": "0.1", "MaxValue": "0.5", "ScalingType": "Auto"},
        ],
        "CategoricalParameterRanges": [
            {"Name": "batch_size", "Values": ["1", "2", "4"]},
            {"Name": "optimizer", "Values": ["adam", "sgd"]},
        ],
    }


@pytest.mark.parametrize("scaling", ["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"])
def test_scaling_types_reach_the_request(script: Path, session: Session, scaling: str) -> None:
    ranges = {"dropout": ContinuousParameter(0.1, 0.5, scaling_type=scaling)}
    request = tuner(pytorch(session), hyperparameter_ranges=ranges).build_request()
    accepted(request)
    shape = request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]
    assert shape["ScalingType"] == scaling


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (lambda: ContinuousParameter(0, 1, scaling_type="Log"), "scaling_type must be one of"),
        (lambda: ContinuousParameter(2, 1), "min_value 2 exceeds max_value 1"),
        (lambda: ContinuousParameter(0, 1, scaling_type="Logarithmic"), "Logarithmic scaling needs min_value > 0"),
        (lambda: IntegerParameter(1, 9, scaling_type="ReverseLogarithmic"), "continuous ranges only"),
        (lambda: IntegerParameter(1.5, 9), "integer bounds needed"),
        (lambda: ContinuousParameter("a", 1), "must be a number"),
        (lambda: CategoricalParameter([1, 1]), "listed twice"),
        (lambda: CategoricalParameter([]), "at least one value"),
    ],
)
def test_bad_ranges_are_refused_early(script: Path, session: Session, parameter: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        tuner(pytorch(session), hyperparameter_ranges={"p": parameter()})


def test_parameter_helpers() -> None:
    assert ContinuousParameter(0, 1).is_valid(0.5) and not ContinuousParameter(0, 1).is_valid(2)
    assert IntegerParameter("1", "4").is_valid(3) and IntegerParameter.cast_to_type("3") == 3
    assert CategoricalParameter([True, "x", 2]).values == ["True", "x", "2"]
    assert CategoricalParameter("only").values == ["only"] and CategoricalParameter([2]).is_valid(2)
    assert CategoricalParameter(["a"]).as_json_range("c") == {"Name": "c", "Values": ['"a"']}
    assert ContinuousParameter(0, 1) == ContinuousParameter(0, 1) != ContinuousParameter(0, 2)


def test_tuned_names_leave_the_static_hyperparameters(script: Path, session: Session) -> None:
    estimator = pytorch(session, hyperparameters={"lr": 0.1, "epochs": 3, "flags": [1, 2], "on": True})
    definition = tuner(estimator).build_request()["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"epochs": "3", "flags": "[1, 2]", "on": "True"}


# ---------------------------------------------------------------- strategies, early stopping, criteria


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Hyperband"])
def test_strategies(script: Path, session: Session, strategy: str) -> None:
    request = tuner(pytorch(session), strategy=strategy, random_seed=42).build_request()
    accepted(request)
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == strategy and config["RandomSeed"] == 42


def test_grid_leaves_the_job_count_to_the_grid(script: Path, session: Session) -> None:
    ranges = {"batch_size": CategoricalParameter([1, 2, 4]), "layers": IntegerParameter(1, 3)}
    grid = tuner(pytorch(session), strategy="Grid", hyperparameter_ranges=ranges, max_jobs=None, max_parallel_jobs=2)
    request = grid.build_request()
    accepted(request)
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {"MaxParallelTrainingJobs": 2}
    # sagemaker's default for the other strategies: one training job.
    assert tuner(pytorch(session), max_jobs=None, max_parallel_jobs=1).max_jobs == 1


def test_hyperband_strategy_config(script: Path, session: Session) -> None:
    config = StrategyConfig(HyperbandStrategyConfig(max_resource=10, min_resource=2))
    request = tuner(pytorch(session), strategy="Hyperband", strategy_config=config).build_request()
    accepted(request)
    assert request["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 10}
    }
    as_dict = tuner(pytorch(session), strategy="Hyperband", strategy_config={"HyperbandStrategyConfig": {}})
    assert as_dict.build_request()["HyperParameterTuningJobConfig"]["StrategyConfig"] == {"HyperbandStrategyConfig": {}}


@pytest.mark.parametrize("value", [EarlyStoppingType.AUTO, "Auto"])
def test_early_stopping(script: Path, session: Session, value: Any) -> None:
    request = tuner(pytorch(session), early_stopping_type=value).build_request()
    accepted(request)
    assert request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    with pytest.raises(ValueError, match="'Off' or 'Auto'"):
        tuner(pytorch(session), early_stopping_type="auto")


def test_completion_criteria_and_budget(script: Path, session: Session) -> None:
    criteria = TuningJobCompletionCriteriaConfig(
        max_number_training_jobs_not_improving=5, complete_on_convergence=True, target_objective_metric_value=0.9
    )
    request = tuner(pytorch(session), completion_criteria_config=criteria, max_runtime_in_seconds=600).build_request()
    accepted(request)
    config = request["HyperParameterTuningJobConfig"]
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.9,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    assert config["ResourceLimits"]["MaxRuntimeInSeconds"] == 600
    restored = TuningJobCompletionCriteriaConfig.from_job_desc(config["TuningJobCompletionCriteria"])
    assert restored is not None and restored.to_input_req() == config["TuningJobCompletionCriteria"]


# ---------------------------------------------------------------- warm start


def test_warm_start(script: Path, session: Session) -> None:
    warm = WarmStartConfig(warm_start_type=WarmStartTypes.TRANSFER_LEARNING, parents=["p1", "p2", "p1"])
    request = tuner(pytorch(session), warm_start_config=warm).build_request()
    accepted(request)
    assert request["WarmStartConfig"] == {
        "WarmStartType": "TransferLearning",
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "p1"},
            {"HyperParameterTuningJobName": "p2"},
        ],
    }
    assert WarmStartConfig.from_job_desc(request["WarmStartConfig"]).parents == ["p1", "p2"]
    assert WarmStartConfig("IdenticalDataAndAlgorithm", "p").type is WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM
    with pytest.raises(ValueError, match="at least one parent"):
        WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, parents=[])
    with pytest.raises(ValueError, match="WarmStartTypes"):
        WarmStartConfig("Transfer", parents=["p"])


def test_warm_start_tuners_name_this_job_as_parent(script: Path, fake_api: FakeApi, session: Session) -> None:
    fake_api.on("POST", "/tuning-jobs", {"HyperParameterTuningJobArn": "arn"})
    parent = tuner(pytorch(session))
    with pytest.raises(ValueError, match="No tuning job available"):
        parent.transfer_learning_tuner()
    parent.fit(job_name="parent-job", wait=False)
    child = parent.transfer_learning_tuner(additional_parents=["older"])
    assert child.latest_tuning_job is None and parent.warm_start_config is None
    warm = child.build_request()["WarmStartConfig"]
    assert warm["WarmStartType"] == "TransferLearning"
    assert [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]] == ["parent-job", "older"]
    same = parent.identical_dataset_and_algorithm_tuner().build_request()["WarmStartConfig"]
    assert same["WarmStartType"] == "IdenticalDataAndAlgorithm"


# ---------------------------------------------------------------- names


def test_generated_names_fit_the_32_character_rule(script: Path, session: Session) -> None:
    long_base = "a-very-long-base-name-for-tuning-jobs"
    for t in (tuner(pytorch(session)), tuner(pytorch(session), base_tuning_job_name=long_base)):
        name = t.build_request()["HyperParameterTuningJobName"]
        assert len(name) <= 32 and re.match(JOB_NAME_PATTERN, name)
    assert name_from_base("x" * 40).startswith("x" * 18 + "-")
    assert len(name_from_base("base", suffix="abc")) <= 32 and name_from_base("base", suffix="abc").endswith("-abc")


def test_base_names_as_sagemaker_derives_them(script: Path, session: Session) -> None:
    assert pytorch(session).base_name() == "pytorch-training"
    assert Estimator(entry_point="train_fsdp.py", source_dir="training").base_name() == "train-fsdp"
    image = "123.dkr.ecr.us-east-1.amazonaws.com/my_algo:1.2"
    assert Estimator(image_uri=image).base_name() == "my-algo"
    assert Estimator(image_uri=image, base_job_name="Seg Job").base_name() == "Seg-Job"


def test_a_bad_job_name_is_refused_before_the_call(script: Path, session: Session) -> None:
    with pytest.raises(ValueError, match="1-32 letters, digits and hyphens"):
        tuner(pytorch(session)).build_request(job_name="bad_name")


def test_a_taken_generated_name_is_replaced(script: Path, fake_api: FakeApi, session: Session) -> None:
    answers = iter([(409, {"__type": "ResourceInUse", "message": "taken"}), (200, {"HyperParameterTuningJobArn": "a"})])
    fake_api.on("POST", "/tuning-jobs", lambda request: next(answers))
    t = tuner(pytorch(session))
    t.fit(wait=False)
    first, second = (p["HyperParameterTuningJobName"] for p in fake_api.posted())
    assert first != second and t.latest_tuning_job is not None and t.latest_tuning_job.name == second
    assert fake_api.posted()[1]["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"].endswith(
        f"/{second}/output"
    )


def test_a_taken_given_name_is_an_error(script: Path, fake_api: FakeApi, session: Session) -> None:
    fake_api.on("POST", "/tuning-jobs", (409, {"__type": "ResourceInUse", "message": "tuning job 'x' already exists"}))
    with pytest.raises(ClientError, match=r"\(ResourceInUse\).*already exists"):
        tuner(pytorch(session)).fit(job_name="x", wait=False)
    assert len(fake_api.posted()) == 1


# ---------------------------------------------------------------- early checks and server errors


def test_objective_must_have_a_metric_definition(script: Path, session: Session) -> None:
    with pytest.raises(ValueError, match=r"objective metric 'val:iou' has no metric definition \(defined: val:dice"):
        tuner(pytorch(session), objective_metric_name="val:iou")
    with pytest.raises(ValueError, match="none are defined"):
        tuner(pytorch(session), metric_definitions=None)
    with pytest.raises(ValueError, match="capturing group"):
        tuner(pytorch(session), metric_definitions=[{"Name": "val:dice", "Regex": "val:dice=[0-9.]+"}])
    # The estimator's metric definitions count when the tuner has none.
    assert tuner(pytorch(session, metric_definitions=METRICS), metric_definitions=None).build_request()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective_type": "Max"}, "'Maximize' or 'Minimize'"),
        ({"hyperparameter_ranges": {}}, "Need to specify hyperparameter ranges"),
        ({"hyperparameter_ranges": {"lr": (0, 1)}}, "must be a ContinuousParameter"),
        ({"max_parallel_jobs": 0}, "positive integer"),
        ({"max_jobs": 2, "max_parallel_jobs": 4}, "exceeds max_jobs"),
        ({"autotune": True}, "autotune is not supported"),
    ],
)
def test_obvious_mistakes_are_refused_early(script: Path, session: Session, kwargs: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        tuner(pytorch(session), **kwargs)


def test_server_validation_errors_read_well(script: Path, fake_api: FakeApi, session: Session) -> None:
    body = {
        "__type": "ValidationException",
        "message": "a: one; b: two",
        "errors": [
            {"field": "HyperParameterTuningJobConfig.Strategy", "rule": "enum", "message": "unknown Strategy 'X'"},
            {"field": "TrainingJobDefinition", "rule": "required", "message": "required"},
        ],
    }
    fake_api.on("POST", "/tuning-jobs", (400, body))
    with pytest.raises(ClientError) as caught:
        tuner(pytorch(session), strategy="X").fit(wait=False)
    error = caught.value
    assert error.status == 400 and error.code == "ValidationException" and len(error.errors) == 2
    assert str(error) == (
        "An error occurred (ValidationException) when calling the CreateHyperParameterTuningJob operation: "
        "2 problem(s) in the request:\n"
        "  - HyperParameterTuningJobConfig.Strategy: unknown Strategy 'X' (enum)\n"
        "  - TrainingJobDefinition: required (required)"
    )


def test_an_unreachable_api_is_named(script: Path) -> None:
    from tunestream.config import Settings
    from tunestream.sdk.exceptions import ApiUnreachableError

    session = Session(api_url="http://127.0.0.1:9", settings=Settings(), timeout_s=2)
    with pytest.raises(ApiUnreachableError, match=r"cannot reach the tunestream api at http://127\.0\.0\.1:9"):
        session.describe_tuning_job("x")


# ---------------------------------------------------------------- after fit: describe, best, stop, wait


def _describe(status: str, best: str | None = None) -> dict[str, Any]:
    desc: dict[str, Any] = {
        "HyperParameterTuningJobName": "job",
        "HyperParameterTuningJobStatus": status,
        "HyperParameterTuningJobConfig": {"ResourceLimits": {"MaxNumberOfTrainingJobs": 2}},
        "TrainingJobStatusCounters": {"Completed": 1, "InProgress": 1},
        "ObjectiveStatusCounters": {"Succeeded": 0 if best is None else 1},
    }
    if best:
        desc["BestTrainingJob"] = {
            "TrainingJobName": best,
            "TunedHyperParameters": {"lr": "0.001"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "val:dice", "Value": 0.8, "Type": "Maximize"},
        }
    return desc


def test_best_training_job_and_estimator(script: Path, fake_api: FakeApi, session: Session) -> None:
    fake_api.on("POST", "/tuning-jobs", {"HyperParameterTuningJobArn": "arn"})
    t = tuner(pytorch(session))
    with pytest.raises(ValueError, match="No tuning job available"):
        t.best_training_job()
    t.fit(job_name="job", wait=False)
    fake_api.on("GET", "/tuning-jobs/job", _describe("InProgress"))
    with pytest.raises(NoBestTrainingJobError, match="Best training job not available for tuning job job"):
        t.best_training_job()
    fake_api.on("GET", "/tuning-jobs/job", _describe("Completed", best="job-001-aaaa"))
    assert t.best_training_job() == "job-001-aaaa"
    assert t.describe()["HyperParameterTuningJobStatus"] == "Completed"
    fake_api.on(
        "GET",
        "/training-jobs/job-001-aaaa",
        {
            "TrainingJobName": "job-001-aaaa",
            "HyperParameters": {"lr": "0.001", "epochs": "10", "model_name": "SegResNet", "batch_size": "2"},
            "AlgorithmSpecification": {"Command": [sys.executable, str(script)], "MetricDefinitions": METRICS},
            "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1},
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/job/output/job-001-aaaa/output/model.tar.gz"},
        },
    )
    best = t.best_estimator()
    assert isinstance(best, PyTorch)
    # Framework estimators give numbers back as numbers (sagemaker's JSON-decoding of its hyperparameters).
    assert best.hyperparameters() == {"lr": 0.001, "epochs": 10, "model_name": "SegResNet", "batch_size": 2}
    assert best.model_data == "s3://b/job/output/job-001-aaaa/output/model.tar.gz"
    assert best.entry_point == "train_fsdp.py" and best.instance_type == "ml.g5.xlarge"
    generic = Estimator.attach("job-001-aaaa", sagemaker_session=session)
    assert generic.hyperparameters()["epochs"] == "10"


def test_stop_and_wait(script: Path, fake_api: FakeApi, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    fake_api.on("POST", "/tuning-jobs", {"HyperParameterTuningJobArn": "arn"})
    fake_api.on("POST", "/tuning-jobs/job/stop", {"HyperParameterTuningJobStatus": "Stopping"})
    t = tuner(pytorch(session))
    t.fit(job_name="job", wait=False)
    t.stop()
    t.stop_tuning_job()
    assert [r.url.path for r in fake_api.requests].count("/tuning-jobs/job/stop") == 2
    states = iter(
        [_describe("InProgress"), _describe("InProgress", best="job-001-a"), _describe("Stopped", "job-001-a")]
    )
    fake_api.on("GET", "/tuning-jobs/job", lambda request: (200, next(states)))
    assert t.wait(poll=0)["HyperParameterTuningJobStatus"] == "Stopped"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[-1].endswith(
        "job Stopped: 1/2 training jobs finished, 1 running; best val:dice=0.8"
    )
    fake_api.on("GET", "/tuning-jobs/job", {**_describe("Failed"), "FailureReason": "every training job failed"})
    with pytest.raises(UnexpectedStatusException, match=r"Failed\. Reason: every training job failed"):
        t.wait(poll=0, progress=False)


def test_fit_with_wait_blocks_until_the_end(script: Path, fake_api: FakeApi, session: Session) -> None:
    fake_api.on("POST", "/tuning-jobs", {"HyperParameterTuningJobArn": "arn"})
    states = iter([_describe("InProgress"), _describe("Completed", best="job-001-a")])
    fake_api.on("GET", "/tuning-jobs/job", lambda request: (200, next(states)))
    t = tuner(pytorch(session))
    t.wait = lambda **kw: t._ensure_last_tuning_job().wait(poll=0, **kw)  # type: ignore[method-assign]
    t.fit("s3://unit-bucket/data", job_name="job")
    assert [r.url.path for r in fake_api.requests].count("/tuning-jobs/job") == 2


# ---------------------------------------------------------------- attach


def test_attach_rebuilds_the_tuner(script: Path, fake_api: FakeApi, session: Session) -> None:
    warm = WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, ["p1"])
    criteria = TuningJobCompletionCriteriaConfig(target_objective_metric_value=0.95)
    original = tuner(
        pytorch(session, environment={"A": "1"}, checkpoint_s3_uri="s3://b/ckpt", max_retry_attempts=2),
        strategy="Random",
        random_seed=3,
        early_stopping_type="Auto",
        warm_start_config=warm,
        completion_criteria_config=criteria,
        max_runtime_in_seconds=900,
    )
    request = original.build_request({"training": "s3://b/data"}, job_name="job")
    accepted(request)
    stored = CreateTuningJobRequest.model_validate(request).model_dump(mode="json", exclude_none=True)
    fake_api.on(
        "GET",
        "/tuning-jobs/job",
        {
            **_describe("Completed"),
            "HyperParameterTuningJobConfig": stored["HyperParameterTuningJobConfig"],
            "TrainingJobDefinition": stored["TrainingJobDefinition"],
            "WarmStartConfig": stored["WarmStartConfig"],
        },
    )
    attached = HyperparameterTuner.attach("job", sagemaker_session=session, estimator_cls=PyTorch)
    assert isinstance(attached.estimator, PyTorch) and attached.latest_tuning_job is not None
    assert attached.build_request({"training": "s3://b/data"}, job_name="job") == request


# ---------------------------------------------------------------- estimators


def test_entry_points_resolve_against_the_cwd_when_made(script: Path, tmp_path: Path) -> None:
    estimator = Estimator(entry_point="train_fsdp.py", source_dir="training")
    assert estimator.training_command() == [sys.executable, str(script.resolve())]
    with pytest.raises(FileNotFoundError, match=r"entry_point 'train.py' not found in source_dir .*training"):
        Estimator(entry_point="train.py", source_dir="training")
    with pytest.raises(FileNotFoundError, match="source_dir 'nowhere' is not a folder"):
        PyTorch(entry_point="train_fsdp.py", source_dir="nowhere")
    alone = Estimator(entry_point="training/train_fsdp.py")
    assert alone.training_command() == [sys.executable, str(script.resolve())]
    with pytest.raises(ValueError, match="needs entry_point"):
        PyTorch(source_dir="training")


def test_images_and_container_commands(script: Path, session: Session) -> None:
    image = Estimator(image_uri="trainer:1", instance_type="ml.m5.large")
    definition = tuner(image).build_request()["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == "trainer:1"
    assert "Command" not in definition["AlgorithmSpecification"]
    command = Estimator(
        image_uri="trainer:1", container_entry_point=["python", "/opt/train.py"], container_arguments=["-v"]
    )
    assert command.training_command() == ["python", "/opt/train.py", "-v"]
    with pytest.raises(ValueError, match="container_entry_point"):
        Estimator(image_uri="trainer:1", entry_point="train_fsdp.py", source_dir="training")
    with pytest.raises(ValueError, match="needs image_uri, entry_point"):
        Estimator()


def test_estimator_options_map_to_the_definition(script: Path, session: Session) -> None:
    estimator = pytorch(
        session,
        use_spot_instances=True,
        max_run=3600,
        max_wait=7200,
        checkpoint_s3_uri="s3://b/ckpt",
        checkpoint_local_path="/opt/ml/checkpoints",
        environment={"OMP_NUM_THREADS": 1},
        output_path="s3://b/out",
        max_retry_attempts=3,
        volume_size=50,
        gpu_count=2,
        instance_count=2,
        subnets=["s-1"],
        tags=[{"Key": "team", "Value": "seg"}],
        debugger_hook_config=False,
    )
    request = tuner(estimator).build_request()
    # Mapped as SageMaker's SDK maps them, and all of them honoured (#15): managed spot with its
    # MaxWaitTimeInSeconds, and InstanceCount 2 (the script is a local process, and processes run
    # several instances).
    accepted(request)
    definition = request["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert definition["CheckpointConfig"] == {"S3Uri": "s3://b/ckpt", "LocalPath": "/opt/ml/checkpoints"}
    assert definition["Environment"] == {"OMP_NUM_THREADS": "1"}
    assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}
    assert definition["RetryStrategy"] == {"MaximumRetryAttempts": 3}
    assert definition["ResourceConfig"] == {
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
        "InstanceType": "ml.g5.xlarge",
        "GpuCount": 2,
    }
    assert definition["VpcConfig"] == {"Subnets": ["s-1"], "SecurityGroupIds": []}
    assert request["Tags"] == [{"Key": "team", "Value": "seg"}]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_wait": 7200}, ValueError, "use_spot_instances=True"),
        ({"use_spot_instances": True, "max_run": 3600, "max_wait": 60}, ValueError, "at least max_run"),
        ({"instance_count": 0}, ValueError, "instance_count"),
        ({"input_mode": "Stream"}, ValueError, "input_mode"),
        ({"output_path": "/tmp/out"}, ValueError, "s3:// URI"),
        ({"git_config": {"repo": "x"}}, ValueError, "git_config is not supported"),
        ({"no_such_argument": 1}, TypeError, "unexpected keyword argument 'no_such_argument'"),
    ],
)
def test_estimator_mistakes(script: Path, session: Session, kwargs: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        pytorch(session, **kwargs)


def test_inputs(script: Path, session: Session) -> None:
    from tunestream.sdk.inputs import TrainingInput

    t = tuner(pytorch(session))
    channels = t.build_request(
        {"train": "s3://b/train/", "validation": TrainingInput("s3://b/val/", content_type="text/csv")}
    )["TrainingJobDefinition"]["InputDataConfig"]
    assert [c["ChannelName"] for c in channels] == ["train", "validation"]
    assert channels[1]["ContentType"] == "text/csv"
    assert t.build_request("s3://b/all/")["TrainingJobDefinition"]["InputDataConfig"][0]["ChannelName"] == "training"
    assert "InputDataConfig" not in t.build_request()["TrainingJobDefinition"]
    with pytest.raises(ValueError, match="upload local files first"):
        t.build_request("file:///data")
    with pytest.raises(ValueError, match="channel name"):
        t.build_request({"bad name": "s3://b/x"})
    with pytest.raises(TypeError, match="inputs must be"):
        t.build_request(["s3://b/x"])
