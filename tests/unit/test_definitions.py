"""HyperParameterTuningResourceConfig (what SageMaker's SDK v2 sends) becomes the training jobs'
ResourceConfig; a request read back from storage validates again to the same thing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tunestream.definitions import TrainingJobDefinitionShape

BASE: dict[str, Any] = {
    "AlgorithmSpecification": {"TrainingImage": "file:///bin/true", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
}
CONFIGS = [
    {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
]


def definition(**extra: Any) -> TrainingJobDefinitionShape:
    return TrainingJobDefinitionShape.model_validate({**BASE, **extra})


def test_the_sdk_v2_shape_becomes_resource_config() -> None:
    d = definition(HyperParameterTuningResourceConfig={"InstanceType": "ml.p3.8xlarge", "InstanceCount": 1})
    assert (d.ResourceConfig.InstanceType, d.ResourceConfig.InstanceCount) == ("ml.p3.8xlarge", 1)
    stored = d.model_dump(mode="json", exclude_none=True)
    assert stored["ResourceConfig"] == {"InstanceType": "ml.p3.8xlarge", "InstanceCount": 1}
    assert TrainingJobDefinitionShape.model_validate(stored) == d


def test_prioritized_instance_configs_take_the_first() -> None:
    d = definition(HyperParameterTuningResourceConfig={"AllocationStrategy": "Prioritized", "InstanceConfigs": CONFIGS})
    assert d.ResourceConfig.InstanceType == "ml.g5.xlarge" and d.ResourceConfig.VolumeSizeInGB == 30


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                "HyperParameterTuningResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1},
            },
            r"not both \(SageMaker takes one\)",
        ),
        (
            {"HyperParameterTuningResourceConfig": {"InstanceType": "ml.m5.large", "InstanceConfigs": CONFIGS}},
            "give InstanceConfigs or InstanceType and InstanceCount",
        ),
        ({"HyperParameterTuningResourceConfig": {"AllocationStrategy": "Cheapest"}}, "AllocationStrategy"),
    ],
)
def test_contradictions_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        definition(**extra)
