"""The suites' one job builder makes requests the api accepts, for a process and for a container."""

from __future__ import annotations

import pytest

from tests.support.jobs import continuous, tuning_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.validation import validate_request


@pytest.mark.parametrize(
    "options",
    [
        {"command": ["python", "train.py"]},
        {"image": "tunestream/test-trainer:1", "strategy_config": {"HyperbandStrategyConfig": {"MaxResource": 9}}},
        {"command": ["python", "train.py"], "retries": 3, "checkpoint_s3": "s3://b/ck", "environment": {"A": "1"}},
    ],
)
def test_built_requests_pass_validation(options: dict[str, object]) -> None:
    strategy = "Hyperband" if "strategy_config" in options else "Random"
    job = tuning_job("built-1", ranges={"ContinuousParameterRanges": [continuous("x")]}, strategy=strategy, **options)  # type: ignore[arg-type]
    request = CreateTuningJobRequest.model_validate(job)
    validate_request(request)
    assert request.HyperParameterTuningJobName == "built-1"


def test_a_job_runs_a_command_or_an_image_not_both() -> None:
    with pytest.raises(ValueError, match="a command or an image"):
        tuning_job("x", ranges={}, command=["a"], image="b")
    with pytest.raises(ValueError, match="a command or an image"):
        tuning_job("x", ranges={})
