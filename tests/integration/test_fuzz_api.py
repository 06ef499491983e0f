"""Hostile input at the api (issue #6, part 3): Schemathesis against the running api's OpenAPI spec,
and Hypothesis against SageMaker's JSON 1.1 route `POST /`.

`POST /` is left out of the spec (include_in_schema=False): it is one generic route whose operation
is chosen by the X-Amz-Target header and whose body shapes are botocore's, not the spec's, so
schema-based generation would only ever send it nothing useful. `test_sagemaker_route_garbage`
covers it instead.

TUNESTREAM_SCHEMATHESIS_EXAMPLES is the number of requests to generate (about; default 200, the
full run is 1000 or more), split evenly over the operations and over valid (positive) and invalid
(negative) data. Checks: no 5xx, error bodies are SageMaker's JSON shape, invalid data is refused
with a 4xx, every status code is one the spec lists for the operation (tunestream.api.contract), and
answers match the schema the spec gives for their code. Not checked: positive_data_acceptance
(valid-looking names of jobs that do not exist are rightly a 404).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import Services, _free_port
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings

EXAMPLES = int(os.environ.get("TUNESTREAM_SCHEMATHESIS_EXAMPLES", "200"))
# Printed with the figures; set it to replay a run.
SEED = int(os.environ.get("TUNESTREAM_SCHEMATHESIS_SEED", str(random.randrange(2**32))))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
]


def _assert_error_shape(response: Any) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("__type"), str) and isinstance(body.get("message"), str), body


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def fuzz_api(services: Services) -> Any:
    """An api process of its own, logging to api-fuzz.log: Hypothesis draws strings from constants in
    our own modules, the default credentials in tunestream.config among them, so the fuzzer's request
    paths can hold them. What a client sends is not a leak; test_security leaves this log out."""
    port = _free_port()
    services.start("api-fuzz", service="api", env={"TUNESTREAM_API_PORT": str(port)})
    wait_for("api-fuzz healthy", lambda: _healthy(port), timeout_s=60)
    yield port
    services.kill("api-fuzz")


def test_schemathesis_finds_no_server_error(fuzz_api: int, settings: Settings) -> None:
    base = f"http://127.0.0.1:{fuzz_api}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    per = max(1, math.ceil(EXAMPLES / (2 * len(operations))))
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=30) as http:
        rounds = 0
        # Hypothesis stops early on small spaces (a lone {name}); fresh rounds until EXAMPLES were sent.
        while sum(statuses.values()) < EXAMPLES and rounds < 10:
            rounds += 1
            for operation in operations:
                modes = [schemathesis.GenerationMode.POSITIVE]
                if list(operation.iter_parameters()):  # else there is nothing to make invalid
                    modes.append(schemathesis.GenerationMode.NEGATIVE)
                for mode in modes:

                    @hsettings(
                        max_examples=per,
                        deadline=None,
                        database=None,
                        suppress_health_check=list(HealthCheck),
                    )
                    @seed(SEED + 1000 * rounds + 10 * operations.index(operation) + modes.index(mode))
                    @given(case=operation.as_strategy(generation_mode=mode))
                    def run(case: schemathesis.Case) -> None:
                        response = case.call(base_url=base)
                        statuses[response.status_code] += 1
                        case.validate_response(response, checks=CHECKS)
                        _assert_error_shape(response)

                    try:
                        run()
                    except Unsatisfiable:  # nothing to make invalid (e.g. /healthz has no parameters)
                        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
        assert http.get("/healthz").status_code == 200  # still up
    total = sum(statuses.values())
    print(
        f"\nschemathesis (TUNESTREAM_SCHEMATHESIS_SEED={SEED}): {total} requests over {len(operations)} "
        f"operations, {rounds} rounds, in "
        f"{time.monotonic() - started:.1f}s; statuses {dict(sorted(statuses.items()))}"
    )
    assert total >= EXAMPLES
    assert not [s for s in statuses if s >= 500]


TARGETS = [
    f"SageMaker.{op}"
    for op in (
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "ListHyperParameterTuningJobs",
        "ListTrainingJobsForHyperParameterTuningJob",
        "StopHyperParameterTuningJob",
        "DeleteHyperParameterTuningJob",
        "DescribeTrainingJob",
    )
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
shaped_keys = st.sampled_from(
    [
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "TrainingJobName",
        "MaxResults",
        "NextToken",
        "SortBy",
        "SortOrder",
        "StatusEquals",
        "CreationTimeAfter",
        "NameContains",
    ]
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(shaped_keys, json_values, max_size=5).map(lambda v: json.dumps(v).encode()),
)
targets = st.one_of(st.sampled_from(TARGETS), st.text(max_size=60), st.sampled_from(["", "SageMaker.", "Other.Op"]))
content_types = st.sampled_from(["application/x-amz-json-1.1", "application/json", "text/plain", "", "x/y; a=b"])


@pytest.fixture(scope="module")
def http(api: TunestreamClient, settings: Settings) -> Any:
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as client:
        yield client


@hsettings(max_examples=max(50, EXAMPLES // 2), deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(target=targets, body=bodies, content_type=content_types)
def test_sagemaker_route_garbage(http: httpx.Client, target: str, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type}
    if all(32 <= ord(c) < 127 for c in target) and target == target.strip():  # what HTTP can carry
        headers["X-Amz-Target"] = target
    response = http.post("/", content=body, headers=headers)
    assert response.status_code < 500, (target, body[:200], response.text[:300])
    if response.status_code >= 400:
        _assert_error_shape(response)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/tuning-jobs?NameContains=%00", None, "NameContains"),
        ("GET", "/tuning-jobs/a%00b", None, "name"),
        ("DELETE", "/tuning-jobs/%00", None, "name"),
        ("POST", "/tuning-jobs/%00/stop", None, "name"),
        ("GET", "/training-jobs/%00/logs", None, "name"),
        ("GET", "/tuning-jobs/x/analytics/metrics?MetricName=%00", None, "MetricName"),
        ("POST", "/tuning-jobs", b'{"HyperParameterTuningJobName": "a\\u0000"}', "HyperParameterTuningJobName"),
        ("POST", "/tuning-jobs", b'{"a":' * 5000, "nested too deeply"),
        ("POST", "/tuning-jobs", b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    ],
)
def test_inputs_that_were_server_errors(
    http: httpx.Client, method: str, path: str, body: bytes | None, field: str
) -> None:
    """Found while fuzzing: NUL characters (PostgreSQL text cannot hold them) and deeply nested JSON
    were 500s; now 400s naming the field."""
    response = http.request(method, path, content=body)
    assert response.status_code == 400, response.text
    _assert_error_shape(response)
    assert field in response.json()["message"]


@pytest.mark.parametrize(
    ("target", "body", "field"),
    [
        (
            "DescribeHyperParameterTuningJob",
            b'{"HyperParameterTuningJobName": "\\u0000"}',
            "HyperParameterTuningJobName",
        ),
        ("ListHyperParameterTuningJobs", b'{"NameContains": "x\\u0000"}', "NameContains"),
        ("DescribeTrainingJob", b'{"TrainingJobName": "a\\u0000"}', "TrainingJobName"),
        ("ListHyperParameterTuningJobs", b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    ],
)
def test_sagemaker_inputs_that_were_server_errors(http: httpx.Client, target: str, body: bytes, field: str) -> None:
    response = http.post(
        "/", content=body, headers={"X-Amz-Target": f"SageMaker.{target}", "Content-Type": "application/x-amz-json-1.1"}
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
