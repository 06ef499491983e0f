"""Who is calling: named principals with a role, found by their bearer token or SigV4 access key.

Configured by TUNESTREAM_PRINCIPALS_FILE (a TOML or JSON file) or TUNESTREAM_PRINCIPALS (the same
document as JSON):

    [[principals]]
    name = "alice"
    role = "member"                      # admin | member | viewer
    tokens = ["sha256:9f86d08..."]       # a token's SHA-256 in hex, or the token itself
    access_keys = ["AKIDALICE:secret"]   # SigV4 keys for boto3 and the SageMaker SDKs

The single-credential mode stays the default: TUNESTREAM_API_TOKEN and TUNESTREAM_SAGEMAKER_ACCESS_KEYS
belong to one admin principal, "default", with or without a principals file. With no credential
configured at all the api is open and every caller is that admin.

A configuration error stops the api at start; its message names the entry and the rule and never
quotes a secret.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunestream.api.sigv4 import parse_access_keys
from tunestream.config import Settings

Role = Literal["admin", "member", "viewer"]
Via = Literal["rest", "sagemaker"]
DEFAULT_PRINCIPAL = "default"
# A plain token shorter than this is guessable; the single-token mode keeps whatever it was given.
MIN_TOKEN_CHARS = 16
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True)
class Caller:
    """One request's principal, the door it came in by, and the request's id (for the audit trail)."""

    principal: Principal
    via: Via
    request_id: str


class PrincipalsConfigError(ValueError):
    pass


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    role: Role
    tokens: list[str] = Field(default_factory=list)
    access_keys: list[str] = Field(default_factory=list)


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principals: list[_Entry] = Field(min_length=1)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _stored_digest(value: str, where: str) -> bytes:
    if value.startswith("sha256:"):
        if not _DIGEST.match(value):
            raise PrincipalsConfigError(f"{where}: a hashed token is 'sha256:' and 64 lowercase hex digits")
        return bytes.fromhex(value.removeprefix("sha256:"))
    if len(value) < MIN_TOKEN_CHARS:
        raise PrincipalsConfigError(f"{where}: a token has at least {MIN_TOKEN_CHARS} characters")
    return token_digest(value)


class Principals:
    """Lookups by credential; built once at the api's start."""

    def __init__(
        self,
        tokens: dict[bytes, Principal],
        access_keys: dict[str, tuple[str, Principal]],
        open_access: bool,
    ) -> None:
        self._tokens = tokens
        self._access_keys = access_keys
        self.open_access = open_access

    @property
    def names(self) -> list[str]:
        found = {p.name for p in self._tokens.values()} | {p.name for _, p in self._access_keys.values()}
        return sorted(found)

    def by_bearer(self, authorization: str) -> Principal | None:
        """The principal whose token `Authorization: Bearer <token>` carries; None for anything else."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        given = token_digest(token)
        found = None
        # Every stored digest is compared, in constant time, so timing tells nothing about which matched.
        for stored, principal in self._tokens.items():
            if secrets.compare_digest(given, stored):
                found = principal
        return found

    def sigv4_keys(self) -> dict[str, str]:
        return {key_id: secret for key_id, (secret, _) in self._access_keys.items()}

    def by_access_key(self, key_id: str) -> Principal:
        return self._access_keys[key_id][1]

    @property
    def signing_required(self) -> bool:
        """SigV4 on the SageMaker route: whenever any credential exists (keys, or only tokens)."""
        return not self.open_access


def _document(settings: Settings) -> dict[str, object] | None:
    if settings.principals_file is not None and settings.principals is not None:
        raise PrincipalsConfigError("set TUNESTREAM_PRINCIPALS_FILE or TUNESTREAM_PRINCIPALS, not both")
    if settings.principals is not None:
        try:
            loaded = json.loads(settings.principals.get_secret_value())
        except json.JSONDecodeError as exc:
            raise PrincipalsConfigError(
                f"TUNESTREAM_PRINCIPALS is not JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        return loaded if isinstance(loaded, dict) else {"principals": loaded}
    path = settings.principals_file
    if path is None:
        return None
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PrincipalsConfigError(f"TUNESTREAM_PRINCIPALS_FILE {str(path)!r}: {exc.strerror}") from None
    try:
        loaded = json.loads(text) if Path(path).suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        # The parsers' messages point at a position, never at the text there.
        raise PrincipalsConfigError(f"TUNESTREAM_PRINCIPALS_FILE {str(path)!r} does not parse: {exc}") from None
    if not isinstance(loaded, dict):
        raise PrincipalsConfigError(f"TUNESTREAM_PRINCIPALS_FILE {str(path)!r}: expected an object with 'principals'")
    return loaded


def _parsed(document: dict[str, object]) -> _Document:
    try:
        return _Document.model_validate(document)
    except ValidationError as exc:
        # pydantic's own text would quote the input, which may be a secret: location and rule only.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'principals'}: {error['msg']}" for error in exc.errors()
        )
        raise PrincipalsConfigError(f"principals: {problems}") from None


def load_principals(settings: Settings) -> Principals:
    """Every principal the api knows; a PrincipalsConfigError when the configuration breaks a rule."""
    tokens: dict[bytes, Principal] = {}
    access_keys: dict[str, tuple[str, Principal]] = {}

    def add_token(digest: bytes, principal: Principal, where: str) -> None:
        if digest in tokens:
            raise PrincipalsConfigError(f"{where}: the same token is given to {tokens[digest].name!r} too")
        tokens[digest] = principal

    def add_key(key_id: str, secret: str, principal: Principal, where: str) -> None:
        if key_id in access_keys:
            raise PrincipalsConfigError(
                f"{where}: access key id {key_id!r} is given to {access_keys[key_id][1].name!r} too"
            )
        access_keys[key_id] = (secret, principal)

    legacy = Principal(DEFAULT_PRINCIPAL, "admin")
    if settings.api_token is not None and settings.api_token.get_secret_value():
        add_token(token_digest(settings.api_token.get_secret_value()), legacy, "TUNESTREAM_API_TOKEN")
    if settings.sagemaker_access_keys is not None:
        try:
            keys = parse_access_keys(settings.sagemaker_access_keys.get_secret_value())
        except ValueError as exc:
            raise PrincipalsConfigError(f"TUNESTREAM_SAGEMAKER_ACCESS_KEYS: {exc}") from None
        for key_id, secret in keys.items():
            add_key(key_id, secret, legacy, "TUNESTREAM_SAGEMAKER_ACCESS_KEYS")

    document = _document(settings)
    if document is not None:
        seen: set[str] = {DEFAULT_PRINCIPAL} if tokens or access_keys else set()
        for i, entry in enumerate(_parsed(document).principals):
            where = f"principals[{i}] ({entry.name})"
            if entry.name in seen:
                raise PrincipalsConfigError(f"{where}: the name {entry.name!r} is taken")
            seen.add(entry.name)
            if not entry.tokens and not entry.access_keys:
                raise PrincipalsConfigError(f"{where}: give it at least one token or access key")
            principal = Principal(entry.name, entry.role)
            for j, token in enumerate(entry.tokens):
                add_token(_stored_digest(token, f"{where}.tokens[{j}]"), principal, f"{where}.tokens[{j}]")
            for j, item in enumerate(entry.access_keys):
                try:
                    parsed = parse_access_keys(item)
                except ValueError:
                    raise PrincipalsConfigError(
                        f"{where}.access_keys[{j}]: expected AKID:SECRET (AKID of letters, digits, '_', '.', '-')"
                    ) from None
                if len(parsed) != 1:
                    raise PrincipalsConfigError(f"{where}.access_keys[{j}]: one AKID:SECRET per item")
                ((key_id, secret),) = parsed.items()
                add_key(key_id, secret, principal, f"{where}.access_keys[{j}]")
    return Principals(tokens, access_keys, open_access=not tokens and not access_keys)


def open_caller(via: Via, request_id: str) -> Caller:
    return Caller(Principal(DEFAULT_PRINCIPAL, "admin"), via, request_id)
