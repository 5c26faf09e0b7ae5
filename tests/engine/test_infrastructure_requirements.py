"""Issue 3's infrastructure requirements: the seed maps onto scenarios, staging and prod are green, a refused
tfvars is an error naming its variable, and plan tracing narrows indexed module outputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import require_source
from conformance.facts import Facts, Ref
from conformance.outcomes import CheckError
from conformance.plan import plan_resources
from conformance.seed import coverage
from conformance.targets.base import RunContext
from conformance.targets.static import StaticTarget
from tests.engine.test_mutations import feature_requirements

ROOT = Path(__file__).resolve().parents[2]

# The seed-to-requirement table is data (conformance/seed_coverage.yaml) so that the report can render it.
SEED_TO_REQUIREMENTS = [(c.section, c.statement, c.requirements) for c in coverage()]
NOT_INFRASTRUCTURE = {c.statement: c.reason for c in coverage() if not c.requirements}


def test_every_seed_requirement_maps_to_existing_scenarios() -> None:
    known = feature_requirements()
    seed = (ROOT / "docs" / "seed.md").read_text(encoding="utf-8")
    for section, words, requirements in SEED_TO_REQUIREMENTS:
        key = words.split(":")[0].replace("Total ~$663/month", "**Total**")
        assert key.split(" (")[0] in seed, f"{section}: {words!r} is not in the seed"
        if not requirements:
            assert words in NOT_INFRASTRUCTURE, f"{section}: {words!r} maps to no scenario and no reason is given"
        missing = [r for r in requirements if r not in known]
        assert not missing, f"{section}: {words!r} maps to {missing}, which no feature declares"


def test_every_issue_3_requirement_is_reached_from_the_seed() -> None:
    mapped = {r for _, _, requirements in SEED_TO_REQUIREMENTS for r in requirements}
    ours = {r for r in feature_requirements() if re.match(r"REQ-(EKS|DATA|ENC|IRSA-0|SECRETS|NETSEC|AVAIL|COST)", r)}
    # Requirements that come from EKS Best Practices the seed implies rather than one seed sentence.
    implied = {"REQ-EKS-002", "REQ-EKS-003", "REQ-EKS-004", "REQ-EKS-007", "REQ-DATA-003", "REQ-ENC-003",
               "REQ-ENC-005", "REQ-ENC-006", "REQ-IRSA-002"}  # fmt: skip
    assert ours - mapped - implied == set()


def _index_plan() -> dict[str, Any]:
    def change(address: str, module: str, type_: str, name: str, index: Any, unknown: dict[str, Any]) -> dict[str, Any]:
        return {"address": address, "module_address": module, "mode": "managed", "type": type_, "name": name,
                "index": index, "change": {"actions": ["create"], "after": {}, "after_unknown": unknown}}  # fmt: skip

    keys = [change(f'module.kms.aws_kms_key.this["{k}"]', "module.kms", "aws_kms_key", "this", k, {"arn": True})
            for k in ("rds", "s3")]  # fmt: skip
    db = change("module.rds.aws_db_instance.this", "module.rds", "aws_db_instance", "this", None, {"kms_key_id": True})
    return {
        "format_version": "1.2",
        "resource_changes": [*keys, db],
        "configuration": {"root_module": {"module_calls": {
            "kms": {"module": {"outputs": {"key_arns": {"expression": {"references": ["aws_kms_key.this"]}}},
                               "resources": []}},
            "rds": {"expressions": {"kms_key_arn": {"references": ['module.kms.key_arns["rds"]', "module.kms.key_arns",
                                                                   "module.kms"]}},
                    "module": {"resources": [{"address": "aws_db_instance.this",
                                              "expressions": {"kms_key_id": {"references": ["var.kms_key_arn"]}}}]}},
        }}},
    }  # fmt: skip


def test_an_indexed_module_output_is_traced_to_that_instance_only() -> None:
    (db,) = [r for r in plan_resources(_index_plan()) if r.type == "aws_db_instance"]
    assert db.values["kms_key_id"] == Ref('module.kms.aws_kms_key.this["rds"]', "id")


def _run(env: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    command = [sys.executable, "-m", "pytest", str(ROOT / "steps"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
               f"--env={env}", f"--report-dir={tmp_path}", "-q"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    return result.stdout + result.stderr, json.loads((tmp_path / f"conformance-static-{env}.json").read_text())


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_meet_every_infrastructure_requirement(env: str, tmp_path: Path) -> None:
    output, report = _run(env, tmp_path)
    bad = {s["scenario"]: s["outcome"] for s in report["scenarios"] if s["outcome"] in ("fail", "error")}
    assert not bad, output[-4000:]
    ours = [
        s
        for s in report["scenarios"]
        if any(r.startswith(("REQ-EKS", "REQ-DATA", "REQ-COST")) for r in s["requirements"])
    ]
    assert ours
    assert all(s["outcome"] == "pass" for s in ours)
    assert (tmp_path / f"cost-estimate-{env}.json").is_file()
    assert f"estimated monthly cost of {env}" in output


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
def test_a_refused_tfvars_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    shutil.copytree(ROOT / "infra" / "terraform", tmp_path / "infra" / "terraform",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))  # fmt: skip
    tfvars = tmp_path / "infra" / "terraform" / "environments" / "dev" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace("node_group_min     = 2", "node_group_min     = 20"))
    target = StaticTarget(RunContext(environment="dev", project_root=tmp_path, work_dir=tmp_path / ".work"))
    target.prepare()
    facts: Facts = target.observe()
    assert "node_group_min" in facts.errors["terraform"]
    with pytest.raises(CheckError, match="node_group_min"):
        require_source(facts, "terraform")  # what the Background step does: the plugin reports it as ERROR
