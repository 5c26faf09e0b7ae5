"""Targets a deployment can be observed on. Importing this package registers every available target."""

from conformance.targets import aws as _aws  # noqa: F401  - registers the target
from conformance.targets import kind as _kind  # noqa: F401  - registers the target
from conformance.targets import local as _local  # noqa: F401  - registers the target
from conformance.targets import localstack as _localstack  # noqa: F401  - registers the target
from conformance.targets import static as _static  # noqa: F401  - registers the target
from conformance.targets.base import REGISTRY, RunContext, Target

__all__ = ["REGISTRY", "RunContext", "Target"]
