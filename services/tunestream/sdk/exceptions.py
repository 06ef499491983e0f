"""Errors of the SDK, worded as the SageMaker Python SDK words them where it has an equivalent."""

from __future__ import annotations

from typing import Any

from tunestream.client import ApiClientError


class ClientError(ApiClientError):
    """The api refused a call: botocore's `ClientError` wording, plus every broken rule the api listed.

    Still an `ApiClientError` (`.status`, `.body`); also `.code` (`ValidationException`,
    `ResourceNotFound`, `ResourceInUse`, ...), `.operation` and `.errors` (field, rule, message).
    """

    def __init__(self, operation: str, status: int, body: Any) -> None:
        body_dict = body if isinstance(body, dict) else {}
        self.code = str(body_dict.get("__type") or f"HTTP{status}")
        self.operation = operation
        self.errors: list[dict[str, str]] = list(body_dict.get("errors") or [])
        message = str(body_dict.get("message") or body or f"HTTP {status}")
        text = f"An error occurred ({self.code}) when calling the {operation} operation: "
        if len(self.errors) > 1 or (self.errors and self.errors[0].get("message", "") not in message):
            lines = [f"{len(self.errors)} problem(s) in the request:"]
            lines += [f"  - {e.get('field')}: {e.get('message')} ({e.get('rule')})" for e in self.errors]
            text += "\n".join(lines)
        else:
            text += message
        RuntimeError.__init__(self, text)
        self.status, self.body = status, body


class ApiUnreachableError(ConnectionError):
    """The tunestream api did not answer at all (not running, wrong TUNESTREAM_API_URL)."""


class UnexpectedStatusException(ValueError):
    """A tuning job ended in a status the caller did not wait for (as sagemaker.exceptions)."""

    def __init__(self, message: str, allowed_statuses: list[str], actual_status: str) -> None:
        super().__init__(message)
        self.allowed_statuses = allowed_statuses
        self.actual_status = actual_status


class NoBestTrainingJobError(RuntimeError):
    """A tuning job has no best training job (yet): none reported its objective metric."""
