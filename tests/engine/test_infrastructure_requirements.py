"""Issue 3's infrastructure requirements: the seed maps onto scenarios, staging and prod are green, a refused
tfvars is an error naming its variable, and plan tracing narrows indexed module outputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import require_source
from conformance.facts import Facts, Ref
from conformance.outcomes import CheckError
from conformance.plan import plan_resources
from conformance.targets.base import RunContext
from conformance.targets.static import StaticTarget
from tests.engine.test_mutations import feature_requirements

ROOT = Path(__file__).resolve().parents[2]

# Every requirement the seed states in Infrastructure Components, Databases, Security and Cost Optimization, as
# (seed section, the seed's words, the requirement IDs whose scenarios check it). Requirements about Kubernetes
# objects (pod security, network policies) are checked by the workloads features and named here too.
SEED_TO_REQUIREMENTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Amazon EKS Cluster", "Version: 1.29 (or latest stable)", ("REQ-EKS-001",)),
    ("Amazon EKS Cluster", "General Purpose: t3.medium (2-10 nodes, auto-scaling)", ("REQ-EKS-005", "REQ-EKS-010")),
    ("Amazon EKS Cluster", "Compute Optimized: c5.large (1-5 nodes, for CPU-intensive workloads)", ("REQ-EKS-005",)),
    ("Amazon EKS Cluster", "Spot Instances: Mixed instances for cost optimization", ("REQ-EKS-005", "REQ-EKS-006")),
    ("Amazon EKS Cluster", "Fargate Profiles: For stateless, burstable workloads", ("REQ-EKS-008", "REQ-AVAIL-002")),
    ("Amazon EKS Cluster", "Add-ons: VPC CNI, CoreDNS, kube-proxy, EBS CSI driver", ("REQ-EKS-009",)),
    ("Networking", "VPC CIDR: 10.0.0.0/16", ("REQ-NET-001",)),
    ("Networking", "3x Public subnets (for load balancers)", ("REQ-NET-002", "REQ-AVAIL-001")),
    ("Networking", "3x Private subnets (for applications)", ("REQ-NET-003", "REQ-AVAIL-001")),
    ("Networking", "3x Private subnets (for databases)", ("REQ-NET-004", "REQ-DATA-008", "REQ-AVAIL-001")),
    ("Networking", "NAT Gateways: 3 (one per AZ for high availability)", ("REQ-NET-005",)),
    ("Networking", "VPC Endpoints: S3, ECR, CloudWatch, Secrets Manager", ("REQ-NETSEC-008",)),
    (
        "Networking",
        "Security Groups: Least privilege access control",
        ("REQ-NETSEC-001", "REQ-NETSEC-002", "REQ-NETSEC-004"),
    ),
    ("RDS PostgreSQL", "Engine: PostgreSQL 15.x", ("REQ-DATA-001",)),
    ("RDS PostgreSQL", "Instance Class: db.t3.medium (adjustable)", ("REQ-DATA-001",)),
    ("RDS PostgreSQL", "Multi-AZ: Enabled", ("REQ-DATA-001", "REQ-AVAIL-003")),
    ("RDS PostgreSQL", "Backup: Automated daily backups, 7-day retention", ("REQ-DATA-001",)),
    ("RDS PostgreSQL", "Encryption: At-rest and in-transit", ("REQ-ENC-002", "REQ-DATA-004")),
    ("ElastiCache Redis", "Engine: Redis 7.x", ("REQ-DATA-005",)),
    ("ElastiCache Redis", "Node Type: cache.t3.medium", ("REQ-DATA-005",)),
    ("ElastiCache Redis", "Cluster Mode: Enabled with 3 shards", ("REQ-DATA-005",)),
    ("ElastiCache Redis", "Replicas: 1 replica per shard", ("REQ-DATA-005",)),
    ("ElastiCache Redis", "Automatic Failover: Enabled", ("REQ-DATA-005", "REQ-AVAIL-003")),
    ("DocumentDB", "Engine: MongoDB 5.0 compatible", ("REQ-DATA-006",)),
    ("DocumentDB", "Instance Class: db.t3.medium", ("REQ-DATA-006",)),
    ("DocumentDB", "Cluster Size: 1 primary + 2 replicas", ("REQ-DATA-006", "REQ-AVAIL-003")),
    ("DocumentDB", "Backup: Continuous backup to S3", ("REQ-DATA-007",)),
    ("DocumentDB", "Encryption: Enabled", ("REQ-ENC-004",)),
    (
        "IAM Roles for Service Accounts (IRSA)",
        "Each microservice has dedicated IAM roles with least privilege",
        ("REQ-IRSA-001", "REQ-IRSA-003", "REQ-IRSA-004"),
    ),
    ("IAM Roles for Service Accounts (IRSA)", "Product Service: RDS access only", ("REQ-IRSA-003",)),
    ("IAM Roles for Service Accounts (IRSA)", "Order Service: DocumentDB and S3 access", ("REQ-IRSA-003",)),
    ("IAM Roles for Service Accounts (IRSA)", "User Service: RDS and Secrets Manager access", ("REQ-IRSA-003",)),
    ("IAM Roles for Service Accounts (IRSA)", "API Gateway: Redis and CloudWatch access", ("REQ-IRSA-003",)),
    (
        "Secrets Management",
        "External Secrets Operator: Syncs secrets from AWS Secrets Manager",
        ("REQ-IRSA-005", "REQ-SECRETS-003"),
    ),
    ("Secrets Management", "Automatic Rotation: Secrets rotated every 90 days", ("REQ-SECRETS-002",)),
    ("Secrets Management", "Encryption: All secrets encrypted at rest with KMS", ("REQ-SECRETS-001", "REQ-ENC-001")),
    (
        "Network Security",
        "Security Groups: Strict ingress/egress rules",
        ("REQ-NETSEC-001", "REQ-NETSEC-002", "REQ-NETSEC-003", "REQ-NETSEC-007"),
    ),
    (
        "Network Security",
        "Network Policies: Pod-to-pod communication restrictions",
        ("REQ-NETPOL-001", "REQ-NETPOL-002"),
    ),
    (
        "Network Security",
        "Private Subnets: Applications and databases not directly accessible",
        ("REQ-NET-006", "REQ-DATA-002", "REQ-NETSEC-005"),
    ),
    ("Network Security", "TLS/SSL: All external communication encrypted", ("REQ-NETSEC-006", "REQ-ENC-007")),
    ("Pod Security", "Pod Security Standards: Restricted policy enforced", ("REQ-POD-001",)),
    ("Pod Security", "Security Context: Non-root containers, read-only file systems", ("REQ-POD-011", "REQ-POD-012")),
    ("Pod Security", "Resource Limits: CPU and memory limits prevent resource exhaustion", ("REQ-POD-013",)),
    ("Pod Security", "Image Scanning: ECR scans for vulnerabilities", ("REQ-ENC-008",)),
    ("Estimated Monthly Costs (Dev Environment)", "Total ~$663/month", ("REQ-COST-001", "REQ-COST-002")),
    (
        "Cost Optimization Strategies",
        "Use Spot Instances: 60-90% savings on worker nodes",
        ("REQ-COST-004", "REQ-EKS-006"),
    ),
    (
        "Cost Optimization Strategies",
        "Right-sizing: Monitor and adjust instance sizes",
        ("REQ-DATA-001", "REQ-COST-002"),
    ),
    ("Cost Optimization Strategies", "Auto-scaling: Scale down during off-peak hours", ("REQ-EKS-010", "REQ-EKS-005")),
    ("Cost Optimization Strategies", "Reserved Instances: 40-60% savings for production", ()),
    ("Cost Optimization Strategies", "Fargate for Burst: Pay only for actual usage", ("REQ-EKS-008",)),
    ("Cost Optimization Strategies", "S3 Lifecycle Policies: Archive old logs and backups", ("REQ-COST-003",)),
    ("Cost Optimization Strategies", "Single NAT Gateway: Use one NAT Gateway in dev (not prod)", ("REQ-NET-005",)),
]

# Seed statements no plan can show, with the reason; each is named so that leaving one out is a decision.
NOT_INFRASTRUCTURE = {
    "Reserved Instances: 40-60% savings for production": "a billing commitment bought in the account, not a "
    "resource: the cost model prices on-demand list prices, the upper bound",
}


def test_every_seed_requirement_maps_to_existing_scenarios() -> None:
    known = feature_requirements()
    seed = (ROOT / "docs" / "seed.md").read_text(encoding="utf-8")
    for section, words, requirements in SEED_TO_REQUIREMENTS:
        key = words.split(":")[0].replace("Total ~$663/month", "**Total**")
        assert key.split(" (")[0] in seed, f"{section}: {words!r} is not in the seed"
        if not requirements:
            assert words in NOT_INFRASTRUCTURE, f"{section}: {words!r} maps to no scenario and no reason is given"
        missing = [r for r in requirements if r not in known]
        assert not missing, f"{section}: {words!r} maps to {missing}, which no feature declares"


def test_every_issue_3_requirement_is_reached_from_the_seed() -> None:
    mapped = {r for _, _, requirements in SEED_TO_REQUIREMENTS for r in requirements}
    ours = {r for r in feature_requirements() if re.match(r"REQ-(EKS|DATA|ENC|IRSA-0|SECRETS|NETSEC|AVAIL|COST)", r)}
    # Requirements that come from EKS Best Practices the seed implies rather than one seed sentence.
    implied = {"REQ-EKS-002", "REQ-EKS-003", "REQ-EKS-004", "REQ-EKS-007", "REQ-DATA-003", "REQ-ENC-003",
               "REQ-ENC-005", "REQ-ENC-006", "REQ-IRSA-002"}  # fmt: skip
    assert ours - mapped - implied == set()


def _index_plan() -> dict[str, Any]:
    def change(address: str, module: str, type_: str, name: str, index: Any, unknown: dict[str, Any]) -> dict[str, Any]:
        return {"address": address, "module_address": module, "mode": "managed", "type": type_, "name": name,
                "index": index, "change": {"actions": ["create"], "after": {}, "after_unknown": unknown}}  # fmt: skip

    keys = [change(f'module.kms.aws_kms_key.this["{k}"]', "module.kms", "aws_kms_key", "this", k, {"arn": True})
            for k in ("rds", "s3")]  # fmt: skip
    db = change("module.rds.aws_db_instance.this", "module.rds", "aws_db_instance", "this", None, {"kms_key_id": True})
    return {
        "format_version": "1.2",
        "resource_changes": [*keys, db],
        "configuration": {"root_module": {"module_calls": {
            "kms": {"module": {"outputs": {"key_arns": {"expression": {"references": ["aws_kms_key.this"]}}},
                               "resources": []}},
            "rds": {"expressions": {"kms_key_arn": {"references": ['module.kms.key_arns["rds"]', "module.kms.key_arns",
                                                                   "module.kms"]}},
                    "module": {"resources": [{"address": "aws_db_instance.this",
                                              "expressions": {"kms_key_id": {"references": ["var.kms_key_arn"]}}}]}},
        }}},
    }  # fmt: skip


def test_an_indexed_module_output_is_traced_to_that_instance_only() -> None:
    (db,) = [r for r in plan_resources(_index_plan()) if r.type == "aws_db_instance"]
    assert db.values["kms_key_id"] == Ref('module.kms.aws_kms_key.this["rds"]', "id")


def _run(env: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    command = [sys.executable, "-m", "pytest", str(ROOT / "steps"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
               f"--env={env}", f"--report-dir={tmp_path}", "-q"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    return result.stdout + result.stderr, json.loads((tmp_path / f"conformance-static-{env}.json").read_text())


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_meet_every_infrastructure_requirement(env: str, tmp_path: Path) -> None:
    output, report = _run(env, tmp_path)
    bad = {s["scenario"]: s["outcome"] for s in report["scenarios"] if s["outcome"] in ("fail", "error")}
    assert not bad, output[-4000:]
    ours = [
        s
        for s in report["scenarios"]
        if any(r.startswith(("REQ-EKS", "REQ-DATA", "REQ-COST")) for r in s["requirements"])
    ]
    assert ours
    assert all(s["outcome"] == "pass" for s in ours)
    assert (tmp_path / f"cost-estimate-{env}.json").is_file()
    assert f"estimated monthly cost of {env}" in output


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
def test_a_refused_tfvars_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    shutil.copytree(ROOT / "infra" / "terraform", tmp_path / "infra" / "terraform",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))  # fmt: skip
    tfvars = tmp_path / "infra" / "terraform" / "environments" / "dev" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace("node_group_min     = 2", "node_group_min     = 20"))
    target = StaticTarget(RunContext(environment="dev", project_root=tmp_path, work_dir=tmp_path / ".work"))
    target.prepare()
    facts: Facts = target.observe()
    assert "node_group_min" in facts.errors["terraform"]
    with pytest.raises(CheckError, match="node_group_min"):
        require_source(facts, "terraform")  # what the Background step does: the plugin reports it as ERROR
