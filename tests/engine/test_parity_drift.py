"""Parity and drift: the same requirement verdicts on ``static`` and ``localstack`` for dev; live changes go red.

Every infrastructure scenario of every feature runs (in-process, with the suite's real step definitions) on the
plan's facts and on the live facts of the dev environment applied into the embedded emulator. Then the live state
is changed behind Terraform's back (Multi-AZ off, a wildcard policy on a service role, rotation cancelled): the
live verdict of exactly those requirements turns red while the plan stays green, and the drift report names the
changed attributes.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conformance.drift import compare, terraform_address
from conformance.facts import Facts, Resource
from conformance.outcomes import Outcome
from conformance.targets.base import RunContext
from conformance.targets.static import StaticTarget
from reference import load_architecture
from tests.engine.live_env import PROJECT_ROOT, emulator_log_tail, live_dev
from tests.engine.localstack_run import infrastructure_scenarios, verdicts

pytestmark = [
    pytest.mark.slow,  # applies dev into an emulator (minutes)
    pytest.mark.skipif(os.environ.get("SKIP_LIVE_TESTS") == "1", reason="SKIP_LIVE_TESTS=1"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def static_facts() -> Facts:
    context = RunContext(environment="dev", project_root=PROJECT_ROOT, work_dir=PROJECT_ROOT / ".work")
    target = StaticTarget(context)
    target.prepare()
    facts = target.observe()
    assert "terraform" in facts.sources, facts.errors or facts.unavailable
    return facts


@pytest.fixture(scope="module")
def architecture() -> Any:
    return load_architecture()


def test_every_infrastructure_requirement_has_the_same_verdict(static_facts: Facts, architecture: Any) -> None:
    planned = verdicts(static_facts, architecture)
    live = verdicts(live_dev().facts, architecture)
    assert len(planned) >= 10
    differing = {
        requirement: {"static": f"{planned[requirement][0].value}", "localstack": f"{outcome.value}: {message[:400]}"}
        for requirement, (outcome, message) in live.items()
        if outcome != planned[requirement][0]
    }
    assert differing == {}, json.dumps(differing, indent=1)


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _disable_rotation(endpoint: str, secret_arn: str) -> None:
    """Someone points the secret at a rotation Lambda, then cancels rotation: it no longer rotates.

    (Dev configures no rotation Lambda, and CancelRotateSecret refuses a secret without one, so one is made.)
    """
    role = _client(endpoint, "iam").create_role(
        RoleName="drift-rotator",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("rotate.py", "def handler(event, context):\n    return None\n")
    function = _client(endpoint, "lambda").create_function(
        FunctionName="drift-rotator",
        Runtime="python3.12",
        Role=role,
        Handler="rotate.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    secrets = _client(endpoint, "secretsmanager")
    secrets.rotate_secret(SecretId=secret_arn, RotationLambdaARN=function, RotateImmediately=False)
    secrets.cancel_rotate_secret(SecretId=secret_arn)


def _secret_with_a_value(endpoint: str, facts: Facts) -> Resource:
    """A secret that holds a value, to rotate.

    moto 5.2 answers 500 to RotateSecret with a rotation Lambda on a secret that has no version yet
    (UnboundLocalError: new_version_id, moto/secretsmanager/models.py rotate_secret; the log kept by a failed CI run
    showed it). Dev has such secrets (users/jwt-keys gets its value from the service), and which secret the facts
    list first follows the order the parallel apply created them in: that made this test fail now and then.
    """
    client = _client(endpoint, "secretsmanager")
    for secret in facts.of_type("aws_secretsmanager_secret"):
        if client.describe_secret(SecretId=str(secret.get("arn"))).get("VersionIdsToStages"):
            return secret
    raise AssertionError("no secret of the applied dev environment holds a value (expected gateway/redis-auth)")


def requirement_of(fragment: str) -> str:
    """The requirement id of the infrastructure scenario whose name contains ``fragment`` (ids get renumbered)."""
    [requirement] = [r for r, s in infrastructure_scenarios().items() if fragment.lower() in s.name.lower()]
    return requirement


def test_live_changes_turn_live_red_and_show_as_drift(static_facts: Facts, architecture: Any) -> None:
    env = live_dev()
    multi_az = requirement_of("PostgreSQL 15, Multi-AZ")
    wildcard_policy = requirement_of("No policy allows every action on every resource")
    rotation = requirement_of("Every secret rotates")
    before = verdicts(env.facts, architecture)
    assert before[multi_az][0] == Outcome.PASS
    assert before[wildcard_policy][0] == Outcome.PASS
    assert before[rotation][0] == Outcome.PASS

    db = env.facts.of_type("aws_db_instance")[0]
    _client(env.endpoint, "rds").modify_db_instance(
        DBInstanceIdentifier=db.get("identifier"), MultiAZ=False, ApplyImmediately=True
    )
    role = next(r for r in env.facts.of_type("aws_iam_role") if r.tags.get("Service") == "catalog")
    wildcard = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    _client(env.endpoint, "iam").put_role_policy(
        RoleName=role.get("name"), PolicyName="debug-everything", PolicyDocument=json.dumps(wildcard)
    )
    secret = _secret_with_a_value(env.endpoint, env.facts)
    try:
        _disable_rotation(env.endpoint, str(secret.get("arn")))
    except ClientError as exc:  # keep the emulator's side of the story
        pytest.fail(f"the emulator refused to disable rotation: {exc}\n--- emulator log ---\n{emulator_log_tail(env)}")

    changed = env.target.observe()  # a fresh live read
    after = verdicts(changed, architecture)
    planned = verdicts(static_facts, architecture)
    for requirement, evidence in (
        (multi_az, terraform_address(db)),
        (wildcard_policy, "debug-everything"),
        (rotation, terraform_address(secret)),
    ):
        assert planned[requirement][0] == Outcome.PASS
        assert after[requirement][0] == Outcome.FAIL, after[requirement]
        assert evidence in after[requirement][1]

    differences = compare(static_facts, changed)
    text = "\n".join(str(d) for d in differences)
    assert f"{terraform_address(db)}: multi_az: planned true, live false" in text
    assert f"{terraform_address(role)}: inline_policy" in text or "debug-everything" in text


def test_drift_ignores_unknowns_and_equal_spellings() -> None:
    from conformance.drift import compare_values
    from conformance.facts import Ref

    assert (
        compare_values(
            "a", "", {"id": Ref("a", "id"), "enabled": "true", "days": "7"}, {"id": "x", "enabled": True, "days": 7}
        )
        == []
    )
    assert compare_values("a", "", {"policy": '{"b": 1, "a": [2, 1]}'}, {"policy": '{"a":[1,2],"b":1}'}) == []
    [difference] = compare_values("a", "", {"multi_az": True}, {"multi_az": False})
    assert str(difference) == "a: multi_az: planned true, live false"


def test_drift_reads_the_applied_environment_without_reapplying() -> None:
    from conformance.drift import drift, format_differences

    env = live_dev()
    messages: list[str] = []
    differences, live = drift(PROJECT_ROOT, "dev", env.endpoint, messages.append, live_work_dir=env.work_dir)
    assert not any("applying it first" in m for m in messages)  # an apply would have undone the drift
    assert live.sources == {"aws"}
    text = format_differences(differences)
    assert "(known after apply" not in text  # unknowns are never drift
