"""Root conftest: the step vocabularies of the conformance suite.

The conformance plugin itself (options, targets, outcomes, reports) is loaded with `-p conformance.pytest_plugin`
from pyproject.toml, so that its command-line options exist before any conftest is read.
"""

pytest_plugins = [
    "steps.infrastructure",  # cloud resources: network (shared `infra` fixture step)
    "steps.infrastructure_eks",  # EKS cluster, node groups, add-ons, availability zones
    "steps.infrastructure_data",  # data stores: PostgreSQL, Redis, DocumentDB, their subnet groups
    "steps.infrastructure_encryption",  # KMS keys per data class, encryption at rest and in transit, secrets
    "steps.infrastructure_iam",  # IRSA trusts and permissions, add-on roles, no wildcard policies
    "steps.infrastructure_netsec",  # security groups, SSH, bastion, edge certificate, default group, VPC endpoints
    "steps.infrastructure_cost",  # cost estimate against the price table
    "steps.workloads",  # Kubernetes objects: pod security, workloads, network policies, autoscaling, observability
    "steps.application",  # the running shop: storefront, orders, caching, resilience, security, tenancy
]
