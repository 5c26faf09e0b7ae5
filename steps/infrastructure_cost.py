"""Steps about cost (features/cost.feature): the plan priced with conformance/prices.yaml, an Infracost-shaped
estimate written beside the reports and printed in the terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import parsers, then, when

from conformance.checks import expect_each, fail_if, select
from conformance.cost import Estimate, estimate, summary_lines, write_estimate
from conformance.facts import Facts
from conformance.outcomes import Violation
from reference import Architecture
from steps.infrastructure_eks import run_date

_ESTIMATES = pytest.StashKey[dict[str, Estimate]]()


@when("the monthly cost of the environment is estimated", target_fixture="cost_estimate")
def cost_estimate(infra: Facts, architecture: Architecture, request: pytest.FixtureRequest) -> Estimate:
    # The EKS version calendar and the run date: a version out of standard support costs the extended price.
    result = estimate(infra, eks=architecture.eks, day=run_date())
    request.config.stash.setdefault(_ESTIMATES, {})[infra.environment] = result
    report_dir = Path(request.config.getoption("report_dir"))
    # Beside the conformance reports, so that CI archives both; xdist workers write the same content.
    write_estimate(result, report_dir)
    return result


@then("every cost-bearing resource has a price")
def everything_priced(cost_estimate: Estimate) -> None:
    fail_if(
        [
            Violation(address, "price", "a price in conformance/prices.yaml", why)
            for address, why in cost_estimate.unpriced
        ],
        "resources the cost model cannot price",
    )


@then("the estimate is written as Infracost-shaped JSON next to the reports")
def estimate_written(cost_estimate: Estimate, request: pytest.FixtureRequest) -> None:
    path = Path(request.config.getoption("report_dir")) / f"cost-estimate-{cost_estimate.environment}.json"
    fail_if(
        [] if path.is_file() else [Violation(str(path), "file", "written", "missing")],
        "the cost estimate was not written",
    )


@then("the estimated monthly cost is within the environment's reference budget plus margin")
def within_budget(cost_estimate: Estimate, architecture: Architecture) -> None:
    env = architecture.environments[cost_estimate.environment]  # type: ignore[index]
    ceiling = round(env.budget_usd * (1 + env.budget_margin_percent / 100), 2)
    if cost_estimate.total <= ceiling:
        return
    hours = cost_estimate.hours_per_month
    top = sorted(cost_estimate.resources, key=lambda r: -r.monthly_cost(hours))[:8]
    fail_if(
        [Violation(f"<{cost_estimate.environment}>", "estimated monthly cost (USD)", f"<= {ceiling:.2f} "
                   f"({env.budget_usd:g} + {env.budget_margin_percent:g}%)", f"{cost_estimate.total:.2f}")]
        + [Violation(r.name, "monthly cost (USD)", "part of the total", f"{r.monthly_cost(hours):.2f}") for r in top],
        f"the {cost_estimate.environment} estimate exceeds its budget",
    )  # fmt: skip


@then("every ECR repository has a lifecycle policy that expires images")
def ecr_lifecycle(infra: Facts) -> None:
    policies = infra.of_type("aws_ecr_lifecycle_policy")

    def expires(repo: Any) -> bool:
        mine = [
            p for p in policies if infra.resolve(p.get("repository")) is repo or p.get("repository") == repo.get("name")
        ]
        return any('"expire"' in str(p.get("policy")) for p in mine)

    expect_each(select(infra, "aws_ecr_repository"), "lifecycle policy", "expires images", read=expires,
                ok=lambda v: v is True)  # fmt: skip


@then("every S3 bucket has a lifecycle rule that expires noncurrent versions")
def s3_lifecycle(infra: Facts) -> None:
    configs = infra.of_type("aws_s3_bucket_lifecycle_configuration")

    def expires(bucket: Any) -> bool:
        mine = [c for c in configs if infra.resolve(c.get("bucket")) is bucket]
        return any(
            r.get("status") == "Enabled" and (r.get("noncurrent_version_expiration") or r.get("expiration"))
            for c in mine
            for r in c.get("rule") or []
        )

    expect_each(select(infra, "aws_s3_bucket"), "lifecycle rule", "expires old versions", read=expires,
                ok=lambda v: v is True)  # fmt: skip


@then(parsers.parse('at least one node group uses "{capacity}" capacity'))
def spot_capacity(infra: Facts, capacity: str) -> None:
    select(infra, "aws_eks_node_group", lambda g: g.get("capacity_type") == capacity, f"{capacity} node groups")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print each estimate made in this run: the number people look for first."""
    for result in config.stash.get(_ESTIMATES, {}).values():
        for line in summary_lines(result):
            terminalreporter.write_line(line)
