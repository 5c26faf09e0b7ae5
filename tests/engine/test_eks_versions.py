"""The EKS version calendar (reference/architecture.yaml eks.versions) and REQ-EKS-011: the cluster's Kubernetes
version is in EKS standard support on the day of the run, and the cost model bills extended support once it is not.

The run date is pinned through $CONFORMANCE_RUN_DATE, as the step documents, so these tests do not age.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cost import estimate
from conformance.facts import Facts, Resource
from conformance.outcomes import CheckError, Outcome, RequirementFailed
from reference import DEFAULT_PATH, Architecture, ReferenceError, load_architecture
from steps.infrastructure_eks import RUN_DATE_VARIABLE, run_date
from tests.engine import bdd_runner

CLUSTER = "module.eks.aws_eks_cluster.this"
DAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def architecture() -> Architecture:
    return load_architecture()


def _cluster_facts(version: Any) -> Facts:
    return Facts("static", "dev", [Resource("aws_eks_cluster", CLUSTER, {"version": version})], sources={"terraform"})


def _reference() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "architecture.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# ------------------------------------------------------------------------------------------------ the calendar


def test_the_reference_runs_a_listed_version_at_or_above_the_seed_floor(architecture: Architecture) -> None:
    eks = architecture.eks
    assert eks.min_version == "1.29"  # the seed's "Version: 1.29 (or latest stable)"
    assert eks.version == "1.35"
    assert {"1.29", "1.33", "1.34", "1.35"} <= set(eks.versions)


def test_good_1_35_is_in_standard_support_on_2026_11_28(architecture: Architecture) -> None:
    support = architecture.eks.support("1.35", DAY)
    assert support is not None
    assert support.phase == "standard"
    assert support.standard
    assert support.calendar.standard_support_until == dt.date(2027, 3, 27)


def test_bad_1_29_is_past_extended_support(architecture: Architecture) -> None:
    support = architecture.eks.support("1.29", DAY)
    assert support is not None
    assert support.phase == "ended"
    assert support.calendar.standard_support_until == dt.date(2025, 3, 23)
    assert support.calendar.extended_support_until == dt.date(2026, 3, 23)


def test_bad_1_34_is_in_extended_support_on_2026_12_10(architecture: Architecture) -> None:
    support = architecture.eks.support("1.34", dt.date(2026, 12, 10))
    assert support is not None
    assert support.phase == "extended"
    assert not support.standard


def test_a_support_date_is_the_last_day_of_that_support(architecture: Architecture) -> None:
    # AWS: a version enters extended support once it is *past* its end-of-standard-support date.
    eks = architecture.eks
    assert eks.support("1.34", dt.date(2026, 12, 2)).phase == "standard"  # type: ignore[union-attr]
    assert eks.support("1.34", dt.date(2026, 12, 3)).phase == "extended"  # type: ignore[union-attr]
    assert eks.support("1.34", dt.date(2027, 12, 3)).phase == "ended"  # type: ignore[union-attr]
    assert eks.support("1.35", dt.date(2026, 1, 27)).phase == "unreleased"  # type: ignore[union-attr]


def test_unknown_version_has_no_support_entry(architecture: Architecture) -> None:
    assert architecture.eks.support("1.36", DAY) is None
    assert architecture.eks.support("latest", DAY) is None


def test_disordered_dates_are_refused(tmp_path: Path) -> None:
    data = _reference()
    data["eks"]["versions"]["1.34"]["standard_support_until"] = dt.date(2028, 1, 1)
    with pytest.raises(ReferenceError, match=r"eks\.versions\.1\.34: need released < standard_support_until"):
        load_architecture(_write(tmp_path, data))


def test_release_dates_must_follow_the_minors(tmp_path: Path) -> None:
    data = _reference()
    data["eks"]["versions"]["1.33"]["released"] = dt.date(2025, 12, 1)
    message = r"versions\.1\.34 is released \(2025-10-06\) no later than versions\.1\.33"
    with pytest.raises(ReferenceError, match=message):
        load_architecture(_write(tmp_path, data))


def test_an_unquoted_minor_is_refused(tmp_path: Path) -> None:
    # YAML reads 1.30 unquoted as the number 1.3; the loader must not file it under another version.
    path = tmp_path / "architecture.yaml"
    path.write_text(DEFAULT_PATH.read_text().replace('"1.30": {released', "1.30: {released"))
    with pytest.raises(ReferenceError, match=r"eks\.versions: minors must be quoted strings"):
        load_architecture(path)


def test_the_chosen_version_must_be_in_the_calendar_and_above_the_floor(tmp_path: Path) -> None:
    data = _reference()
    data["eks"]["version"] = "1.36"
    with pytest.raises(ReferenceError, match=r"version 1\.36 is not in the calendar eks\.versions"):
        load_architecture(_write(tmp_path, data))
    data["eks"]["version"] = "1.35"
    data["eks"]["min_version"] = "1.36"
    with pytest.raises(ReferenceError, match=r"version 1\.35 is below min_version 1\.36"):
        load_architecture(_write(tmp_path, data))


# ------------------------------------------------------------------------------------------------ the run date


def test_run_date_is_today_unless_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_DATE_VARIABLE, raising=False)
    assert run_date() == dt.date.today()
    monkeypatch.setenv(RUN_DATE_VARIABLE, "2026-12-10")
    assert run_date() == dt.date(2026, 12, 10)
    monkeypatch.setenv(RUN_DATE_VARIABLE, "next tuesday")
    with pytest.raises(CheckError, match=RUN_DATE_VARIABLE):
        run_date()


# ------------------------------------------------------------------------------------------------ REQ-EKS-011


@pytest.fixture
def req_eks_011(monkeypatch: pytest.MonkeyPatch) -> bdd_runner.Scenario:
    # bdd_runner matches steps of the modules it is told about; the EKS vocabulary is its own module.
    monkeypatch.setattr(bdd_runner, "STEP_MODULES", bdd_runner.STEP_MODULES | {"steps.infrastructure_eks"})
    return bdd_runner.scenarios(["eks.feature"])["REQ-EKS-011"]


def _run(
    scenario: bdd_runner.Scenario, architecture: Architecture, version: Any, day: str, monkeypatch: pytest.MonkeyPatch
) -> bdd_runner.Result:
    monkeypatch.setenv(RUN_DATE_VARIABLE, day)
    return bdd_runner.run(scenario, _cluster_facts(version), architecture)


def _found(result: bdd_runner.Result) -> str:
    assert isinstance(result.error, RequirementFailed)
    ((violation),) = result.error.violations
    assert violation.address == CLUSTER
    assert violation.field == "version"
    return str(violation.found)


def test_req_eks_011_passes_on_1_35_on_2026_11_28(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(req_eks_011, architecture, "1.35", "2026-11-28", monkeypatch)
    assert result.outcome is Outcome.PASS, result.message


@pytest.mark.parametrize(
    ("version", "day", "found_says", "message_says"),
    [
        pytest.param(
            "1.29",
            "2026-11-28",
            ["standard support ended 2025-03-23", "extended support ended 2026-03-23"],
            "on 2026-11-28",
            id="1.29-past-both-end-dates",
        ),
        pytest.param(
            "1.34",
            "2026-12-10",
            [
                "standard support ended 2026-12-02",
                "in extended support until 2027-12-02",
                "$0.60 instead of $0.10 per cluster-hour",
            ],
            "",
            id="1.34-in-extended-support-naming-the-cost",
        ),
        pytest.param(
            "1.36",
            "2026-11-28",
            ["not in the version calendar reference/architecture.yaml eks.versions"],
            "",
            id="version-missing-from-the-calendar",
        ),
        pytest.param("1.35", "2025-12-01", ["not released on EKS until 2026-01-28"], "", id="not-yet-released"),
    ],
)
def test_req_eks_011_fails_naming_why(
    req_eks_011: bdd_runner.Scenario,
    architecture: Architecture,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    day: str,
    found_says: list[str],
    message_says: str,
) -> None:
    result = _run(req_eks_011, architecture, version, day, monkeypatch)
    assert result.outcome is Outcome.FAIL
    found = _found(result)
    for fragment in found_says:
        assert fragment in found
    assert message_says in result.message


def test_req_eks_011_is_an_error_on_a_malformed_run_date(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(req_eks_011, architecture, "1.35", "28/11/2026", monkeypatch)
    assert result.outcome is Outcome.ERROR


# ------------------------------------------------------------------------------------------------ the cost model


def _control_plane(architecture: Architecture | None, version: str, day: dt.date) -> tuple[str, float]:
    result = estimate(_cluster_facts(version), eks=architecture.eks if architecture else None, day=day)
    (cluster,) = [r for r in result.resources if r.name == CLUSTER]
    (component,) = cluster.components
    return component.name, cluster.monthly_cost(730)


def test_control_plane_costs_the_standard_price_in_standard_support(architecture: Architecture) -> None:
    name, cost = _control_plane(architecture, "1.35", DAY)
    assert name == "EKS cluster"
    assert cost == pytest.approx(0.10 * 730)


def test_control_plane_costs_the_extended_price_once_standard_support_ended(architecture: Architecture) -> None:
    name, cost = _control_plane(architecture, "1.34", dt.date(2026, 12, 10))
    assert name == "EKS cluster (extended support, Kubernetes 1.34)"
    assert cost == pytest.approx(0.60 * 730)
    # Past extended support EKS upgrades to the oldest extended version, still billed at the extended price.
    assert _control_plane(architecture, "1.29", DAY)[1] == pytest.approx(0.60 * 730)


def test_control_plane_without_a_calendar_or_in_an_unknown_version_costs_the_standard_price(
    architecture: Architecture,
) -> None:
    assert _control_plane(None, "1.29", DAY)[1] == pytest.approx(0.10 * 730)
    assert _control_plane(architecture, "1.36", DAY)[1] == pytest.approx(0.10 * 730)
