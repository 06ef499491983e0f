"""The two IAM and STS calls SageMaker's SDKs make before they tune, answered for tunestream's own
principals (AWS's query protocol: a form-encoded POST /, an XML answer).

- STS `GetCallerIdentity`: the SDKs' default bucket is named after the account
  (`sagemaker-<region>-<account>`); the account is tunestream's (000000000000) and the caller's ARN
  names its principal.
- IAM `SimulatePrincipalPolicy`: SDK v3 checks that the role may do what tuning needs. Each action is
  decided by the caller's role in tunestream (docs/security.md): a viewer may only read, so a
  SageMaker action that changes something is an implicit deny for it; the rest is allowed. The
  role ARN given is not an identity here (RoleArn is inert), so it is not looked up.
- IAM `GetRole`: SDK v3 reads the role to check that SageMaker may assume it. Any role name is
  answered as a role of tunestream's account that trusts sagemaker.amazonaws.com: tunestream runs
  training jobs under no role (RoleArn is inert), so every role is as good as any.

Point the SDK at them with boto3's `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_IAM` (the api's URL).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

from tunestream.api.access import may_create
from tunestream.api.principals import Principal

ACCOUNT = "000000000000"
FORM = "application/x-www-form-urlencoded"
# Action -> (the service whose SigV4 scope signs it, its API version's XML namespace)
ACTIONS = {
    "GetCallerIdentity": ("sts", "https://sts.amazonaws.com/doc/2011-06-15/"),
    "SimulatePrincipalPolicy": ("iam", "https://iam.amazonaws.com/doc/2010-05-08/"),
    "GetRole": ("iam", "https://iam.amazonaws.com/doc/2010-05-08/"),
}
# The trust policy every role is answered with: SageMaker may assume it.
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# SageMaker actions that change something (what a viewer may not do).
_CHANGING = re.compile(r"^sagemaker:(Create|Update|Delete|Stop|Start|Add|Put|Associate|Disassociate|Enable|Disable)")


class QueryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_query_request(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == FORM


def form(body: bytes) -> dict[str, str]:
    """The query protocol's parameters (each given once)."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise QueryError(400, "MalformedQueryString", "the body is not UTF-8 form data") from None
    return {k: v[-1] for k, v in parsed.items()}


def action_of(params: Mapping[str, str]) -> tuple[str, str, str]:
    """(Action, its service, its XML namespace), or the error AWS gives for an unknown one."""
    action = params.get("Action", "")
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise QueryError(400, "InvalidAction", f"tunestream answers the query actions {known}, not {action!r}")
    service, namespace = ACTIONS[action]
    return action, service, namespace


def user_arn(who: Principal) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{who.name}"


def decide(who: Principal, action: str) -> str:
    """EvalDecision for one action name: what tunestream's roles allow the caller."""
    if _CHANGING.match(action) and not may_create(who):
        return "implicitDeny"
    return "allowed"


def answer(action: str, namespace: str, params: Mapping[str, str], who: Principal, request_id: str) -> str:
    if action == "GetCallerIdentity":
        result = f"<Arn>{escape(user_arn(who))}</Arn><UserId>{escape(who.name)}</UserId><Account>{ACCOUNT}</Account>"
    elif action == "GetRole":
        result = _role(params.get("RoleName", ""))
    else:
        names = [params[k] for k in sorted(params, key=_member_number) if k.startswith("ActionNames.member.")]
        if not names:
            raise QueryError(400, "ValidationError", "ActionNames: at least one action name is required")
        resources = [params[k] for k in sorted(params, key=_member_number) if k.startswith("ResourceArns.member.")]
        members = "".join(
            "<member>"
            f"<EvalActionName>{escape(name)}</EvalActionName>"
            f"<EvalResourceName>{escape(resources[0] if resources else '*')}</EvalResourceName>"
            f"<EvalDecision>{decide(who, name)}</EvalDecision>"
            "<MatchedStatements/><MissingContextValues/>"
            "</member>"
            for name in names
        )
        result = f"<IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults>"
    return (
        f'<{action}Response xmlns="{namespace}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    )


def _role(name: str) -> str:
    if not re.fullmatch(r"[\w+=,.@-]{1,64}", name):
        raise QueryError(400, "ValidationError", f"RoleName {name!r}: 1 to 64 of letters, digits and +=,.@_-")
    return (
        "<Role><Path>/</Path>"
        f"<RoleName>{escape(name)}</RoleName>"
        f"<RoleId>AROA{hashlib.sha256(name.encode()).hexdigest()[:17].upper()}</RoleId>"
        f"<Arn>arn:aws:iam::{ACCOUNT}:role/{escape(name)}</Arn>"
        "<CreateDate>2026-01-01T00:00:00Z</CreateDate>"
        f"<AssumeRolePolicyDocument>{quote(json.dumps(TRUST))}</AssumeRolePolicyDocument>"
        "<MaxSessionDuration>3600</MaxSessionDuration></Role>"
    )


def error_xml(code: str, message: str, request_id: str) -> str:
    return (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _member_number(key: str) -> tuple[str, int]:
    head, _, number = key.rpartition(".")
    return head, int(number) if number.isdigit() else 0
