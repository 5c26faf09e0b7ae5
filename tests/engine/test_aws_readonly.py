"""The aws target only reads: every AWS operation its collectors call is a Describe*, List* or Get*.

Its code path runs against the embedded emulator with the dev environment applied (the same boto3 calls a real
account would get, another endpoint), with a botocore ``before-call`` hook recording every operation name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from conformance.collectors import SERVICES
from conformance.targets.aws import AwsTarget, check_credentials
from tests.engine.live_env import context, live_dev

pytestmark = [
    pytest.mark.slow,  # applies dev into an emulator (minutes)
    pytest.mark.skipif(os.environ.get("SKIP_LIVE_TESTS") == "1", reason="SKIP_LIVE_TESTS=1"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

READ_ONLY_PREFIXES = ("Describe", "List", "Get")


class Recorder:
    def __init__(self) -> None:
        self.operations: list[tuple[str, str]] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append((model.service_model.service_name, model.name))


def _recording_session(recorder: Recorder) -> boto3.session.Session:
    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    session.events.register("before-call", recorder)
    return session


def test_aws_target_calls_only_read_operations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = live_dev()
    recorder = Recorder()
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("EKS_CLUSTER_NAME", "eks-ecommerce-dev")
    target = AwsTarget(context(tmp_path, env.endpoint))
    monkeypatch.setattr(target, "session", lambda: _recording_session(recorder))
    facts = target.observe()

    assert not facts.errors, facts.errors
    assert not facts.unavailable, facts.unavailable
    writes = sorted({f"{s}:{op}" for s, op in recorder.operations if not op.startswith(READ_ONLY_PREFIXES)})
    assert writes == [], f"the aws target called non-read operations: {writes}"
    # Every collector ran (the proof covers them all) and the same facts came back as on the localstack target.
    called = {s for s, _ in recorder.operations}
    assert {"ec2", "iam", "kms", "secretsmanager", "logs", "eks", "rds", "elasticache", "ecr", "s3"} <= called
    assert len(SERVICES) == 13
    # Compared with a fresh read by the localstack target: other tests on this worker may have changed the live
    # environment since it was applied (the drift test adds a policy and cancels a rotation).
    assert sorted(r.type for r in facts.resources) == sorted(r.type for r in env.target.observe().resources)


def test_missing_credentials_is_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    message = check_credentials(boto3.session.Session(region_name="us-east-1"), "us-east-1")
    assert message is not None
    assert "no AWS credentials found" in message
    facts = AwsTarget(context(tmp_path, None)).observe()
    assert "no AWS credentials found" in facts.unavailable["aws"]


def test_region_without_the_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = live_dev()
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the cluster lives in us-east-1
    monkeypatch.setenv("EKS_CLUSTER_NAME", "eks-ecommerce-dev")
    target = AwsTarget(context(tmp_path, env.endpoint))
    monkeypatch.setattr(target, "session", lambda: _recording_session(Recorder()))
    monkeypatch.setattr(target, "region", "eu-west-1")
    facts = target.observe()
    assert "EKS cluster 'eks-ecommerce-dev' not found in region eu-west-1" in facts.errors["aws"]
