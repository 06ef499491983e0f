"""SageMaker's JSON 1.1 wire protocol on `POST /`, so boto3's "sagemaker" client works unchanged.

    POST /   X-Amz-Target: SageMaker.<Operation>   Content-Type: application/x-amz-json-1.1

The body is the operation's input as JSON; the answer is its output, projected onto botocore's
service model (members the model lacks are dropped, timestamps become epoch seconds, numbers and
strings get the model's types). Errors are `{"__type": "<Code>", "message": "..."}` with
SageMaker's status codes. Every operation calls the same function as its REST route
(`tunestream.api.operations`), so both behave the same.

With any credential configured (access keys, a token, principals), every request must carry a SigV4
signature made with one of the access keys (`tunestream.api.sigv4`); the key names the principal the
operation runs as (`tunestream.api.principals`, `tunestream.api.access`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tunestream.api import identity
from tunestream.api import operations as ops
from tunestream.api.errors import ApiError, errors_from_pydantic, parse_json_body, reject_nul
from tunestream.api.principals import Caller, Principals, open_caller
from tunestream.api.sigv4 import Request as SignedRequest
from tunestream.api.sigv4 import SigV4Error, verify
from tunestream.validation import FieldError, InvalidTuningJob

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."
# SageMaker answers every client error with 400; the REST routes' 404/409 are not its codes.
INTERNAL = (500, "InternalFailure")

Handler = Callable[[ops.State, Caller, dict[str, Any]], Awaitable[dict[str, Any] | None]]


class ProtocolError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@functools.cache
def service_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


# --- operations ------------------------------------------------------------------------------------


async def _create(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    return await ops.create_tuning_job(st, who, params)


async def _create_training_job(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    return await ops.create_training_job(st, who, params)


async def _describe(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    name = ops.TuningJobNameInput.model_validate(params).HyperParameterTuningJobName
    result: dict[str, Any] = await asyncio.to_thread(ops.describe_tuning_job, st, who, name)
    # RoleArn is required by the model; a job submitted over REST may have none (tunestream ignores it).
    definition = result.get("TrainingJobDefinition")
    if isinstance(definition, dict) and "RoleArn" not in definition:
        result["TrainingJobDefinition"] = {**definition, "RoleArn": ""}
    if isinstance(result.get("TrainingJobDefinitions"), list):
        result["TrainingJobDefinitions"] = [{"RoleArn": "", **d} for d in result["TrainingJobDefinitions"]]
    return result


async def _list_tuning_jobs(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    query = ops.ListTuningJobsInput.model_validate(params)
    return await asyncio.to_thread(ops.list_tuning_jobs, st, who, query)


async def _list_training_jobs(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    query = ops.ListTrainingJobsInput.model_validate(params)
    # SageMaker: "If the value of this field is FinalObjectiveMetricValue, any training jobs that did
    # not return an objective metric are not listed."
    return await asyncio.to_thread(
        functools.partial(
            ops.list_training_jobs, st, who, query, with_objective_only=query.SortBy == "FinalObjectiveMetricValue"
        )
    )


async def _stop(st: ops.State, who: Caller, params: dict[str, Any]) -> None:
    await ops.stop_tuning_job(st, who, ops.TuningJobNameInput.model_validate(params).HyperParameterTuningJobName)


async def _delete(st: ops.State, who: Caller, params: dict[str, Any]) -> None:
    name = ops.TuningJobNameInput.model_validate(params).HyperParameterTuningJobName
    await ops.delete_tuning_job(st, who, name)


async def _describe_training_job(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    name = ops.TrainingJobNameInput.model_validate(params).TrainingJobName
    result: dict[str, Any] = await asyncio.to_thread(ops.describe_training_job, st, who, name)
    # Required by the model; empty until the training job uploaded a model.
    result.setdefault("ModelArtifacts", {"S3ModelArtifacts": ""})
    output = result.get("OutputDataConfig")
    if isinstance(output, dict) and "KmsKeyId" not in output:
        # SageMaker answers "" without a key, and the SDKs' Estimator.attach reads it unconditionally.
        result["OutputDataConfig"] = {**output, "KmsKeyId": ""}
    return result


async def _list_all_training_jobs(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    query = ops.ListAllTrainingJobsInput.model_validate(params)
    result: dict[str, Any] = await asyncio.to_thread(ops.list_all_training_jobs, st, who, query)
    return result


async def _list_tags(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    query = ops.ListTagsInput.model_validate(params)
    result: dict[str, Any] = await asyncio.to_thread(ops.list_tags, st, who, query)
    return result


async def _add_tags(st: ops.State, who: Caller, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await ops.add_tags(st, who, ops.AddTagsInput.model_validate(params))
    return result


async def _delete_tags(st: ops.State, who: Caller, params: dict[str, Any]) -> None:
    await ops.delete_tags(st, who, ops.DeleteTagsInput.model_validate(params))


async def _stop_training_job(st: ops.State, who: Caller, params: dict[str, Any]) -> None:
    name = ops.TrainingJobNameInput.model_validate(params).TrainingJobName
    await ops.stop_training_job(st, who, name)


OPERATIONS: dict[str, Handler] = {
    "CreateHyperParameterTuningJob": _create,
    "DescribeHyperParameterTuningJob": _describe,
    "ListHyperParameterTuningJobs": _list_tuning_jobs,
    "ListTrainingJobsForHyperParameterTuningJob": _list_training_jobs,
    "StopHyperParameterTuningJob": _stop,
    "DeleteHyperParameterTuningJob": _delete,
    "CreateTrainingJob": _create_training_job,
    "DescribeTrainingJob": _describe_training_job,
    "StopTrainingJob": _stop_training_job,
    "ListTrainingJobs": _list_all_training_jobs,
    "ListTags": _list_tags,
    "AddTags": _add_tags,
    "DeleteTags": _delete_tags,
}


# --- output projection -----------------------------------------------------------------------------


def epoch_seconds(value: Any) -> int | float:
    """botocore's JSON protocol default for timestamps: seconds since the epoch, a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = round(value.timestamp(), 3)
    return int(seconds) if seconds.is_integer() else seconds


