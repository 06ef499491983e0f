"""AWS Signature Version 4 verification (header form, `Authorization: AWS4-HMAC-SHA256 ...`).

Pure functions, no I/O: the request as received (method, raw path, raw query, headers, body) and the
configured access keys in; a `SigV4Error` with the error code and HTTP status AWS uses out. The
canonical request, the string to sign and the signing key are rebuilt as botocore's `SigV4Auth`
builds them, and the signatures are compared in constant time. Secrets never appear in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class SigV4Error(Exception):
    """A refused request: `code` and `status` as AWS answers them."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, percent-encoded (the raw path of the request line)
    query: str  # as sent, without "?"
    headers: tuple[tuple[str, str], ...]  # every header line, names in any case, repeats kept
    body: bytes

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]


@dataclass(frozen=True)
class Verified:
    access_key_id: str
    region: str
    service: str


def parse_access_keys(value: str) -> dict[str, str]:
    """Parse `AKID:SECRET[,AKID2:SECRET2]` into {AKID: SECRET}; an error never quotes a secret."""
    keys: dict[str, str] = {}
    for i, item in enumerate(part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        key_id = key_id.strip()
        if not sep or not secret or not _ACCESS_KEY_ID.match(key_id):
            raise ValueError(f"access key entry {i + 1} is not AKID:SECRET (AKID of letters, digits, '_', '.', '-')")
        if key_id in keys:
            raise ValueError(f"access key id {key_id!r} is listed twice")
        keys[key_id] = secret
    return keys


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(f"AWS4{secret}".encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 5.2.4, and repeated slashes collapsed, as AWS services (and botocore) do.
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str) -> str:
    """botocore's rule for every service but S3: dot segments removed, then URI-encoded again."""
    return quote(_remove_dot_segments(raw_path) if raw_path else "/", safe="/~")


def canonical_query(raw_query: str) -> str:
    """Pairs as sent, sorted (botocore signs the query string of the URL this way)."""
    if not raw_query:
        return ""
    pairs = []
    for pair in raw_query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header_value(values: Iterable[str]) -> str:
    return ",".join(" ".join(v.split()) for v in values)


def canonical_request(request: Request, signed_headers: list[str], payload_hash: str) -> str:
    headers = "".join(f"{name}:{_header_value(request.header_values(name))}\n" for name in signed_headers)
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def _authorization_fields(header: str) -> dict[str, str]:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(
            "IncompleteSignature",
            f"Unsupported Authorization type {algorithm or header!r}; this endpoint takes {ALGORITHM}",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise SigV4Error(
            "IncompleteSignature",
            f"Authorization header requires {', '.join(repr(m) for m in missing)} parameter(s). "
            f"Authorization=AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, "
            f"SignedHeaders=..., Signature=...",
        )
    return fields


def verify(
    request: Request,
    keys: Mapping[str, str],
    now: datetime,
    *,
    service: str = "sagemaker",
    required_signed: tuple[str, ...] = ("host", "x-amz-date"),
) -> Verified:
    """Check the request's SigV4 signature against `keys`; raise SigV4Error when it is refused."""
    authorization = request.header_values("authorization")
    if not authorization:
        raise SigV4Error("MissingAuthenticationTokenException", "Missing Authentication Token")
    if len(authorization) > 1:
        raise SigV4Error("IncompleteSignature", "more than one Authorization header")
    fields = _authorization_fields(authorization[0])

    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or not all(credential):
        raise SigV4Error(
            "IncompleteSignature",
            "Credential must have the form AKID/yyyymmdd/region/service/aws4_request",
        )
    key_id, date, region, signed_service, _ = credential
    if signed_service != service:
        raise SigV4Error("InvalidSignatureException", f"Credential should be scoped to correct service: {service!r}.")

    signed_headers = fields["SignedHeaders"].split(";")
    if any(h != h.lower() or not h for h in signed_headers) or signed_headers != sorted(set(signed_headers)):
        raise SigV4Error("IncompleteSignature", "SignedHeaders must be lower-case header names, sorted, each once")
    for name in required_signed:
        if name not in signed_headers:
            raise SigV4Error("IncompleteSignature", f"the {name!r} header must be signed (SignedHeaders)")
    absent = [h for h in signed_headers if not request.header_values(h)]
    if absent:
        raise SigV4Error("IncompleteSignature", f"signed header(s) missing from the request: {', '.join(absent)}")

    amz_dates = request.header_values("x-amz-date")
    if len(amz_dates) != 1:
        raise SigV4Error(
            "IncompleteSignature", "Authorization header requires existence of exactly one 'X-Amz-Date' header."
        )
    amz_date = amz_dates[0].strip()
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error("IncompleteSignature", f"X-Amz-Date {amz_date!r} is not yyyymmddThhmmssZ") from None
    if date != amz_date[:8]:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"{date!r} != {amz_date[:8]!r}",
        )
    stamp = now.astimezone(UTC)
    if signed_at < stamp - MAX_SKEW:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(stamp - MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({stamp.strftime(AMZ_DATE_FORMAT)} - 15 min.)",
        )
    if signed_at > stamp + MAX_SKEW:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{(stamp + MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({stamp.strftime(AMZ_DATE_FORMAT)} + 15 min.)",
        )

    actual_hash = hashlib.sha256(request.body).hexdigest()
    declared = request.header_values("x-amz-content-sha256")
    if declared:
        # The declared hash is what was signed; it must also be the body's, or the body could be swapped.
        if len(declared) != 1 or declared[0].strip() != actual_hash:
            raise SigV4Error(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        payload_hash = declared[0].strip()
    else:
        payload_hash = actual_hash

    secret = keys.get(key_id)
    if secret is None:
        raise SigV4Error("UnrecognizedClientException", "The security token included in the request is invalid.")
    canonical = canonical_request(request, signed_headers, payload_hash)
    scope = "/".join(credential[1:])
    expected = hmac.new(
        signing_key(secret, date, region, signed_service),
        string_to_sign(amz_date, scope, canonical).encode(),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
        raise SigV4Error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    return Verified(access_key_id=key_id, region=region, service=signed_service)
