"""The role rules, over every role and ownership case."""

from __future__ import annotations

import pytest

from tunestream.api.access import may_change, may_create, may_read, owner_scope
from tunestream.api.principals import Principal, Role

ADMIN, ALICE, BOB, VERA = (
    Principal("root", "admin"),
    Principal("alice", "member"),
    Principal("bob", "member"),
    Principal("vera", "viewer"),
)
# (principal, owner) -> (read, change)
EXPECTED = {
    (ADMIN, "alice"): (True, True),
    (ADMIN, None): (True, True),
    (ALICE, "alice"): (True, True),
    (ALICE, "bob"): (False, False),
    (ALICE, None): (False, False),
    (BOB, "alice"): (False, False),
    (VERA, "alice"): (True, False),
    (VERA, None): (True, False),
    (VERA, "vera"): (True, False),  # a viewer's name on a job (from before a role change) changes nothing
}


@pytest.mark.parametrize(("who", "owner"), list(EXPECTED))
def test_read_and_change(who: Principal, owner: str | None) -> None:
    assert (may_read(who, owner), may_change(who, owner)) == EXPECTED[(who, owner)]


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_create_and_list_scope(role: Role) -> None:
    who = Principal("p", role)
    assert may_create(who) == (role != "viewer")
    assert owner_scope(who) == ("p" if role == "member" else None)
