"""STS GetCallerIdentity and IAM SimulatePrincipalPolicy, answered for tunestream's principals."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tunestream.api.identity import ACCOUNT, QueryError, action_of, answer, decide, error_xml, form, is_query_request
from tunestream.api.principals import Principal

ALICE, VERA = Principal("alice", "member"), Principal("vera", "viewer")


def parsed(xml: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for element in ET.fromstring(xml).iter():
        found.setdefault(element.tag.rsplit("}", 1)[-1], []).append(element.text or "")
    return found


def test_the_query_protocol_is_told_by_its_content_type() -> None:
    assert is_query_request("application/x-www-form-urlencoded; charset=utf-8")
    assert not is_query_request("application/x-amz-json-1.1")


def test_get_caller_identity_names_the_principal_in_tunestreams_account() -> None:
    params = form(b"Action=GetCallerIdentity&Version=2011-06-15")
    action, service, namespace = action_of(params)
    assert (action, service) == ("GetCallerIdentity", "sts")
    got = parsed(answer(action, namespace, params, ALICE, "rid"))
    assert got["Account"] == [ACCOUNT] and got["Arn"] == [f"arn:aws:iam::{ACCOUNT}:user/alice"]
    assert got["RequestId"] == ["rid"]


def test_simulate_principal_policy_decides_by_the_callers_role() -> None:
    body = (
        b"Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"
        b"&ActionNames.member.1=sagemaker%3ACreateTrainingJob&ActionNames.member.2=sagemaker%3ADescribeTrainingJob"
        b"&ActionNames.member.10=s3%3AGetObject"
    )
    params = form(body)
    action, service, namespace = action_of(params)
    assert service == "iam"
    member = parsed(answer(action, namespace, params, ALICE, "r"))
    assert member["EvalActionName"] == ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "s3:GetObject"]
    assert member["EvalDecision"] == ["allowed"] * 3
    viewer = parsed(answer(action, namespace, params, VERA, "r"))
    assert viewer["EvalDecision"] == ["implicitDeny", "allowed", "allowed"]
    assert decide(VERA, "sagemaker:StopHyperParameterTuningJob") == "implicitDeny"


def test_unknown_actions_and_missing_names_are_errors_in_xml() -> None:
    with pytest.raises(QueryError) as info:
        action_of(form(b"Action=AssumeRole"))
    assert info.value.code == "InvalidAction" and "GetCallerIdentity" in info.value.message
    with pytest.raises(QueryError):
        answer("SimulatePrincipalPolicy", "ns", form(b"Action=SimulatePrincipalPolicy"), ALICE, "r")
    assert parsed(error_xml("InvalidAction", "a <b>", "r"))["Message"] == ["a <b>"]


def test_get_role_answers_any_role_as_one_sagemaker_may_assume() -> None:
    import json
    from urllib.parse import unquote

    params = form(b"Action=GetRole&Version=2010-05-08&RoleName=tunestream-sdk")
    action, service, namespace = action_of(params)
    assert service == "iam"
    got = parsed(answer(action, namespace, params, ALICE, "r"))
    assert got["Arn"] == [f"arn:aws:iam::{ACCOUNT}:role/tunestream-sdk"] and got["RoleName"] == ["tunestream-sdk"]
    trust = json.loads(unquote(got["AssumeRolePolicyDocument"][0]))
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    with pytest.raises(QueryError):
        answer(action, namespace, form(b"Action=GetRole&RoleName=bad%20name"), ALICE, "r")
