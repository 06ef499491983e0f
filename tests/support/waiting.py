"""Waiting for something that happens asynchronously, in one way across the suites."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(
    what: str,
    fn: Callable[[], T],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.2,
    tolerate: tuple[type[Exception], ...] = (),
) -> T:
    """fn's first truthy result. An exception of a `tolerate` type counts as "not yet" (a web page
    mid-update); any other propagates at once. After timeout_s: AssertionError naming `what` and
    fn's last result."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            last = fn()
        except tolerate as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")
        time.sleep(interval_s)
