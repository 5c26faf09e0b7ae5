"""The workload requirements turn red on their bad manifests and stay green on the good ones and on the overlays.

Every scenario of the Kubernetes features runs through the suite's own step definitions (tests/engine/bdd_runner.py)
against the rendered dev overlay in which the objects of one fixture file replace the overlay's objects of the same
address (or join them). Each fixture names on its second line the requirement(s) it proves:
``tests/fixtures/kubernetes/{good,bad}`` (the colleague's pairs) and ``tests/fixtures/kubernetes/requirements``
(one pair per remaining requirement). Cross-artifact requirements get hand-built Terraform facts shaped as
``conformance.plan`` produces them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.manifests import load_documents, object_address, render_overlay, to_resources
from conformance.outcomes import Outcome
from conformance.views.iam import PolicyNotReadable, policy_statements, role_name_from_arn
from conformance.views.kubernetes import allowed_disruptions, scaled_value, selector_matches
from reference import Architecture, load_architecture
from tests.engine import bdd_runner

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "kubernetes"
FIXTURE_DIRS = [FIXTURES, FIXTURES / "requirements"]
KUBERNETES_FEATURES = [
    "pod-security.feature",
    "workloads.feature",
    "network-policy.feature",
    "autoscaling.feature",
    "observability.feature",
    "workload-identity.feature",
]
SERVICES = ("frontend", "gateway", "catalog", "orders", "users")
OIDC_REF = Ref("module.eks.aws_iam_openid_connect_provider.this", "arn")
ADDONS = {  # docs/conventions.md: add-on -> namespace/service account
    "fluent-bit": "amazon-cloudwatch:fluent-bit",
    "cluster-autoscaler": "kube-system:cluster-autoscaler",
    "xray": "kube-system:xray-daemon",
}
# Requirements whose bad case is Terraform-side, proved with hand-built plan facts below rather than a manifest.
TERRAFORM_BAD_CASES = {"REQ-HPA-007"}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


# ------------------------------------------------------------------------------------------------ facts


@pytest.fixture(scope="module")
def architecture() -> Architecture:
    return load_architecture(REPO / "reference" / "architecture.yaml")


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render_overlay(REPO / "infra" / "kubernetes" / "overlays" / "dev")


@pytest.fixture(scope="module")
def scenarios() -> dict[str, bdd_runner.Scenario]:
    return bdd_runner.scenarios(KUBERNETES_FEATURES)


OIDC_PROVIDER = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"


def _trust_document(subject: str, test: str = "StringEquals", audience: str = "sts.amazonaws.com") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {
                    "Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
                },
                "Condition": {
                    test: {
                        "oidc.eks.us-east-1.amazonaws.com/id/X:sub": subject,
                        "oidc.eks.us-east-1.amazonaws.com/id/X:aud": audience,
                    }
                },
            }
        ],
    }


def terraform(
    environment: str = "dev",
    trust: Mapping[str, Any] | None = None,
    node_group_tags: Mapping[str, str] | None = None,
) -> list[Resource]:
    """IRSA roles and node groups as the plan shows them: most trusts are a Ref to a policy-document data source
    whose condition variables are unknown (they embed the OIDC issuer); ``trust`` overrides a role's policy value."""
    cluster = f"eks-ecommerce-{environment}"
    subjects = {f"{cluster}-irsa-{s}": f"ecommerce:{s}" for s in SERVICES}
    subjects |= {f"{cluster}-addon-{a}": sa for a, sa in ADDONS.items()}
    subjects[f"{cluster}-irsa-schema-migrate"] = "ecommerce:schema-migrate"  # the migration Jobs (REQ-IRSA-103)
    resources = []
    for role, subject in subjects.items():
        document = f'module.iam.data.aws_iam_policy_document.trust["{role}"]'
        statement = {
            "actions": ["sts:AssumeRoleWithWebIdentity"],
            "effect": "Allow",
            "principals": [
                {"type": "Federated", "identifiers": [Ref("module.eks.aws_iam_openid_connect_provider.this", "arn")]}
            ],
            "condition": [
                {
                    "test": "StringEquals",
                    "variable": Unknown(document, "statement.0.condition.0.variable"),
                    "values": ["sts.amazonaws.com"],
                },
                {
                    "test": "StringEquals",
                    "variable": Unknown(document, "statement.0.condition.1.variable"),
                    "values": [f"system:serviceaccount:{subject}"],
                },
            ],
        }
        resources.append(Resource("data.aws_iam_policy_document", document, {"statement": [statement]}))
        policy: Any = (trust or {}).get(role, Ref(document, "json"))
        resources.append(
            Resource(
                "aws_iam_role", f'module.iam.aws_iam_role.this["{role}"]', {"name": role, "assume_role_policy": policy}
            )
        )
    tags = {"k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{cluster}": "owned"}
    for group in ("general", "compute", "spot"):
        resources.append(
            Resource(
                "aws_eks_node_group",
                f'module.eks.aws_eks_node_group.this["{group}"]',
                {"cluster_name": cluster, "tags": dict(tags if node_group_tags is None else node_group_tags)},
            )
        )
    return resources