def project(value: Any, shape: Shape, path: str = "") -> Any:
    """`value` as the model's `shape` has it; None when it has no place there (then left out)."""
    if value is None:
        return None
    kind = shape.type_name
    where = path or shape.name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
        members = shape.members
        out = {}
        for key, item in value.items():
            if key in members:
                projected = project(item, members[key], f"{where}.{key}")
                if projected is not None:
                    out[key] = projected
        return out
    if kind == "list":
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        member = shape.member
        return [p for i, v in enumerate(value) if (p := project(v, member, f"{where}[{i}]")) is not None]
    if kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a map, got {type(value).__name__}")
        value_shape = shape.value
        return {str(k): p for k, v in value.items() if (p := project(v, value_shape, f"{where}.{k}")) is not None}
    if kind == "timestamp":
        return epoch_seconds(value)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if kind in ("float", "double"):
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected a boolean, got {value!r}")
        return value
    if kind == "string":
        if isinstance(value, dict | list | bool):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise ValueError(f"{where}: shape type {kind!r} is not produced by tunestream")


def project_output(operation: OperationModel, result: dict[str, Any] | None) -> dict[str, Any]:
    shape = operation.output_shape
    if shape is None or result is None:
        return {}
    projected: dict[str, Any] = project(result, shape)
    return projected


# --- the route -------------------------------------------------------------------------------------


def _summary(errors: list[FieldError]) -> str:
    text = "; ".join(f"{e.field}: {e.message}" for e in errors[:10])
    return text + ("; ..." if len(errors) > 10 else "")


def _error(status: int, code: str, message: str, request_id: str) -> Response:
    return Response(
        content=json.dumps({"__type": code, "message": message}),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id},
    )


