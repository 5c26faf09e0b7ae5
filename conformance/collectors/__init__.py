"""boto3 collectors: read a live deployment into Terraform-shaped facts, one small module per AWS service.

Each collector returns :class:`~conformance.facts.Resource` records with the Terraform type and attribute names that
a plan of the same configuration has, so every step runs unchanged on ``static``, ``localstack`` and ``aws``.
Collectors only call Describe*/List*/Get* operations (``tests/engine/test_aws_readonly.py`` proves it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from conformance.collectors import acm, ec2, ecr, eks, elasticache, iam, kms, logs, rds, route53, s3, secretsmanager
from conformance.collectors.base import CollectContext, error_code
from conformance.facts import Resource

Collector = Callable[[CollectContext], list[Resource]]

# service -> (collector, the Terraform types it produces). The types let a target say precisely which facts are
# not observable when an engine cannot serve a service (LocalStack community has no RDS, EKS, ElastiCache...).
SERVICES: dict[str, tuple[Collector, tuple[str, ...]]] = {
    "ec2": (
        ec2.collect,
        (
            "aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_nat_gateway", "aws_eip", "aws_route_table",
            "aws_route_table_association", "aws_route", "aws_default_route_table", "aws_vpc_endpoint",
            "aws_security_group", "aws_default_security_group", "aws_vpc_security_group_ingress_rule",
            "aws_vpc_security_group_egress_rule", "aws_flow_log", "aws_launch_template", "aws_instance",
        ),
    ),
    "iam": (
        iam.collect,
        (
            "aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_policy",
            "aws_iam_openid_connect_provider", "aws_iam_instance_profile",
        ),
    ),
    "kms": (kms.collect, ("aws_kms_key", "aws_kms_alias")),
    "secretsmanager": (
        secretsmanager.collect,
        ("aws_secretsmanager_secret", "aws_secretsmanager_secret_rotation", "aws_secretsmanager_secret_version"),
    ),
    "logs": (logs.collect, ("aws_cloudwatch_log_group",)),
    "s3": (
        s3.collect,
        (
            "aws_s3_bucket", "aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_versioning", "aws_s3_bucket_policy", "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_lifecycle_configuration",
        ),
    ),
    "ecr": (ecr.collect, ("aws_ecr_repository", "aws_ecr_lifecycle_policy")),
    "route53": (route53.collect, ("aws_route53_zone", "aws_route53_record")),
    "acm": (acm.collect, ("aws_acm_certificate", "aws_acm_certificate_validation")),
    "eks": (
        eks.collect,
        (
            "aws_eks_cluster", "aws_eks_node_group", "aws_eks_fargate_profile", "aws_eks_addon",
            "aws_eks_identity_provider_config",
        ),
    ),
    "rds": (rds.collect_rds, ("aws_db_instance", "aws_db_subnet_group", "aws_db_parameter_group")),
    "docdb": (
        rds.collect_docdb,
        (
            "aws_docdb_cluster", "aws_docdb_cluster_instance", "aws_docdb_cluster_parameter_group",
            "aws_docdb_subnet_group",
        ),
    ),
    "elasticache": (
        elasticache.collect,
        ("aws_elasticache_replication_group", "aws_elasticache_subnet_group", "aws_elasticache_parameter_group"),
    ),
}  # fmt: skip

ClusterNotFound = eks.ClusterNotFound


def service_of(resource_type: str) -> str | None:
    return next((name for name, (_, types) in SERVICES.items() if resource_type in types), None)


@dataclass
class Collection:
    resources: list[Resource] = field(default_factory=list)
    # resource type -> why it could not be observed (the engine lacks the service)
    unavailable: dict[str, str] = field(default_factory=dict)
    # resource type -> what failed while reading it
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


# Error codes an emulator answers with for a service it does not have: not observable there, not a failure.
_NOT_SERVED = {"InternalFailure", "NotImplemented", "NotImplementedError", "501", "UnknownOperationException"}


def collect_all(ctx: CollectContext, skip: Mapping[str, str] | None = None, lenient: bool = False) -> Collection:
    """Run every collector; a service in ``skip`` (service -> reason) is recorded as not observable.

    ``lenient`` (LocalStack): a server error on a read is the engine's gap, not observable there; on moto or AWS it
    is an error of the observation.
    """
    import time

    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    skip = skip or {}
    result = Collection()
    for service, (collector, types) in SERVICES.items():
        if service in skip:
            result.unavailable.update({t: skip[service] for t in types})
            continue
        started = time.monotonic()
        try:
            result.resources += collector(ctx)
        except (NoCredentialsError, EndpointConnectionError, ClusterNotFound):
            raise  # the whole observation is impossible: the target turns these into one clear error
        except Exception as exc:
            code = error_code(exc)
            message = f"reading {service} failed: {type(exc).__name__}: {exc}"
            if code in _NOT_SERVED or (lenient and code in ("InternalError", "ServiceUnavailable")):
                result.unavailable.update({t: f"{service} is not served at {ctx.endpoint}: {code}" for t in types})
            else:
                result.errors.update({t: message for t in types})
        result.seconds[service] = round(time.monotonic() - started, 2)
    return result


__all__ = ["SERVICES", "ClusterNotFound", "CollectContext", "Collection", "collect_all", "service_of"]
