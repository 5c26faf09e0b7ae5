"""Root conftest: the step vocabularies of the conformance suite.

The conformance plugin itself (options, targets, outcomes, reports) is loaded with `-p conformance.pytest_plugin`
from pyproject.toml, so that its command-line options exist before any conftest is read.
"""

pytest_plugins = [
    "steps.infrastructure",  # cloud resources: network, EKS, data stores, IAM, encryption, secrets, cost
    "steps.workloads",  # Kubernetes objects: pod security, workloads, network policies, autoscaling, observability
    "steps.application",  # the running shop: storefront, orders, caching, resilience, security, tenancy
]