def facts_with(
    overlay: Iterable[Mapping[str, Any]],
    replacements: Iterable[Mapping[str, Any]] = (),
    infra: list[Resource] | None = None,
) -> Facts:
    """The overlay's objects with ``replacements`` substituted by address (or added), plus Terraform facts.

    The unchanged overlay is green on every scenario (test_every_scenario_is_green_on_the_dev_overlay), so a
    scenario that turns red here does so because of the substituted objects.
    """
    replaced = {object_address(o): o for o in replacements}
    objects = [replaced.pop(object_address(o), o) for o in overlay] + list(replaced.values())
    facts = Facts(target="static", environment="dev", sources={"kubernetes", "terraform"})
    facts.add(to_resources(objects))
    facts.add(terraform() if infra is None else infra)
    return facts


# ------------------------------------------------------------------------------------------------ fixture pairs


def _pairs() -> list[tuple[str, Path, Path]]:
    return [
        (f"{base.name}/{bad.stem}", base / "good" / bad.name, bad)
        for base in FIXTURE_DIRS
        for bad in sorted((base / "bad").glob("*.yaml"))
    ]


def _requirements(path: Path) -> list[str]:
    match = re.match(r"^# requirement: (.+)$", path.read_text().splitlines()[1])
    assert match, f"{path}: second line must be '# requirement: REQ-...'"
    return [r.strip() for r in match[1].split(",")]


@pytest.mark.parametrize(("name", "good", "bad"), _pairs(), ids=[p[0] for p in _pairs()])
def test_fixture_pair_turns_its_requirement_red_and_back_green(
    name: str, good: Path, bad: Path, overlay: list[dict[str, Any]], architecture: Architecture, scenarios: Any
) -> None:
    assert _requirements(good) == _requirements(bad)
    bad_objects = load_documents(bad.read_text(), str(bad))
    for requirement in _requirements(bad):
        scenario = scenarios[requirement]
        red = bdd_runner.run(scenario, facts_with(overlay, bad_objects), architecture)
        assert red.outcome is Outcome.FAIL, f"{name}: {requirement} is {red.outcome} on the bad file {red.message}"
        green = bdd_runner.run(scenario, facts_with(overlay, load_documents(good.read_text(), str(good))), architecture)
        assert green.outcome is Outcome.PASS, f"{name}: {requirement} on the good file: {green.message}"


def test_every_workload_requirement_has_a_bad_case(scenarios: dict[str, bdd_runner.Scenario]) -> None:
    covered = {r for _name, _good, bad in _pairs() for r in _requirements(bad)} | TERRAFORM_BAD_CASES
    assert set(scenarios) - covered == set()


def test_new_fixtures_are_schema_valid_at_the_reference_version() -> None:
    from tests.test_kubernetes_manifests_render import schema_errors

    for path in sorted((FIXTURES / "requirements").glob("*/*.yaml")):
        assert schema_errors(load_documents(path.read_text(), str(path))) == [], path


# ------------------------------------------------------------------------------------------------ whole overlays


