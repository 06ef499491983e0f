"""Error responses: SageMaker's shape (`__type`, `message`) plus the list of broken field rules."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunestream.api.outages import RETRY_AFTER_S, unavailable_dependency
from tunestream.validation import FieldError, InvalidTuningJob


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.errors = status, kind, message, errors or []


def not_found(what: str, name: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", f"{what} {name!r} does not exist")


NUL_RULE = "no-nul-characters"


def nul_error(field: str) -> ApiError:
    message = "NUL characters (\\u0000) are not allowed"
    return ApiError(400, "ValidationException", f"{field}: {message}", [FieldError(field, NUL_RULE, message)])


def parse_json_body(raw: bytes, kind: str) -> Any:
    """A request body's JSON, or a 400 of the given error type (REST: ValidationException,
    SageMaker's protocol: SerializationException) that says what is wrong with it."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, kind, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, kind, "request body is nested too deeply") from None


def reject_nul(value: Any, path: str = "") -> None:
    """A NUL anywhere in a request's strings (PostgreSQL text cannot hold it, nor can argv) is a 400
    naming the member."""
    if isinstance(value, str):
        if "\x00" in value:
            raise nul_error(path or "(body)")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                raise nul_error(child)
            reject_nul(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            reject_nul(item, f"{path}[{i}]")


def field_path(loc: tuple[Any, ...]) -> str:
    """('A', 'B', 0, 'C') -> 'A.B[0].C'; pydantic's own union/kind markers are dropped."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("body", "query", "path", "function-before[_number_as_text(), str]"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def errors_from_pydantic(exc: ValidationError | RequestValidationError) -> list[FieldError]:
    found = []
    for e in exc.errors():
        rule = str(e.get("type", "invalid"))
        message = str(e.get("msg", "invalid value"))
        if rule == "extra_forbidden":
            message = "unknown field"
        elif rule == "missing":
            message = "required field is missing"
        found.append(FieldError(field_path(tuple(e.get("loc", ()))), rule, message))
    return found


def error_body(kind: str, message: str, errors: list[FieldError]) -> dict[str, Any]:
    body: dict[str, Any] = {"__type": kind, "message": message}
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    return body


def _summary(errors: list[FieldError]) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in errors[:5]) + ("; ..." if len(errors) > 5 else "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.kind, exc.message, exc.errors), status_code=exc.status)

    @app.exception_handler(InvalidTuningJob)
    async def _invalid_job(request: Request, exc: InvalidTuningJob) -> JSONResponse:
        return JSONResponse(error_body("ValidationException", _summary(exc.errors), exc.errors), status_code=400)

    @app.exception_handler(ValidationError)
    async def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
        errors = errors_from_pydantic(exc)
        return JSONResponse(error_body("ValidationException", _summary(errors), errors), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = errors_from_pydantic(exc)
        return JSONResponse(error_body("ValidationException", _summary(errors), errors), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "ResourceNotFound", 405: "MethodNotAllowed", 401: "UnauthorizedException"}.get(
            exc.status_code, "Error"
        )
        return JSONResponse(error_body(kind, str(exc.detail), []), status_code=exc.status_code)

    @app.middleware("http")
    async def _no_nul_in_path_or_query(request: Request, call_next: Any) -> Any:
        # Path and query strings go to PostgreSQL as they are; a NUL there must be a 400, not a 500.
        segments = request.scope.get("path", "").split("/")
        found = next(("name" if i == 2 else "(path)" for i, part in enumerate(segments) if "\x00" in part), None)
        for key, value in request.query_params.multi_items():
            if found is None and ("\x00" in key or "\x00" in value):
                found = key.replace("\x00", "\\u0000")
        if found is not None:
            exc = nul_error(found)
            return JSONResponse(error_body(exc.kind, exc.message, exc.errors), status_code=exc.status)
        return await call_next(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        away = unavailable_dependency(exc)
        if away is not None:
            # Only the error's type in the log: driver messages can carry a statement's parameters.
            logging.getLogger(__name__).warning(
                "%s unavailable on %s %s (%s)", away, request.method, request.url.path, type(exc).__name__
            )
            return JSONResponse(
                error_body("ServiceUnavailable", f"{away} is unavailable; retry in a few seconds", []),
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        # Never a stack trace to the client; the log has it.
        logging.getLogger(__name__).exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalFailure", "internal error; see the api log", []), status_code=500)
