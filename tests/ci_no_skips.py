"""A pytest plugin: under CI=true a skipped test (or a test module skipped at collection) fails.

Tests skip when their engine is missing (no Docker engine, browser, compose plugin, torch). On a
developer's machine that is a convenience; in CI it would be a suite that goes green without having
run what it claims to check, so there every skip is turned into a failure that says why.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_if_skipped(report: Any) -> None:
    if report.skipped and in_ci():
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not hasattr(report, "wasxfail"):
        _fail_if_skipped(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _fail_if_skipped(outcome.get_result())
