"""checkov cross-check: findings mapped to requirements, waivers with reasons, zero unwaived failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.checkov import REQUIREMENT_OF, CheckovWaiver, evaluate, load_waivers
from tests.engine.test_mutations import feature_requirements

ROOT = Path(__file__).resolve().parents[2]
# Where scripts/checkov.sh keeps its virtualenv (outside the clone, shared by every clone on the machine).
_CACHE = Path(
    os.environ.get("EKS_SHOP_TOOLS") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "eks-shop"
)
VENV = Path(os.environ["CHECKOV_VENV"]) if os.environ.get("CHECKOV_VENV") else _CACHE / "checkov-venv"


def _checkov_json(folder: Path, name: str, failed: list[dict[str, object]], passed: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "check_type": "terraform",
        "results": {"passed_checks": [], "failed_checks": failed},
        "summary": {"checkov_version": "3.2.0", "passed": passed},
    }
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_waivers_apply_by_check_resource_and_folder(tmp_path: Path) -> None:
    failed: list[dict[str, object]] = [
        {
            "check_id": "CKV_AWS_260",
            "check_name": "port 80",
            "resource": 'module.sg.aws_x.alb_public["http"]',
            "file_path": "/m.tf",
            "file_line_range": [3, 9],
        },
        {
            "check_id": "CKV_AWS_17",
            "check_name": "public RDS",
            "resource": "module.rds.aws_db_instance.this",
            "file_path": "/r.tf",
            "file_line_range": [1, 2],
        },
    ]
    _checkov_json(tmp_path, "dev", failed)
    waivers = [CheckovWaiver("CKV_AWS_260", "module.sg.*alb_public*", "the ALB redirects 80 to 443")]
    report = evaluate(tmp_path, waivers)
    assert [f.check_id for f in report.findings] == ["CKV_AWS_17"]
    assert report.findings[0].requirement == "REQ-DATA-002"
    assert [(f.check_id, w.reason) for f, w in report.waived] == [("CKV_AWS_260", "the ALB redirects 80 to 443")]
    assert report.passed == 1


def test_every_waiver_has_a_reason_and_maps_to_a_requirement_that_exists() -> None:
    known = feature_requirements() | {"REQ-NET-006", "REQ-NET-004"}
    for waiver in load_waivers():
        assert len(waiver.reason) > 20, waiver
        requirement = REQUIREMENT_OF.get(waiver.check_id, "")
        assert requirement == "" or requirement in known, waiver
    assert set(REQUIREMENT_OF.values()) <= known | {""}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 to build checkov's virtualenv")
def test_checkov_finds_nothing_unwaived(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "checkov.sh"), "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode == 2 and not (VENV / "bin" / "checkov").exists():
        pytest.skip(f"checkov could not be installed (needs PyPI): {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "checkov-report.json").read_text())
    assert report["failed_unwaived"] == []
    assert report["passed"] > 0
