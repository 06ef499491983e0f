"""What a route gets from FastAPI: the api's state, and the calling principal (401 without one)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from tunestream.api.errors import ApiError
from tunestream.api.operations import State
from tunestream.api.principals import Caller, Principals, open_caller


def _state(request: Request) -> State:
    state: State = request.app.state.ts
    return state


def _caller(request: Request) -> Caller:
    principals: Principals = request.app.state.principals
    request_id = str(uuid.uuid4())
    if principals.open_access:
        return open_caller("rest", request_id)
    principal = principals.by_bearer(request.headers.get("authorization", ""))
    if principal is None:
        raise ApiError(401, "UnauthorizedException", "missing or wrong bearer token (Authorization: Bearer <token>)")
    return Caller(principal, "rest", request_id)


StateDep = Annotated[State, Depends(_state)]
CallerDep = Annotated[Caller, Depends(_caller)]
