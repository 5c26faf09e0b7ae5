"""The EKS version calendar (reference/architecture.yaml eks.versions) and REQ-EKS-011: the cluster's Kubernetes
version is in EKS standard support on the day of the run and every managed node group runs the cluster's minor, the
cost model bills extended support once the cluster is not in standard support, and the manifests, Helm values and
fixtures that spell a Kubernetes version out (Pod Security Admission labels, the cluster-autoscaler image) spell the
reference's.

The run date is pinned through $CONFORMANCE_RUN_DATE, as the step documents, so these tests do not age.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cost import estimate
from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.outcomes import CheckError, Outcome, RequirementFailed
from conformance.plan import plan_resources
from reference import DEFAULT_PATH, Architecture, ReferenceError, load_architecture
from steps.infrastructure_eks import RUN_DATE_VARIABLE, run_date
from tests.engine import bdd_runner

CLUSTER = "module.eks.aws_eks_cluster.this"
CLUSTER_NAME = "eks-ecommerce-dev"
DAY = dt.date(2026, 11, 28)
ROOT = DEFAULT_PATH.parents[1]


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


def _group(name: str, version: Any) -> Resource:
    return Resource(
        "aws_eks_node_group",
        f'module.eks.aws_eks_node_group.this["{name}"]',
        {"cluster_name": CLUSTER_NAME, "node_group_name": name, "version": version},
    )


def _cluster_and_groups(cluster_version: Any, **group_versions: Any) -> Facts:
    """A plan's cluster (as Terraform names it) and its managed node groups, each at the version given."""
    cluster = Resource("aws_eks_cluster", CLUSTER, {"name": CLUSTER_NAME, "version": cluster_version})
    groups = [_group(name, version) for name, version in group_versions.items()]
    return Facts("static", "dev", [cluster, *groups], sources={"terraform"})


def _run(
    scenario: bdd_runner.Scenario, architecture: Architecture, version: Any, day: str, monkeypatch: pytest.MonkeyPatch
) -> bdd_runner.Result:
    monkeypatch.setenv(RUN_DATE_VARIABLE, day)
    # The node groups follow the cluster, as var.cluster_version makes them: only the cluster's version is at stake.
    facts = _cluster_and_groups(version, general=version, compute=version, spot=version)
    return bdd_runner.run(scenario, facts, architecture)


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


def _run_groups(
    scenario: bdd_runner.Scenario, architecture: Architecture, facts: Facts, monkeypatch: pytest.MonkeyPatch
) -> bdd_runner.Result:
    monkeypatch.setenv(RUN_DATE_VARIABLE, "2026-11-28")
    return bdd_runner.run(scenario, facts, architecture)


