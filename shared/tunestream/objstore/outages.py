"""Telling "the S3 store is away" from "this request is wrong".

An S3 server restarting, unreachable or overloaded answers with connection errors, 5xx statuses or
the throttling codes; those are waited out by whoever holds work that must reach the store (the
tracker's log upload, the launcher's model and last checkpoint). Anything else (access denied, a bad
key) is a real error and is not retried.
"""

from __future__ import annotations

import urllib3.exceptions
from minio.error import InvalidResponseError, S3Error, ServerError

# S3 error codes that mean "try again later", whatever the HTTP status said.
RETRYABLE_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
)
# Seconds between attempts while the store is away: quick at first, then every 5 s.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0)


def store_unavailable(exc: BaseException) -> bool:
    """True when the exception says the store is away (and a later attempt may succeed)."""
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ServerError):
        return exc.status_code >= 500
    if isinstance(exc, InvalidResponseError):  # a proxy's HTML error page instead of S3's XML
        return int(getattr(exc, "_code", 0) or 0) >= 500
    if isinstance(exc, S3Error):
        return exc.code in RETRYABLE_CODES
    return False


def retry_delay(failures: int) -> float:
    return RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
