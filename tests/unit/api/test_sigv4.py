"""SigV4 verification against botocore's own signer (the oracle), and tampered variants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tunestream.api.sigv4 import Request, SigV4Error, Verified, canonical_uri, parse_access_keys, verify

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = {AKID: SECRET, "OTHERKEY": "other-secret"}
BODY = b'{"HyperParameterTuningJobName": "my-job"}'
REQUIRED = ("host", "x-amz-date", "x-amz-target")


def sign(
    *,
    url: str = "http://127.0.0.1:8080/",
    body: bytes = BODY,
    key: str = AKID,
    secret: str = SECRET,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    region: str = "eu-west-1",
    service: str = "sagemaker",
) -> Request:
    """A request as botocore signs it, then as the server receives it (with the Host header)."""
    aws = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.DescribeHyperParameterTuningJob",
            **(headers or {}),
        },
    )
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(aws)
    parts = urlsplit(url)
    received = [("Host", parts.netloc), *((k, str(v)) for k, v in aws.headers.items())]
    return Request(method="POST", path=parts.path or "/", query=parts.query, headers=tuple(received), body=body)


def now() -> datetime:
    return datetime.now(UTC)


def refused(request: Request, at: datetime | None = None, keys: dict[str, str] = KEYS) -> SigV4Error:
    with pytest.raises(SigV4Error) as info:
        verify(request, keys, at or now(), required_signed=REQUIRED)
    return info.value


def with_header(request: Request, name: str, value: str) -> Request:
    headers = tuple((k, value if k.lower() == name.lower() else v) for k, v in request.headers)
    return Request(request.method, request.path, request.query, headers, request.body)


def test_botocore_signature_verifies() -> None:
    verified = verify(sign(), KEYS, now(), required_signed=REQUIRED)
    assert verified == Verified(access_key_id=AKID, region="eu-west-1", service="sagemaker")


def test_second_key_and_session_token_verify() -> None:
    assert verify(sign(key="OTHERKEY", secret="other-secret"), KEYS, now()).access_key_id == "OTHERKEY"
    assert verify(sign(token="session-token"), KEYS, now()).access_key_id == AKID


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://127.0.0.1:8080/some/path/",
        "http://127.0.0.1:8080/a%20b/./c/../d",
        "http://127.0.0.1:8080//double//slash",
        "http://127.0.0.1:8080/?b=2&a=1&a=0&empty=",
        "http://127.0.0.1:8080/x?name=a%2Fb&tilde=~",
    ],
)
def test_canonical_request_matches_botocore(url: str) -> None:
    verify(sign(url=url), KEYS, now(), required_signed=REQUIRED)


def test_empty_body_and_extra_headers_verify() -> None:
    verify(sign(body=b""), KEYS, now())
    request = sign(headers={"X-Custom": "  spaced   out  value ", "X-Amz-Content-SHA256": ""})
    # botocore signed an empty x-amz-content-sha256 as the payload hash: the body no longer matches it.
    assert refused(request).code == "InvalidSignatureException"


def test_declared_payload_hash_must_be_the_body_hash() -> None:
    import hashlib

    good = sign(headers={"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()})
    verify(good, KEYS, now())
    unsigned = sign(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refused(unsigned).code == "InvalidSignatureException"


def test_wrong_secret_is_refused() -> None:
    error = refused(sign(secret="not-the-secret"))
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in error.message
    assert SECRET not in error.message and "not-the-secret" not in error.message


def test_changed_body_is_refused() -> None:
    request = sign()
    tampered = Request(request.method, request.path, request.query, request.headers, BODY.replace(b"my", b"an"))
    assert refused(tampered).code == "InvalidSignatureException"


def test_changed_signed_header_is_refused() -> None:
    tampered = with_header(sign(), "X-Amz-Target", "SageMaker.DeleteHyperParameterTuningJob")
    assert refused(tampered).code == "InvalidSignatureException"
    moved = with_header(sign(), "Host", "127.0.0.1:9999")
    assert refused(moved).code == "InvalidSignatureException"


def test_changed_path_or_query_is_refused() -> None:
    request = sign(url="http://127.0.0.1:8080/?a=1")
    assert refused(Request("POST", "/", "a=2", request.headers, request.body)).code == "InvalidSignatureException"
    assert refused(Request("POST", "/x", "a=1", request.headers, request.body)).code == "InvalidSignatureException"
    assert refused(Request("PUT", "/", "a=1", request.headers, request.body)).code == "InvalidSignatureException"


def test_unknown_key_is_refused() -> None:
    error = refused(sign(key="AKIDUNKNOWN"))
    assert (error.code, error.status) == ("UnrecognizedClientException", 403)


def test_stale_and_future_dates_are_refused() -> None:
    request = sign()
    verify(request, KEYS, now() + timedelta(minutes=14))
    stale = refused(request, at=now() + timedelta(minutes=16))
    assert (stale.code, stale.status) == ("InvalidSignatureException", 403)
    assert stale.message.startswith("Signature expired")
    future = refused(request, at=now() - timedelta(minutes=16))
    assert future.code == "InvalidSignatureException" and "not yet current" in future.message


def test_changed_date_header_is_refused() -> None:
    request = sign()
    (date,) = request.header_values("x-amz-date")
    later = (datetime.strptime(date, "%Y%m%dT%H%M%SZ") + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    assert refused(with_header(request, "X-Amz-Date", later)).code == "InvalidSignatureException"


def test_wrong_service_scope_is_refused() -> None:
    assert refused(sign(service="s3")).code == "InvalidSignatureException"


def test_missing_or_malformed_authorization() -> None:
    request = sign()
    bare = Request("POST", "/", "", tuple(h for h in request.headers if h[0].lower() != "authorization"), BODY)
    missing = refused(bare)
    assert (missing.code, missing.status) == ("MissingAuthenticationTokenException", 403)
    for header in (
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/us-east-1, SignedHeaders=host;x-amz-date, Signature=00",
    ):
        assert refused(with_header(request, "Authorization", header)).code == "IncompleteSignature", header


def test_target_must_be_signed() -> None:
    request = sign(headers={"X-Amz-Target": ""})
    headers = tuple(
        (k, "SageMaker.DeleteHyperParameterTuningJob") if k.lower() == "x-amz-target" else (k, v)
        for k, v in request.headers
    )
    # botocore signed an empty X-Amz-Target; drop it from SignedHeaders as a forger would.
    auth = dict(request.headers)["Authorization"].replace("x-amz-date;x-amz-target", "x-amz-date")
    forged = with_header(Request("POST", "/", "", headers, BODY), "Authorization", auth)
    error = refused(forged)
    assert error.code == "IncompleteSignature" and "x-amz-target" in error.message


def test_parse_access_keys() -> None:
    assert parse_access_keys("AK1:s/e+c:ret, AK2:two") == {"AK1": "s/e+c:ret", "AK2": "two"}
    for bad in ("AK1", "AK1:", ":hunter2", "bad key:hunter2", "AK1:hunter2,AK1:hunter2"):
        with pytest.raises(ValueError) as info:
            parse_access_keys(bad)
        assert "hunter2" not in str(info.value)


def test_canonical_uri() -> None:
    assert canonical_uri("") == "/"
    assert canonical_uri("/") == "/"
    assert canonical_uri("/a/./b/../c/") == "/a/c/"
    assert canonical_uri("/a%20b") == "/a%2520b"
