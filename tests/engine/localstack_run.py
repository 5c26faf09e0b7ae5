"""Run the infrastructure scenarios against real LocalStack (community), started by ``scripts/localstack.sh``.

What LocalStack community serves (VPC/EC2, IAM, KMS, Secrets Manager, CloudWatch Logs, S3...) is applied and read
back; what it cannot create (EKS, RDS, ElastiCache, DocumentDB and everything depending on them) must come out as
"not observable", never as a pass or a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.facts import Facts
from conformance.outcomes import Outcome
from conformance.targets.localstack import LocalStackTarget
from reference import load_architecture
from services.runner.procs import free_port
from tests.engine import bdd_runner
from tests.engine.live_env import PROJECT_ROOT, context, private_work_dir

INFRASTRUCTURE_GIVEN = "the infrastructure of the environment"
SCRIPT = PROJECT_ROOT / "scripts" / "localstack.sh"


def _register_all_step_modules() -> None:
    """bdd_runner matches steps of the modules it knows; the suite's vocabularies are those conftest.py loads."""
    import importlib.util

    # Loaded by path: under pytest-xdist another folder's conftest may already be the module called "conftest".
    spec = importlib.util.spec_from_file_location("_eks_shop_root_conftest", PROJECT_ROOT / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    for name in root_conftest.pytest_plugins:
        importlib.import_module(name)
        bdd_runner.STEP_MODULES.add(name)


def infrastructure_scenarios() -> dict[str, bdd_runner.Scenario]:
    """Scenarios that read only infrastructure facts (not the Kubernetes manifests, not the running services)."""
    _register_all_step_modules()
    names = sorted(p.name for p in bdd_runner.FEATURES.glob("*.feature"))
    found = {}
    for requirement, scenario in bdd_runner.scenarios(names).items():
        texts = [step.name for step in scenario.template.render({}).steps]
        if any(INFRASTRUCTURE_GIVEN in t for t in texts) and not any("Kubernetes" in t for t in texts):
            found[requirement] = scenario
    return found


def verdicts(facts: Facts, architecture: Any) -> dict[str, tuple[Outcome, str]]:
    """requirement -> (outcome, message). Scenarios whose steps need pytest's own fixtures (``request``: the cost
    estimate writes a report) cannot run in-process and are left out; the suite itself runs them on both targets."""
    out = {}
    for requirement, scenario in infrastructure_scenarios().items():
        try:
            result = bdd_runner.run(scenario, facts, architecture)
        except KeyError:
            continue
        out[requirement] = (result.outcome, result.message)
    return out


@dataclass
class SubsetResults:
    engine: str
    passed: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    not_observable: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run_localstack_subset(_tmp: Path) -> SubsetResults:
    import time

    port = free_port()
    started = time.monotonic()
    subprocess.run(["bash", str(SCRIPT), "start", str(port)], check=True, timeout=180, capture_output=True)
    work = private_work_dir()
    try:
        # keep=True: LocalStack's state goes away with it (stopped below); no destroy round-trip needed.
        target = LocalStackTarget(context(work, f"http://127.0.0.1:{port}", keep=True))
        target.prepare()
        facts = target.observe()
        results = SubsetResults(engine=target.engine)
        if "aws" in facts.errors:
            results.errors["<apply>"] = facts.errors["aws"]
            return results
        buckets = {
            Outcome.PASS: results.passed,
            Outcome.FAIL: results.failed,
            Outcome.NOT_OBSERVABLE: results.not_observable,
            Outcome.ERROR: results.errors,
        }
        for requirement, (outcome, message) in verdicts(facts, load_architecture()).items():
            buckets.get(outcome, results.errors)[requirement] = message[:300]
        results.seconds = round(time.monotonic() - started, 1)
        return results
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(port)], check=False, timeout=60, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
