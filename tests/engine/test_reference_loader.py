"""The reference architecture loads, and a malformed one is refused naming the key path, expected and found."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reference import DEFAULT_PATH, ReferenceError, load_architecture


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "architecture.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _reference() -> dict[str, object]:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    assert isinstance(data, dict)
    return data


def test_the_shipped_reference_loads_and_matches_the_seed() -> None:
    arch = load_architecture()
    assert arch.network.vpc_cidr == "10.0.0.0/16"
    assert set(arch.services) == {"frontend", "gateway", "catalog", "orders", "users"}
    assert arch.environments["dev"].nat_gateways == 1
    assert ("orders", "catalog") in arch.call_edges()


def test_wrong_type_names_key_path_and_found_value(tmp_path: Path) -> None:
    data = _reference()
    data["data_stores"]["postgresql"]["multi_az"] = "sometimes"  # type: ignore[index]
    with pytest.raises(ReferenceError) as excinfo:
        load_architecture(_write(tmp_path, data))
    message = str(excinfo.value)
    assert "data_stores.postgresql.multi_az" in message
    assert "'sometimes'" in message
    assert "architecture.yaml" in message


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    data = _reference()
    data["network"]["vpc_cdir"] = "10.0.0.0/16"  # type: ignore[index]
    with pytest.raises(ReferenceError, match=r"network\.vpc_cdir"):
        load_architecture(_write(tmp_path, data))


def test_call_to_unknown_service_is_refused(tmp_path: Path) -> None:
    data = _reference()
    data["services"]["gateway"]["calls"] = ["catalog", "payments"]  # type: ignore[index]
    with pytest.raises(ReferenceError, match=r"services\.gateway\.calls\[1\]"):
        load_architecture(_write(tmp_path, data))


def test_subnet_outside_the_vpc_is_refused(tmp_path: Path) -> None:
    data = _reference()
    data["network"]["tiers"]["data"][0] = "10.9.20.0/24"  # type: ignore[index]
    with pytest.raises(ReferenceError, match="outside the VPC"):
        load_architecture(_write(tmp_path, data))


def test_overlapping_subnets_are_refused(tmp_path: Path) -> None:
    # An endpoint subnet inside an app subnet would put the pods back into the AWS API egress rules.
    data = _reference()
    data["network"]["tiers"]["endpoint"][1] = "10.0.11.32/27"  # type: ignore[index]
    with pytest.raises(
        ReferenceError, match=r"subnet 10\.0\.11\.32/27 of tier endpoint overlaps 10\.0\.11\.0/24 of tier app"
    ):
        load_architecture(_write(tmp_path, data))


def test_a_tier_without_an_internet_route_is_refused(tmp_path: Path) -> None:
    data = _reference()
    del data["network"]["internet_route"]["endpoint"]  # type: ignore[attr-defined]
    with pytest.raises(ReferenceError, match=r"internet_route names no route for the tiers \['endpoint'\]"):
        load_architecture(_write(tmp_path, data))


def test_the_endpoint_subnets_are_small_and_apart_from_the_pods() -> None:
    network = load_architecture().network
    assert network.tiers["endpoint"] == ["10.0.30.0/27", "10.0.30.32/27", "10.0.30.64/27"]
    assert network.internet_route["endpoint"] == "none"


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ReferenceError, match="file not found"):
        load_architecture(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [\n")
    with pytest.raises(ReferenceError, match="not valid YAML"):
        load_architecture(bad)