def test_req_eks_011_passes_when_every_node_group_runs_the_cluster_minor(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the Terraform plans: every group takes var.cluster_version ("1.35"); a live group may report a patch.
    facts = _cluster_and_groups("1.35", general="1.35", compute="1.35", spot="1.35.2")
    result = _run_groups(req_eks_011, architecture, facts, monkeypatch)
    assert result.outcome is Outcome.PASS, result.message
    # A plan whose cluster version is only known after apply ties the group to it through a reference.
    tied = _cluster_and_groups("1.35", general=Ref(CLUSTER, "version"))
    assert _run_groups(req_eks_011, architecture, tied, monkeypatch).outcome is Outcome.PASS


def test_req_eks_011_fails_on_a_node_group_one_minor_behind_naming_it(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bad case: compute pinned to 1.34. 1.34 is still in EKS standard support on 2026-11-28 and inside the
    # kubelet skew Kubernetes tolerates, so only the node-group step can see it.
    facts = _cluster_and_groups("1.35", general="1.35", compute="1.34", spot="1.35")
    result = _run_groups(req_eks_011, architecture, facts, monkeypatch)
    assert result.outcome is Outcome.FAIL
    assert isinstance(result.error, RequirementFailed)
    ((violation),) = result.error.violations
    assert violation.address == 'module.eks.aws_eks_node_group.this["compute"]'
    assert violation.field == "version"
    assert violation.found == "1.34"
    assert violation.expected == f"1.35 (the minor of {CLUSTER})"
    assert "does not run its cluster's Kubernetes minor version" in result.message
    assert 'module.eks.aws_eks_node_group.this["compute"]: version expected' in result.message
    assert "'1.35 (the minor of module.eks.aws_eks_cluster.this)', found '1.34'" in result.message


def _plan_change(address: str, type_: str, after: dict[str, Any], unknown: dict[str, Any]) -> dict[str, Any]:
    index = address.split('["')[1].rstrip('"]') if "[" in address else None
    return {"address": address, "module_address": "module.eks", "mode": "managed", "type": type_, "name": "this",
            "index": index, "change": {"actions": ["create"], "after": after, "after_unknown": unknown}}  # fmt: skip


def test_req_eks_011_fails_on_a_planned_node_group_pinned_to_an_older_version(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same bad case through the plan reader, as `terraform show -json` writes it: modules/eks with compute's
    # version pinned to "1.34" instead of var.cluster_version, and spot's version left out (computed at apply).
    def group(name: str, version: str | None) -> dict[str, Any]:
        after = {"cluster_name": CLUSTER_NAME, "node_group_name": name} | ({"version": version} if version else {})
        unknown = {} if version else {"version": True}
        return _plan_change(f'module.eks.aws_eks_node_group.this["{name}"]', "aws_eks_node_group", after, unknown)

    plan = {
        "format_version": "1.2",
        "resource_changes": [
            _plan_change(CLUSTER, "aws_eks_cluster", {"name": CLUSTER_NAME, "version": "1.35"}, {}),
            group("general", "1.35"),
            group("compute", "1.34"),
            group("spot", None),
        ],
    }
    facts = Facts("static", "dev", plan_resources(plan), sources={"terraform"})
    result = _run_groups(req_eks_011, architecture, facts, monkeypatch)
    assert result.outcome is Outcome.FAIL
    assert isinstance(result.error, RequirementFailed)
    by_group = {v.address: v for v in result.error.violations}
    assert by_group.keys() == {
        'module.eks.aws_eks_node_group.this["compute"]',
        'module.eks.aws_eks_node_group.this["spot"]',
    }
    compute = by_group['module.eks.aws_eks_node_group.this["compute"]']
    assert (compute.field, compute.expected, compute.found) == ("version", f"1.35 (the minor of {CLUSTER})", "1.34")
    assert "set version = var.cluster_version" in str(by_group['module.eks.aws_eks_node_group.this["spot"]'].found)


def test_req_eks_011_reports_every_node_group_off_the_cluster_minor(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newer group is as wrong as an older one (EKS refuses a kubelet newer than the API server); a group whose
    # version is unknown at plan time would stay behind at the next upgrade; every offender is listed.
    unknown = Unknown('module.eks.aws_eks_node_group.this["spot"]', "version")
    facts = _cluster_and_groups("1.35", general="1.36", compute="1.29", spot=unknown)
    result = _run_groups(req_eks_011, architecture, facts, monkeypatch)
    assert result.outcome is Outcome.FAIL
    assert isinstance(result.error, RequirementFailed)
    found = {v.address.split('"')[1]: str(v.found) for v in result.error.violations}
    assert found.keys() == {"general", "compute", "spot"}
    assert found["general"] == "1.36"
    assert found["compute"] == "1.29"
    assert "set version = var.cluster_version" in found["spot"]


def test_req_eks_011_fails_on_a_node_group_of_no_known_cluster(
    req_eks_011: bdd_runner.Scenario, architecture: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = _cluster_and_groups("1.35", general="1.35")
    stray = Resource(
        "aws_eks_node_group", "aws_eks_node_group.stray", {"cluster_name": "eks-ecommerce-prod", "version": "1.35"}
    )
    facts = Facts("static", "dev", [*facts.resources, stray], sources={"terraform"})
    result = _run_groups(req_eks_011, architecture, facts, monkeypatch)
    assert result.outcome is Outcome.FAIL
    assert isinstance(result.error, RequirementFailed)
    ((violation),) = result.error.violations
    assert violation.address == "aws_eks_node_group.stray"
    assert "eks-ecommerce-prod" in str(violation.found)


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


# -------------------------------------------------------------------------------------------- one version everywhere

# Where a Kubernetes version is necessarily spelled out rather than read from reference/architecture.yaml eks.version:
# Pod Security Admission labels pin the version of the standard, and the cluster-autoscaler's image minor must be the
# cluster's minor (the autoscaler supports only the Kubernetes minor it was built for). One kustomize base serves all
# three environments, so every environment's cluster_version must be that minor too.
MANIFESTS = ("infra/kubernetes", "infra/platform", "tests/fixtures/kubernetes", "tests/fixtures/kind")
PSA_VERSION = re.compile(r"pod-security\.kubernetes\.io/(?:enforce|audit|warn)-version\"?:\s*\"?(v[\w.]+)")
AUTOSCALER_IMAGE = re.compile(r"autoscaling/cluster-autoscaler:(v[\w.-]+)")
AUTOSCALER_HELM_TAG = re.compile(r"(?m)^  tag:\s*\"?(v[\w.-]+)")
TFVARS_VERSION = re.compile(r"(?m)^cluster_version\s*=\s*\"([^\"]+)\"")


def _pins_in(pattern: re.Pattern[str], path: Path) -> list[tuple[int, str]]:
    """(line, pinned version) for every match of the pattern (its group 1) in the file."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in pattern.finditer(text)]


def _pins(pattern: re.Pattern[str], paths: list[Path]) -> list[tuple[str, str]]:
    """(file:line, pinned version) over the files, the file relative to the repository."""
    return [(f"{path.relative_to(ROOT)}:{line}", pin) for path in paths for line, pin in _pins_in(pattern, path)]


def _files(*suffixes: str) -> list[Path]:
    return sorted(p for folder in MANIFESTS for p in (ROOT / folder).rglob("*") if p.suffix in suffixes)


def _minor_of(tag: str) -> str:
    match = re.fullmatch(r"v?(\d+\.\d+)(?:\.\d+)?(?:-[\w.]+)?", tag)
    return match.group(1) if match else tag


def test_pod_security_labels_pin_the_reference_version(architecture: Architecture) -> None:
    wanted = f"v{architecture.eks.version}"
    pins = _pins(PSA_VERSION, _files(".yaml", ".yml", ".json"))
    # The app namespace and amazon-cloudwatch (3 labels each), and the fixtures derived from them.
    assert len([where for where, _ in pins if where.startswith("infra/kubernetes/")]) >= 6, pins
    assert [f"{where}: {pin}" for where, pin in pins if pin != wanted] == [], f"expected {wanted} (eks.version)"


def test_the_cluster_autoscaler_runs_the_reference_minor(architecture: Architecture) -> None:
    wanted = architecture.eks.version
    images = _pins(AUTOSCALER_IMAGE, _files(".yaml", ".yml", ".json"))
    helm = _pins(AUTOSCALER_HELM_TAG, [ROOT / "infra" / "platform" / "cluster-autoscaler.yaml"])
    assert any(where.startswith("infra/kubernetes/platform/cluster-autoscaler/") for where, _ in images), images
    assert len(helm) == 1, helm
    off = [f"{where}: {tag}" for where, tag in images + helm if _minor_of(tag) != wanted]
    assert off == [], f"expected a cluster-autoscaler v{wanted}.x (eks.version)"


def test_every_environment_runs_the_reference_version(architecture: Architecture) -> None:
    tfvars = sorted((ROOT / "infra" / "terraform" / "environments").glob("*/terraform.tfvars"))
    pins = _pins(TFVARS_VERSION, tfvars)
    assert {where.split("/")[3] for where, _ in pins} == {"dev", "staging", "prod"}, pins
    assert [f"{where}: {pin}" for where, pin in pins if pin != architecture.eks.version] == []


@pytest.mark.parametrize(
    ("tag", "minor"),
    [("v1.35.0", "1.35"), ("v1.35.2", "1.35"), ("1.34", "1.34"), ("v1.36.0-rc.1", "1.36"), ("latest", "latest")],
)
def test_minor_of_an_image_tag(tag: str, minor: str) -> None:
    assert _minor_of(tag) == minor


def test_a_forgotten_pin_is_named(tmp_path: Path, architecture: Architecture) -> None:
    # The bad case of the guards above: a namespace left on v1.29 and an autoscaler left on v1.29.2 are both found.
    stale = tmp_path / "namespace.yaml"
    stale.write_text(
        "metadata:\n  labels:\n    pod-security.kubernetes.io/enforce-version: v1.29\n"
        "    pod-security.kubernetes.io/warn-version: v1.35\n"
        "---\nimage: registry.k8s.io/autoscaling/cluster-autoscaler:v1.29.2\n"
    )
    psa = [pin for _, pin in _pins_in(PSA_VERSION, stale)]
    assert psa == ["v1.29", "v1.35"]
    (image,) = [tag for _, tag in _pins_in(AUTOSCALER_IMAGE, stale)]
    assert _minor_of(image) == "1.29" != architecture.eks.version
