from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.conftest import minimal_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.topics import Topics
from tunestream.events.v1 import (
    EVENT_ADAPTER,
    TuningJobStopRequested,
    TuningJobStopRequestedData,
    TuningJobSubmitted,
    TuningJobSubmittedData,
    decode,
    encode,
)
from tunestream.naming import training_job_name


def test_round_trip_keeps_type_and_payload() -> None:
    event = TuningJobSubmitted(
        event_id="j:submitted",
        tuning_job_name="j",
        payload=TuningJobSubmittedData(
            request=CreateTuningJobRequest.model_validate(minimal_job("j")), random_seed=3, created_at=datetime.now(UTC)
        ),
    )
    back = decode(encode(event))
    assert isinstance(back, TuningJobSubmitted) and back == event
    assert back.schema_version == 1


def test_unknown_type_and_extra_fields_rejected() -> None:
    good = TuningJobStopRequested(event_id="x", tuning_job_name="j", payload=TuningJobStopRequestedData(reason="r"))
    data = good.model_dump(mode="json")
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python({**data, "type": "Nope"})
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python({**data, "surprise": 1})


def test_every_event_type_has_a_topic() -> None:
    topics = Topics("t")
    for member in EVENT_ADAPTER.core_schema["schema"]["choices"]:  # type: ignore[index]
        assert topics.for_event(member).startswith("t.")


def test_training_job_names_follow_sagemaker_pattern_and_are_stable() -> None:
    assert training_job_name("job", 0) == training_job_name("job", 0)
    name = training_job_name("job", 11)
    assert name.startswith("job-012-") and len(name.split("-")[-1]) == 8
