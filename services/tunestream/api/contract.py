"""What the OpenAPI document promises: the status codes the api really answers, with their bodies.

Errors are SageMaker's shape (`__type`, `message`) plus the broken field rules; FastAPI's default
422 never happens here (a bad request is a 400 naming the field), so it is taken out of the
document, and each route lists the codes it can answer instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field


class FieldErrorBody(BaseModel):
    field: str = Field(description="the request member, e.g. HyperParameterTuningJobConfig.ResourceLimits")
    rule: str = Field(description="the rule it breaks, e.g. parallel<=max")
    message: str


class ErrorBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(alias="__type", description="SageMaker's error type, e.g. ValidationException")
    message: str
    errors: list[FieldErrorBody] | None = Field(default=None, description="every broken field rule (400)")


class DependencyStatus(BaseModel):
    status: str = Field(description="ok | unavailable")
    detail: str
    seconds: float


class Readiness(BaseModel):
    status: str = Field(description="ready | unavailable")
    dependencies: dict[str, DependencyStatus]


_MEANING = {
    400: "ValidationException: the request breaks a rule (each broken field rule listed)",
    401: "UnauthorizedException: missing or wrong bearer token (only when the api requires one)",
    403: "AccessDeniedException: the caller's role may not make this change (viewers only read)",
    404: "ResourceNotFound",
    # The name is a path segment: one with a "/" in it (sent as %2F) can reach another route, e.g.
    # GET /tuning-jobs/x%2Fstop is GET on the stop route, which only takes POST.
    405: "MethodNotAllowed: a name containing '/' that reaches a route of another method",
    409: "ResourceInUse",
    503: "ServiceUnavailable: PostgreSQL, Kafka or the S3 store is away; retry after Retry-After seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these error codes (400, 401 and 503 always)."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in sorted({400, 401, 503, *codes})}


def install_contract(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    for code, response in responses.items():
                        # Errors are JSON even where the success is not (a log is text/plain).
                        if code[0] in "45" and "content" in response:
                            response["content"] = {"application/json": next(iter(response["content"].values()))}
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