def _operation_name(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    if not target:
        raise ProtocolError(400, "UnknownOperationException", "missing X-Amz-Target header (SageMaker.<Operation>)")
    prefix, _, name = target.partition(".")
    if prefix != TARGET_PREFIX.rstrip(".") or name not in OPERATIONS:
        raise ProtocolError(
            400,
            "UnknownOperationException",
            f"unknown operation {target!r}; tunestream implements "
            + ", ".join(TARGET_PREFIX + n for n in sorted(OPERATIONS)),
        )
    return name


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    media = content_type.split(";")[0].strip().lower()
    if media and "json" not in media:
        raise ProtocolError(400, "SerializationException", f"Content-Type {media!r}: send {CONTENT_TYPE}")
    if not body.strip():
        return {}
    try:
        params = parse_json_body(body, "SerializationException")
        if not isinstance(params, dict):
            raise ApiError(400, "SerializationException", "request body must be a JSON object")
        reject_nul(params)
    except ApiError as exc:
        raise ProtocolError(exc.status, exc.kind, exc.message) from None
    return params


def _signed_request(request: Request, body: bytes) -> SignedRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
        body=body,
    )


def install_sagemaker_protocol(app: FastAPI, principals: Principals) -> None:
    """Add `POST /`."""
    keys = principals.sigv4_keys()
    auth_on = principals.signing_required
    model = service_model()
    operations = {name: model.operation_model(name) for name in OPERATIONS}
    if auth_on:
        log.info("SageMaker JSON 1.1 protocol on POST /: SigV4 required (%d access key(s))", len(keys))
    else:
        log.info("SageMaker JSON 1.1 protocol on POST /: unsigned requests accepted (no credential configured)")

    async def query(request: Request, body: bytes, request_id: str) -> Response:
        """STS and IAM's query protocol (tunestream.api.identity), on the same door."""
        try:
            params = identity.form(body)
            action, service, namespace = identity.action_of(params)
            who = open_caller("sagemaker", request_id).principal
            if auth_on:
                verified = verify(
                    _signed_request(request, body),
                    keys,
                    datetime.now(UTC),
                    service=service,
                    required_signed=("host", "x-amz-date"),
                )
                who = principals.by_access_key(verified.access_key_id)
            xml = identity.answer(action, namespace, params, who, request_id)
        except SigV4Error as exc:
            return Response(identity.error_xml(exc.code, exc.message, request_id), exc.status, media_type="text/xml")
        except identity.QueryError as exc:
            return Response(identity.error_xml(exc.code, exc.message, request_id), exc.status, media_type="text/xml")
        return Response(xml, 200, media_type="text/xml", headers={"x-amzn-RequestId": request_id})

    @app.post("/", include_in_schema=False)
    async def sagemaker(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        body = await request.body()
        if identity.is_query_request(request.headers.get("content-type", "")):
            return await query(request, body, request_id)
        name = "?"
        try:
            who = open_caller("sagemaker", request_id)
            if auth_on:
                verified = verify(
                    _signed_request(request, body),
                    keys,
                    datetime.now(UTC),
                    required_signed=("host", "x-amz-date", "x-amz-target"),
                )
                log.debug("SigV4 ok: access key %s, region %s", verified.access_key_id, verified.region)
                who = Caller(principals.by_access_key(verified.access_key_id), "sagemaker", request_id)
            name = _operation_name(request)
            params = _params(body, request.headers.get("content-type", ""))
            state: ops.State = request.app.state.ts
            result = await OPERATIONS[name](state, who, params)
            output = project_output(operations[name], result)
        except SigV4Error as exc:
            log.info("refused a SageMaker request: %s (%s)", exc.code, exc.message)
            return _error(exc.status, exc.code, exc.message, request_id)
        except ProtocolError as exc:
            return _error(exc.status, exc.code, exc.message, request_id)
        except ApiError as exc:
            status = 500 if exc.status >= 500 else 400
            message = exc.message if not exc.errors else f"{exc.message}: {_summary(exc.errors)}"
            return _error(status, exc.kind, message, request_id)
        except InvalidTuningJob as exc:
            return _error(400, "ValidationException", _summary(exc.errors), request_id)
        except ValidationError as exc:
            return _error(400, "ValidationException", _summary(errors_from_pydantic(exc)), request_id)
        except Exception:
            log.exception("SageMaker.%s failed (request %s)", name, request_id)
            return _error(*INTERNAL, f"internal error; see the api log (request {request_id})", request_id)
        return Response(
            content=json.dumps(output),
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id},
        )
