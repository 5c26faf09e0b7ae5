"""Plan facts: unknown values are traced to the resources they refer to, through modules, for_each and count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.facts import Facts, Ref
from conformance.outcomes import CheckError
from conformance.plan import load_plan, plan_resources, validate_plan

FIXTURE = Path(__file__).parent.parent / "fixtures" / "plans" / "terraform-data-references.json"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return Facts("static", "dev", plan_resources(load_plan(FIXTURE)))


def _by_address(facts: Facts, address: str) -> dict[str, object]:
    return dict(next(r for r in facts if r.address == address).values)


def test_each_key_reference_picks_the_same_key_instance(facts: Facts) -> None:
    assoc = _by_address(facts, 'module.net.terraform_data.assoc["b"]')
    assert assoc["input"] == {"static": "x", "subnet_id": Ref('module.net.terraform_data.subnet["b"]', "id")}


def test_each_value_of_a_resource_for_each_is_that_instance(facts: Facts) -> None:
    assert _by_address(facts, 'module.net.terraform_data.per_subnet["a"]')["input"] == Ref(
        'module.net.terraform_data.subnet["a"]', "id"
    )


def test_explicit_index_and_attribute(facts: Facts) -> None:
    assert _by_address(facts, "module.net.terraform_data.counted[1]")["input"] == Ref(
        'module.net.terraform_data.subnet["a"]', "id"
    )


def test_module_output_list_is_traced_element_by_element(facts: Facts) -> None:
    consumer = _by_address(facts, "terraform_data.consumer")
    assert consumer["input"]["subnets"] == [  # type: ignore[index]
        Ref('module.net.terraform_data.subnet["a"]', "id"),
        Ref('module.net.terraform_data.subnet["b"]', "id"),
    ]


def test_own_computed_id_is_a_reference_to_itself_and_resolves(facts: Facts) -> None:
    subnet = next(r for r in facts if r.address == 'module.net.terraform_data.subnet["a"]')
    assert subnet.id == Ref(subnet.address, "id")
    assoc = _by_address(facts, 'module.net.terraform_data.assoc["a"]')
    assert facts.resolve(assoc["input"]["subnet_id"]) is subnet  # type: ignore[index]


def test_unsupported_format_version_is_refused_with_both_versions(tmp_path: Path) -> None:
    plan = json.loads(FIXTURE.read_text())
    plan["format_version"] = "2.0"
    with pytest.raises(CheckError, match=r"format_version expected 1\.x .* found 2\.0"):
        validate_plan(plan, "plan.json")


def test_a_state_file_is_not_taken_for_a_plan() -> None:
    with pytest.raises(CheckError, match="found a state file"):
        validate_plan({"format_version": "1.0", "values": {}}, "state.json")


def test_not_json_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{\n  oops")
    with pytest.raises(CheckError, match=r"plan.json: not JSON .* line 2"):
        load_plan(bad)
