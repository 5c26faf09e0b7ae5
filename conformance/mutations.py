"""Mutation testing of the suite: break a copy of the real Terraform on purpose and check the suite notices.

Each mutation in ``mutations.yaml`` edits one file of a copy of ``infra/terraform`` (exact text, found exactly
once) and names the requirement that must turn red, optionally with the resource address that must be reported.
A mutation is *killed* when that requirement fails on the mutant; ``expect: refused`` mutations are killed when
Terraform itself refuses the plan with the expected message (a variable's validation). The kill rate is the
share of mutations killed; anything below 100% is a requirement the suite cannot actually enforce.

Mutants are planned one at a time by default. ``batch=True`` applies every compatible mutation (different
requirements, non-overlapping edits) to one mutant and attributes each kill by requirement and address, which
costs one plan instead of one per mutation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from conformance.facts import address_matches
from conformance.outcomes import CheckError
from conformance.terraform import TerraformRunner

CATALOG = Path(__file__).with_name("mutations.yaml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    id: str
    requirement: str
    description: str
    file: str
    find: str
    replace: str
    env: str = "dev"
    address: str | None = None
    expect: Literal["fail", "refused"] = "fail"
    message: str | None = None  # for refused: text Terraform's error must contain


@dataclass
class MutationResult:
    mutation: Mutation
    killed: bool
    detail: str


@dataclass
class MutationReport:
    results: list[MutationResult] = field(default_factory=list)

    @property
    def kill_rate(self) -> float:
        return sum(r.killed for r in self.results) / len(self.results) if self.results else 0.0

    def survivors(self) -> list[MutationResult]:
        return [r for r in self.results if not r.killed]


def load_catalog(path: Path = CATALOG) -> list[Mutation]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("mutations") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise CheckError(f"{path}: expected a top-level 'mutations' list")
    mutations = []
    for position, entry in enumerate(entries):
        try:
            mutations.append(Mutation(**entry))
        except TypeError as exc:
            raise CheckError(f"{path}: mutations[{position}]: {exc}") from exc
    ids = [m.id for m in mutations]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise CheckError(f"{path}: duplicate mutation ids {sorted(duplicates)}")
    return mutations


def apply(mutation: Mutation, terraform_root: Path) -> None:
    """Edit the copy; a mutation whose text no longer matches the modules is stale and reported as such."""
    target = terraform_root / mutation.file
    if not target.is_file():
        raise CheckError(f"mutation {mutation.id}: file {mutation.file} not found under infra/terraform")
    text = target.read_text(encoding="utf-8")
    count = text.count(mutation.find)
    if count != 1:
        raise CheckError(
            f"mutation {mutation.id}: expected its text exactly once in {mutation.file}, found {count} times "
            "(the module changed: update conformance/mutations.yaml)"
        )
    target.write_text(text.replace(mutation.find, mutation.replace), encoding="utf-8")


def _batches(mutations: list[Mutation]) -> list[list[Mutation]]:
    """Greedy packing: one requirement per batch, no two edits of the same file region, refusals alone."""
    batches: list[list[Mutation]] = []
    for mutation in mutations:
        # Environment-level edits (tfvars, wiring) reach every module, so they could kill another mutation's
        # requirement for it; they run alone, like refusals.
        if mutation.expect == "refused" or mutation.file.startswith("environments/"):
            batches.append([mutation])
            continue
        for batch in batches:
            if (
                batch[0].expect == "refused"
                or batch[0].file.startswith("environments/")
                or batch[0].env != mutation.env
            ):
                continue
            clash = any(
                other.requirement == mutation.requirement
                or (other.file == mutation.file and (other.find in mutation.find or mutation.find in other.find))
                for other in batch
            )
            if not clash:
                batch.append(mutation)
                break
        else:
            batches.append([mutation])
    return batches


def _check_plan(plan_json: Path, env: str, requirements: list[str], report_dir: Path) -> dict[str, object]:
    """Run the suite on a mutant's plan, restricted to the requirements under test; return the run report."""
    args = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "steps"), f"--rootdir={PROJECT_ROOT}"]
    args += [f"--plan={plan_json}", f"--env={env}", f"--report-dir={report_dir}", "-q", "-p", "no:cacheprovider"]
    args += [f"--requirement={r}" for r in requirements]
    subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)
    run_file = report_dir / f"conformance-static-{env}.json"
    if not run_file.is_file():
        raise CheckError(f"the suite produced no report for the mutant ({run_file})")
    data: dict[str, object] = json.loads(run_file.read_text())
    return data


def _verdict(mutation: Mutation, run: dict[str, object]) -> MutationResult:
    scenarios = run.get("scenarios", [])
    assert isinstance(scenarios, list)
    mine = [s for s in scenarios if mutation.requirement in s["requirements"]]
    if not mine:
        return MutationResult(mutation, False, f"no scenario checks {mutation.requirement}")
    failed = [s for s in mine if s["outcome"] == "fail"]
    if not failed:
        return MutationResult(mutation, False, f"{mutation.requirement} stayed {mine[0]['outcome']}")
    addresses = [v["address"] for s in failed for v in s["violations"]]
    if mutation.address and not any(address_matches(mutation.address, a) for a in addresses):
        return MutationResult(
            mutation, False, f"{mutation.requirement} failed but not on {mutation.address} (found {addresses})"
        )
    return MutationResult(mutation, True, f"{mutation.requirement} failed on {', '.join(addresses[:3])}")


def run_mutations(
    mutations: list[Mutation],
    work_dir: Path,
    batch: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
) -> MutationReport:
    from conformance.emulator import start_moto  # the emulator is needed only while planning

    report = MutationReport()
    groups = _batches(mutations) if batch else [[m] for m in mutations]
    emulator = start_moto(None, work_dir / "logs")
    try:
        for number, group in enumerate(groups, start=1):
            names = ", ".join(m.id for m in group)
            progress(f"mutant {number}/{len(groups)}: {names}")
            with tempfile.TemporaryDirectory(prefix="mutant-", dir=work_dir) as tmp:
                root = Path(tmp) / "terraform"
                shutil.copytree(
                    PROJECT_ROOT / "infra" / "terraform",
                    root,
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"),
                )
                for mutation in group:
                    apply(mutation, root)
                runner = TerraformRunner(root, work_dir / "terraform")
                env = group[0].env
                try:
                    plan = runner.plan(env, lambda: emulator.endpoint)
                except CheckError as exc:
                    for mutation in group:
                        refused = mutation.expect == "refused" and (mutation.message or "") in str(exc)
                        detail = "refused by Terraform" if refused else f"plan failed: {str(exc)[:300]}"
                        report.results.append(MutationResult(mutation, refused, detail))
                    continue
                run = _check_plan(plan, env, [m.requirement for m in group], Path(tmp) / "reports")
                for mutation in group:
                    if mutation.expect == "refused":
                        report.results.append(MutationResult(mutation, False, "Terraform accepted the plan"))
                    else:
                        report.results.append(_verdict(mutation, run))
    finally:
        emulator.stop()
    return report
