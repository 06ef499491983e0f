"""The SDK's unit tests: a canned tunestream api (httpx's MockTransport behind the real client), no servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.sdk.session import Session

Handler = Callable[[httpx.Request], tuple[int, Any]]


class FakeApi:
    """Routes (method, path) to canned answers; records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, answer: Handler | tuple[int, Any] | Any) -> None:
        if callable(answer):
            self.routes[(method, path)] = answer
        elif isinstance(answer, tuple):
            self.routes[(method, path)] = lambda request, a=answer: a
        else:
            self.routes[(method, path)] = lambda request, a=answer: (200, a)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"__type": "ResourceNotFound", "message": f"no route {request.url.path}"})
        status, body = route(request)
        return httpx.Response(status, json=body)

    def posted(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST" and r.url.path == "/tuning-jobs"]

    def session(self, bucket: str = "unit-bucket") -> Session:
        client = TunestreamClient("http://api.test")
        client._http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(self.handle))
        return Session(api_url="http://api.test", settings=Settings(s3_bucket=bucket), client=client)


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def session(fake_api: FakeApi) -> Session:
    return fake_api.session()