def test_every_scenario_is_green_on_the_dev_overlay(
    overlay: list[dict[str, Any]], architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    facts = facts_with(overlay)
    results = {r: bdd_runner.run(s, facts, architecture) for r, s in scenarios.items()}
    assert {r: res.message for r, res in results.items() if res.outcome is not Outcome.PASS} == {}
    assert len(results) >= 35


def test_scenarios_are_not_observable_without_manifests(
    architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    facts = Facts(target="static", environment="dev", unavailable={"kubernetes": "kubectl not found"})
    assert {bdd_runner.run(s, facts, architecture).outcome for s in scenarios.values()} == {Outcome.NOT_OBSERVABLE}


def test_a_selection_that_matches_nothing_fails(
    architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    empty = Facts(target="static", environment="dev", sources={"kubernetes", "terraform"})
    for requirement in ("REQ-POD-003", "REQ-WKL-001", "REQ-NETPOL-002", "REQ-HPA-001", "REQ-OBS-004"):
        assert bdd_runner.run(scenarios[requirement], empty, architecture).outcome is Outcome.FAIL, requirement


# ------------------------------------------------------------------------------------------------ cross-artifact


def test_node_groups_without_discovery_tags_fail(
    overlay: list[dict[str, Any]], architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    untagged = facts_with(overlay, infra=terraform(node_group_tags={"Name": "x"}))
    result = bdd_runner.run(scenarios["REQ-HPA-007"], untagged, architecture)
    assert result.outcome is Outcome.FAIL
    assert result.message.count("aws_eks_node_group") == 6  # 3 groups x 2 tags, every offender reported


def test_node_group_tags_need_the_infrastructure(
    overlay: list[dict[str, Any]], architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    facts = Facts(target="kind", environment="dev", sources={"kubernetes"})
    facts.add(to_resources(overlay))
    for requirement in ("REQ-HPA-007", "REQ-IRSA-101", "REQ-IRSA-102"):
        assert bdd_runner.run(scenarios[requirement], facts, architecture).outcome is Outcome.NOT_OBSERVABLE


@pytest.mark.parametrize(
    ("trust", "found"),
    [
        (json.dumps(_trust_document("system:serviceaccount:ecommerce:catalog")), None),  # JSON string is fine
        (json.dumps(_trust_document("system:serviceaccount:ecommerce:*", test="StringLike")), "StringLike"),
        (json.dumps(_trust_document("system:serviceaccount:ecommerce:orders")), "ecommerce:orders"),
        (json.dumps(_trust_document("system:serviceaccount:ecommerce:catalog", audience="sts")), "aud"),
        ("not json", "readable trust policy"),
    ],
    ids=["json-ok", "wildcard", "other-account", "wrong-audience", "unreadable"],
)
def test_service_role_trust(
    trust: str,
    found: str | None,
    overlay: list[dict[str, Any]],
    architecture: Architecture,
    scenarios: dict[str, bdd_runner.Scenario],
) -> None:
    infra = terraform(trust={"eks-ecommerce-dev-irsa-catalog": trust})
    result = bdd_runner.run(scenarios["REQ-IRSA-101"], facts_with(overlay, infra=infra), architecture)
    if found is None:
        assert result.outcome is Outcome.PASS, result.message
    else:
        assert result.outcome is Outcome.FAIL
        assert "irsa-catalog" in result.message
        assert found in result.message


def test_missing_terraform_role_fails(
    overlay: list[dict[str, Any]], architecture: Architecture, scenarios: dict[str, bdd_runner.Scenario]
) -> None:
    infra = [r for r in terraform() if r.get("name") != "eks-ecommerce-dev-irsa-users"]
    result = bdd_runner.run(scenarios["REQ-IRSA-101"], facts_with(overlay, infra=infra), architecture)
    assert result.outcome is Outcome.FAIL
    assert "ServiceAccount/ecommerce/users" in result.message


# ------------------------------------------------------------------------------------------------ views


def test_policy_statements_read_json_urlencoded_mapping_and_data_sources() -> None:
    document = _trust_document("system:serviceaccount:ecommerce:orders")
    facts = Facts(target="static", environment="dev")
    facts.add(terraform())
    from_json = policy_statements(facts, json.dumps(document))
    from_url = policy_statements(facts, "%7B" + json.dumps(document)[1:].replace("{", "%7B").replace("}", "%7D"))
    from_map = policy_statements(facts, document)
    assert from_json == from_map
    assert from_url == from_json
    (statement,) = from_json
    assert statement.actions == ("sts:AssumeRoleWithWebIdentity",)
    assert {c.key: c.values for c in statement.conditions} == {
        "sub": ("system:serviceaccount:ecommerce:orders",),
        "aud": ("sts.amazonaws.com",),
    }
    ref = Ref('module.iam.data.aws_iam_policy_document.trust["eks-ecommerce-dev-irsa-orders"]', "json")
    (block,) = policy_statements(facts, ref)
    assert "Federated" in block.principals
    assert [c.key for c in block.conditions] == [None, None]  # the plan cannot know the issuer-based variable
    assert ("system:serviceaccount:ecommerce:orders",) in [c.values for c in block.conditions]


@pytest.mark.parametrize(
    "value",
    [Ref("data.aws_iam_policy_document.missing", "json"), Unknown("aws_iam_role.x", "assume_role_policy"), 42, "{}"],
)
def test_policy_statements_say_why_they_cannot_read(value: Any) -> None:
    with pytest.raises(PolicyNotReadable):
        policy_statements(Facts(target="static", environment="dev"), value)


def test_role_name_from_arn() -> None:
    assert role_name_from_arn("arn:aws:iam::111122223333:role/eks-ecommerce-dev-irsa-catalog") == (
        "eks-ecommerce-dev-irsa-catalog"
    )
    assert role_name_from_arn("arn:aws:iam::111122223333:role/path/to/name") == "name"
    assert role_name_from_arn("arn:aws:s3:::bucket") is None


def test_label_selectors_and_disruption_budgets() -> None:
    labels = {"app": "a", "tier": "web"}
    assert selector_matches({}, labels)
    assert not selector_matches(None, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels)
    assert scaled_value("50%", 3, round_up=True) == 2
    pdb = Resource("k8s/PodDisruptionBudget", "p", {"spec": {"minAvailable": "50%"}})
    assert allowed_disruptions(pdb, 3) == 1
    assert allowed_disruptions(Resource("k8s/PodDisruptionBudget", "p", {"spec": {"maxUnavailable": 1}}), 2) == 1
