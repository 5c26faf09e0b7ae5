"""The cost model: plan facts x prices.yaml, Infracost-shaped output, nothing cost-bearing left unpriced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cost import FREE_TYPES, PRICERS, estimate, load_prices, to_infracost, write_estimate
from conformance.facts import Facts, Ref, Resource


def _facts(*resources: Resource) -> Facts:
    return Facts("static", "dev", list(resources))


def _resource(type_: str, address: str, **values: Any) -> Resource:
    return Resource(type_, address, values)


def test_every_price_names_its_source_and_date() -> None:
    table = load_prices()
    for key, entry in table.data["prices"].items():
        assert str(entry.get("source", "")).startswith("https://aws.amazon.com/"), key
        assert entry.get("as_of"), key
    assert table.data["region"] == "us-east-1"


def test_free_and_priced_types_do_not_overlap() -> None:
    assert not set(PRICERS) & FREE_TYPES


def test_multi_az_database_costs_twice_single_az() -> None:
    single = _resource("aws_db_instance", "db.a", instance_class="db.t3.medium", multi_az=False, allocated_storage=50)
    multi = _resource("aws_db_instance", "db.b", instance_class="db.t3.medium", multi_az=True, allocated_storage=50)
    costs = {r.name: r.monthly_cost(730) for r in estimate(_facts(single, multi)).resources}
    assert costs["db.b"] == pytest.approx(2 * costs["db.a"])
    assert costs["db.a"] == pytest.approx(0.072 * 730 + 50 * 0.115)


def test_node_group_prices_desired_nodes_spot_at_the_stated_ratio_and_their_volumes() -> None:
    template = _resource(
        "aws_launch_template", "lt", id=Ref("lt", "id"), block_device_mappings=[{"ebs": [{"volume_size": 50}]}]
    )
    group = _resource(
        "aws_eks_node_group",
        "ng",
        capacity_type="SPOT",
        instance_types=["t3.medium"],
        scaling_config=[{"desired_size": 2}],
        launch_template=[{"id": Ref("lt", "id")}],
    )
    (cost,) = [r for r in estimate(_facts(template, group)).resources if r.name == "ng"]
    assert cost.monthly_cost(730) == pytest.approx(2 * 0.0416 * 0.30 * 730 + 2 * 50 * 0.08)


def test_redis_cluster_mode_prices_every_node() -> None:
    group = _resource(
        "aws_elasticache_replication_group",
        "redis",
        node_type="cache.t3.medium",
        num_node_groups=3,
        replicas_per_node_group=1,
    )
    (cost,) = [r for r in estimate(_facts(group)).resources if r.name == "redis"]
    assert cost.monthly_cost(730) == pytest.approx(6 * 0.068 * 730)


def test_unknown_types_and_instance_classes_are_reported_not_dropped() -> None:
    result = estimate(
        _facts(
            _resource("aws_db_instance", "db", instance_class="db.x9.huge", multi_az=False),
            _resource("aws_opensearch_domain", "search"),
            _resource("aws_vpc", "vpc"),
        )
    )
    assert dict(result.unpriced) == {
        "db": "no rds_postgres price for instance type 'db.x9.huge' in prices.yaml",
        "search": "no pricer for resource type aws_opensearch_domain",
    }


def test_output_has_the_infracost_shape(tmp_path: Path) -> None:
    result = estimate(_facts(_resource("aws_eks_cluster", "module.eks.aws_eks_cluster.this")))
    path = write_estimate(result, tmp_path)
    data = json.loads(path.read_text())
    assert path.name == "cost-estimate-dev.json"
    project = data["projects"][0]
    assert data["totalMonthlyCost"] == project["breakdown"]["totalMonthlyCost"] == f"{result.total:.2f}"
    cluster = next(r for r in project["breakdown"]["resources"] if r["name"] == "module.eks.aws_eks_cluster.this")
    assert cluster["monthlyCost"] == "73.00"
    assert cluster["costComponents"][0] == {
        "name": "EKS cluster",
        "unit": "hours",
        "hourlyQuantity": "1",
        "monthlyQuantity": "730",
        "price": "0.1",
        "monthlyCost": "73.00",
    }
    # Usage the plan cannot see is shown, labelled, never hidden in a resource's price.
    assert {r["name"] for r in project["breakdown"]["resources"]} >= {"usage.alb", "usage.data_transfer_out"}
    assert to_infracost(result)["currency"] == "USD"
