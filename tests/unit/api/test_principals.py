"""Principals from configuration: lookups by token and access key, and errors that name the entry
and the rule without quoting a secret."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from tunestream.api.principals import Principal, PrincipalsConfigError, load_principals
from tunestream.config import Settings

ALICE_TOKEN = "alice-token-0123456789"
VIEW_TOKEN = "viewer-token-abcdefghij"


def document(**extra: object) -> dict[str, object]:
    return {
        "principals": [
            {"name": "alice", "role": "member", "tokens": [ALICE_TOKEN], "access_keys": ["AKIDALICE:alice-secret"]},
            {
                "name": "vera",
                "role": "viewer",
                "tokens": ["sha256:" + hashlib.sha256(VIEW_TOKEN.encode()).hexdigest()],
            },
            {"name": "root", "role": "admin", "access_keys": ["AKIDROOT:root-secret"]},
        ],
        **extra,
    }


def from_json(doc: object, **settings: object) -> Settings:
    return Settings(principals=SecretStr(json.dumps(doc)), **settings)  # type: ignore[arg-type]


def test_tokens_and_keys_name_their_principal() -> None:
    principals = load_principals(from_json(document()))
    assert not principals.open_access and principals.signing_required
    assert principals.by_bearer(f"Bearer {ALICE_TOKEN}") == Principal("alice", "member")
    assert principals.by_bearer(f"bearer {VIEW_TOKEN}") == Principal("vera", "viewer")  # scheme is case-blind
    for wrong in ("", ALICE_TOKEN, f"Bearer {ALICE_TOKEN}x", "Bearer ", f"Basic {ALICE_TOKEN}"):
        assert principals.by_bearer(wrong) is None, wrong
    assert principals.sigv4_keys() == {"AKIDALICE": "alice-secret", "AKIDROOT": "root-secret"}
    assert principals.by_access_key("AKIDROOT") == Principal("root", "admin")
    assert principals.names == ["alice", "root", "vera"]


def test_single_credential_mode_is_one_admin() -> None:
    principals = load_principals(
        Settings(api_token=SecretStr("tok"), sagemaker_access_keys=SecretStr("AK1:s1,AK2:s2"))  # type: ignore[call-arg]
    )
    assert principals.by_bearer("Bearer tok") == Principal("default", "admin")
    assert principals.by_access_key("AK2") == Principal("default", "admin")
    # ... and it stays beside a principals file: the CLI and services keep working with the old token.
    both = load_principals(from_json(document(), api_token=SecretStr("old-single-token")))
    assert both.by_bearer("Bearer old-single-token") == Principal("default", "admin")
    assert both.by_bearer(f"Bearer {ALICE_TOKEN}") == Principal("alice", "member")


def test_nothing_configured_is_open() -> None:
    principals = load_principals(Settings())
    assert principals.open_access and not principals.signing_required
    assert principals.by_bearer(f"Bearer {ALICE_TOKEN}") is None


def test_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    path.write_text(
        f"""
[[principals]]
name = "bob"
role = "member"
tokens = ["{ALICE_TOKEN}"]
"""
    )
    principals = load_principals(Settings(principals_file=path))  # type: ignore[call-arg]
    assert principals.by_bearer(f"Bearer {ALICE_TOKEN}") == Principal("bob", "member")
    json_path = tmp_path / "principals.json"
    json_path.write_text(json.dumps(document()))
    assert load_principals(Settings(principals_file=json_path)).names == ["alice", "root", "vera"]  # type: ignore[call-arg]


BAD = [
    ({"principals": []}, "principals: List should have at least 1 item"),
    ({"principals": [{"name": "x", "role": "owner", "tokens": [ALICE_TOKEN]}]}, "principals.0.role"),
    ({"principals": [{"name": "has space", "role": "member", "tokens": [ALICE_TOKEN]}]}, "principals.0.name"),
    ({"principals": [{"name": "x", "role": "member"}]}, "principals[0] (x): give it at least one token"),
    ({"principals": [{"name": "x", "role": "member", "tokens": ["short-secret"]}]}, "at least 16 characters"),
    ({"principals": [{"name": "x", "role": "member", "tokens": ["sha256:abc"]}]}, "64 lowercase hex digits"),
    (
        {"principals": [{"name": "x", "role": "member", "access_keys": ["AKIDX=secret-value-1"]}]},
        "principals[0] (x).access_keys[0]: expected AKID:SECRET",
    ),
    (
        {
            "principals": [
                {"name": "x", "role": "member", "tokens": [ALICE_TOKEN]},
                {"name": "y", "role": "viewer", "tokens": [ALICE_TOKEN]},
            ]
        },
        "principals[1] (y).tokens[0]: the same token is given to 'x' too",
    ),
    (
        {
            "principals": [
                {"name": "x", "role": "member", "access_keys": ["AK:secret-value-1"]},
                {"name": "x", "role": "viewer", "access_keys": ["AK2:secret-value-2"]},
            ]
        },
        "principals[1] (x): the name 'x' is taken",
    ),
    (
        {
            "principals": [
                {"name": "x", "role": "member", "access_keys": ["AK:secret-value-1"]},
                {"name": "y", "role": "viewer", "access_keys": ["AK:secret-value-2"]},
            ]
        },
        "access key id 'AK' is given to 'x' too",
    ),
    ({"principals": [{"name": "x", "role": "member", "tokens": [ALICE_TOKEN], "password": "p"}]}, "password"),
]


@pytest.mark.parametrize(("doc", "message"), BAD)
def test_errors_name_the_entry_and_never_a_secret(doc: dict[str, object], message: str) -> None:
    with pytest.raises(PrincipalsConfigError) as info:
        load_principals(from_json(doc))
    text = str(info.value)
    assert message in text, text
    for secret in (ALICE_TOKEN, "short-secret", "secret-value-1", "secret-value-2"):
        assert secret not in text


def test_configuration_errors() -> None:
    with pytest.raises(PrincipalsConfigError, match="not JSON"):
        load_principals(Settings(principals=SecretStr("{nope")))  # type: ignore[call-arg]
    with pytest.raises(PrincipalsConfigError, match="not both"):
        load_principals(Settings(principals=SecretStr("{}"), principals_file=Path("x.toml")))  # type: ignore[call-arg]
    with pytest.raises(PrincipalsConfigError, match="No such file"):
        load_principals(Settings(principals_file=Path("/nonexistent/principals.toml")))  # type: ignore[call-arg]
    with pytest.raises(PrincipalsConfigError, match="the name 'default' is taken"):
        load_principals(
            from_json(
                {"principals": [{"name": "default", "role": "viewer", "tokens": [ALICE_TOKEN]}]},
                api_token=SecretStr("single-token"),
            )
        )
