"""Named work-arounds for the gaps of moto's server that Terraform hits when it applies this platform.

Each shim is a small function that patches moto *inside the emulator's own process* (see
:mod:`conformance.emulator_server`), is documented with the gap it fills, and has a test in
``tests/engine/test_shims.py`` that first proves the gap still exists in plain moto, so a moto upgrade that fixes or
changes the behaviour underneath a shim turns that test red instead of silently double-patching.

A shim never changes what a correct request returns; it only makes moto accept or answer what real AWS accepts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from conformance.shims import (
    docdb,
    ec2_monitoring,
    eks_addons,
    elasticache_members,
    elasticache_parameter_groups,
    rds_performance_insights,
    rds_resource_ids,
)


@dataclass(frozen=True)
class Shim:
    name: str
    gap: str
    apply: Callable[[], None]


def _managed_policies() -> None:
    # moto reads this when its IAM backend is first built; the server's process must have it before any request.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


def _instant_transitions() -> None:
    # ACM certificates stay PENDING_VALIDATION for MOTO_ACM_VALIDATION_WAIT seconds (default 60), and
    # aws_acm_certificate_validation waits for ISSUED: no wait, as for every other state moto moves on read.
    os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")


SHIMS: tuple[Shim, ...] = (
    Shim(
        "iam-managed-policies",
        "AWS managed policies (AmazonEKSClusterPolicy...) exist only when loaded at server start",
        _managed_policies,
    ),
    Shim("instant-acm-validation", "ACM DNS validation waits 60 s before ISSUED", _instant_transitions),
    Shim("docdb-engine", docdb.GAP, docdb.apply),
    Shim("rds-unique-resource-ids", rds_resource_ids.GAP, rds_resource_ids.apply),
    Shim("rds-performance-insights", rds_performance_insights.GAP, rds_performance_insights.apply),
    Shim("elasticache-member-clusters", elasticache_members.GAP, elasticache_members.apply),
    Shim("elasticache-parameter-groups", elasticache_parameter_groups.GAP, elasticache_parameter_groups.apply),
    Shim("eks-addons-identity-providers", eks_addons.GAP, eks_addons.apply),
    Shim("eks-creation-settings", eks_addons.CONFIG_GAP, eks_addons.keep_creation_settings),
    Shim("ec2-detailed-monitoring", ec2_monitoring.GAP, ec2_monitoring.apply),
)

_applied: set[str] = set()


def apply_all() -> list[str]:
    """Apply every shim once (idempotent); returns the names applied."""
    for shim in SHIMS:
        if shim.name not in _applied:
            shim.apply()
            _applied.add(shim.name)
    return [shim.name for shim in SHIMS]
