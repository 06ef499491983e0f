"""tests/support/waiting.py, which the integration suites wait with."""

from __future__ import annotations

import pytest

from tests.support.waiting import wait_for


def test_returns_the_first_truthy_result() -> None:
    values = iter([0, None, [], "ready"])
    assert wait_for("ready", lambda: next(values), interval_s=0) == "ready"


def test_tolerated_exceptions_mean_not_yet_others_propagate() -> None:
    calls = iter([KeyError("stale"), 7])

    def flaky() -> int:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for("a value", flaky, interval_s=0, tolerate=(KeyError,)) == 7
    with pytest.raises(ZeroDivisionError):
        wait_for("a value", lambda: 1 // 0, interval_s=0)


def test_times_out_naming_what_and_the_last_result() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05s waiting for the moon; last: 0"):
        wait_for("the moon", lambda: 0, timeout_s=0.05, interval_s=0.01)
