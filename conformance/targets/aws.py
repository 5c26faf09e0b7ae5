"""The aws target: a real account, read only, through the default credential chain.

Nothing is created or changed: the collectors call only Describe*/List*/Get* operations (proved by
``tests/engine/test_aws_readonly.py``). Region from ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (default us-east-1);
the cluster from ``EKS_CLUSTER_NAME`` (default: the EKS clusters tagged Project=eks-shop, Environment=<env>).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from conformance.collectors import ClusterNotFound, CollectContext, collect_all
from conformance.facts import Facts
from conformance.live import to_facts
from conformance.targets.base import Target, register

DEFAULT_REGION = "us-east-1"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def cluster_name() -> str | None:
    return os.environ.get("EKS_CLUSTER_NAME") or None


def check_credentials(session: boto3.session.Session, where: str) -> str | None:
    """None when the credential chain yields credentials the account accepts, else a message saying what to do."""
    if session.get_credentials() is None:
        return (
            "no AWS credentials found (environment, shared config/credentials file, SSO, instance or container "
            "role): set AWS_PROFILE or run `aws configure` / `aws sso login`"
        )
    try:
        session.client("sts", region_name=where).get_caller_identity()
    except NoCredentialsError:
        return "no AWS credentials found: set AWS_PROFILE or run `aws configure`"
    except ClientError as exc:
        return f"AWS refused the credentials ({exc.response.get('Error', {}).get('Code')}): check AWS_PROFILE"
    except (EndpointConnectionError, BotoCoreError) as exc:
        return f"cannot reach AWS STS in {where}: {exc}"
    return None


@register
class AwsTarget(Target):
    name = "aws"
    description = "a real AWS account (read-only), default credential chain, --env selects the tagged environment"
    sources = frozenset({"aws"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = region()
        # The endpoint option stays usable: the same code path runs against the emulator in tests.
        self.endpoint = self.context.endpoint

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=self.region)

    def observe(self) -> Facts:
        env = self.context.environment
        facts = Facts(target=self.name, environment=env)
        session = self.session()
        if self.endpoint is None:
            problem = check_credentials(session, self.region)
            if problem is not None:
                facts.unavailable["aws"] = problem
                return facts
        ctx = CollectContext(
            session=session,
            region=self.region,
            environment=env,
            endpoint=self.endpoint,
            cluster_name=cluster_name(),
        )
        try:
            collection = collect_all(ctx)
        except ClusterNotFound as exc:
            facts.errors["aws"] = str(exc)
            return facts
        except NoCredentialsError:
            facts.unavailable["aws"] = "no AWS credentials found: set AWS_PROFILE or run `aws configure`"
            return facts
        except EndpointConnectionError as exc:
            facts.errors["aws"] = f"cannot reach AWS in region {self.region}: {exc}"
            return facts
        live = to_facts(self.name, env, collection)
        live.metadata.update(region=self.region, cluster=cluster_name())
        return live
