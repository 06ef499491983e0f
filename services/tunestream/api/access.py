"""What each role may do with a tuning job (and the training jobs, tags and exports that belong to it).

- admin: everything, on every tuning job.
- member: creates tuning jobs, which are then its own; reads, stops, tags and deletes only its own.
  Another principal's tuning job looks to a member as if it did not exist (404), so names of others'
  work do not leak through Describe, Stop or tags.
- viewer: reads every tuning job; changes nothing (403).

A tuning job created before principals existed, or in the single-credential mode, belongs to the
principal that created it ("default" there); one with no owner at all belongs to admins only.
"""

from __future__ import annotations

from tunestream.api.errors import ApiError
from tunestream.api.principals import Principal


def may_create(who: Principal) -> bool:
    return who.role in ("admin", "member")


def may_read(who: Principal, owner: str | None) -> bool:
    return who.role in ("admin", "viewer") or (owner is not None and owner == who.name)


def may_change(who: Principal, owner: str | None) -> bool:
    return who.role == "admin" or (who.role == "member" and owner is not None and owner == who.name)


def owner_scope(who: Principal) -> str | None:
    """The owner a list is narrowed to; None lists every principal's tuning jobs."""
    return None if who.role in ("admin", "viewer") else who.name


def denied(who: Principal, operation: str, what: str) -> ApiError:
    return ApiError(
        403,
        "AccessDeniedException",
        f"principal {who.name!r} ({who.role}) may not call {operation} on {what}: "
        + ("viewers only read" if who.role == "viewer" else "only its owner or an admin may change it"),
    )


def require_create(who: Principal, operation: str) -> None:
    if not may_create(who):
        raise ApiError(
            403,
            "AccessDeniedException",
            f"principal {who.name!r} ({who.role}) may not call {operation}: viewers only read",
        )
