"""The pytest plugin end to end: outcomes, every offender reported, empty selections, waivers, reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.engine.synthetic import network_plan, write_plan

ROOT = Path(__file__).resolve().parents[2]


def run_suite(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, dict[str, Any]]:
    report_dir = tmp_path / "reports"
    command = [sys.executable, "-m", "pytest", str(ROOT / "steps"), f"--rootdir={ROOT}", "-p", "no:cacheprovider"]
    command += [f"--report-dir={report_dir}", "-q", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False)
    output = result.stdout + result.stderr
    run_files = list(report_dir.glob("conformance-static-*.json"))
    report = json.loads(run_files[0].read_text()) if run_files else {}
    return result.returncode, output, report


def test_users_own_plan_is_checked_and_missing_routes_are_caught(tmp_path: Path) -> None:
    # The synthetic plan has the reference layout but no route tables at all.
    code, output, report = run_suite(tmp_path, f"--plan={write_plan(tmp_path, network_plan())}")
    outcomes = {k: v for k, v in report["requirements"].items() if k.startswith("REQ-NET-")}
    assert outcomes == {f"REQ-NET-00{n}": "pass" for n in (1, 2, 3, 4, 5, 7)} | {"REQ-NET-006": "fail"}, output
    assert code == 1


def test_failure_lists_every_offending_resource(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, network_plan(nat_azs=["us-east-1a", "us-east-1b", "us-east-1c"]))
    code, output, report = run_suite(tmp_path, f"--plan={plan}", "--requirement=REQ-NET-005")
    assert code == 1
    (scenario,) = report["scenarios"]
    assert scenario["outcome"] == "fail"
    addresses = sorted(v["address"] for v in scenario["violations"])
    assert addresses == [
        f'module.vpc.aws_nat_gateway.this["{az}"]' for az in ("us-east-1a", "us-east-1b", "us-east-1c")
    ]
    assert all(v["expected"] == "1" and v["found"] == "3" for v in scenario["violations"])
    assert "Traceback" not in output


def test_a_selection_matching_nothing_fails(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, network_plan(tiers={"public": 1, "app": 10}))  # no database tier at all
    _code, _output, report = run_suite(tmp_path, f"--plan={plan}", "--requirement=REQ-NET-004")
    (scenario,) = report["scenarios"]
    assert scenario["outcome"] == "fail"
    assert "matched no resource" in scenario["message"]


def _waiver_file(tmp_path: Path, expires: dt.date) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "waivers:\n"
        "  - requirement: REQ-NET-005\n"
        '    resource: module.vpc.aws_nat_gateway.this["*"]\n'
        "    reason: one NAT per AZ while the dev team load-tests egress\n"
        f"    expires: {expires.isoformat()}\n"
    )
    return path


def test_a_live_waiver_covers_the_violations(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, network_plan(nat_azs=["us-east-1a", "us-east-1b", "us-east-1c"]))
    waivers = _waiver_file(tmp_path, dt.date.today() + dt.timedelta(days=30))
    code, output, report = run_suite(tmp_path, f"--plan={plan}", f"--waivers={waivers}", "--requirement=REQ-NET-005")
    assert code == 0, output
    (scenario,) = report["scenarios"]
    assert scenario["outcome"] == "waived"
    assert len(scenario["waived"]) == 3
    assert "Waived violations" in (tmp_path / "reports" / "conformance-report.md").read_text()


def test_an_expired_waiver_no_longer_applies_and_fails_the_run(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, network_plan())
    waivers = _waiver_file(tmp_path, dt.date.today() - dt.timedelta(days=1))
    code, output, report = run_suite(tmp_path, f"--plan={plan}", f"--waivers={waivers}", "--requirement=REQ-NET-005")
    assert code == 1
    assert "EXPIRED WAIVER" in output
    assert report["expired_waivers"][0]["requirement"] == "REQ-NET-005"


def test_a_malformed_waiver_file_is_a_usage_error_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers:\n  - requirement: REQ-NET-005\n    resource: x\n    reason: r\n    expires: soon\n")
    code, output, _ = run_suite(tmp_path, f"--waivers={bad}")
    assert code == 4  # pytest's usage error
    assert "waivers[0].expires: expected a date YYYY-MM-DD, found 'soon'" in output
    assert "Traceback" not in output


def test_a_malformed_reference_is_a_usage_error_with_the_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "architecture.yaml"
    bad.write_text(
        (ROOT / "reference" / "architecture.yaml").read_text().replace("vpc_cidr: 10.0.0.0/16", "vpc_cidr: ten")
    )
    code, output, _ = run_suite(tmp_path, f"--reference={bad}")
    assert code == 4
    assert "network.vpc_cidr" in output
    assert "Traceback" not in output


def test_without_terraform_requirements_are_not_observable_with_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/usr/bin:/bin")  # kubectl lives in /usr/bin, terraform in /usr/local/bin
    command = [sys.executable, "-m", "conformance.cli", "conformance", "run", f"--report-dir={tmp_path}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("terraform not found on PATH") == 1, output
    assert "Traceback" not in output
    report = json.loads((tmp_path / "conformance-static-dev.json").read_text())
    network = {k: v for k, v in report["requirements"].items() if k.startswith("REQ-NET-")}
    assert network
    assert set(network.values()) == {"not observable"}
