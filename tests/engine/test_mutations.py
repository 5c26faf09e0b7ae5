"""The suite can fail: every mutation of the real Terraform turns its requirement red, and every requirement has a
bad case somewhere (a mutation, a bad fixture or a test that names it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conformance.mutations import PROJECT_ROOT, _batches, apply, load_catalog, run_mutations

REQUIREMENT = re.compile(r"@(REQ-[A-Z]+-\d{3})")


def feature_requirements() -> set[str]:
    return {m for path in (PROJECT_ROOT / "features").glob("*.feature") for m in REQUIREMENT.findall(path.read_text())}


def test_every_mutation_still_applies_to_the_modules(tmp_path: Path) -> None:
    # A stale mutation (its text no longer in the module) would silently stop testing anything.
    for mutation in load_catalog():
        root = tmp_path / mutation.id
        shutil.copytree(PROJECT_ROOT / "infra" / "terraform", root, ignore=shutil.ignore_patterns(".terraform"))
        apply(mutation, root)


def test_every_mutation_targets_a_requirement_that_exists() -> None:
    known = feature_requirements()
    assert {m.requirement for m in load_catalog()} <= known


def test_every_requirement_has_a_bad_case() -> None:
    sources = [(PROJECT_ROOT / "conformance" / "mutations.yaml").read_text()]
    for folder in (PROJECT_ROOT / "tests").rglob("*"):
        if (
            folder.is_file()
            and folder.suffix in (".py", ".yaml", ".yml", ".json")
            and folder.name != Path(__file__).name
        ):
            sources.append(folder.read_text(errors="replace"))
    corpus = "\n".join(sources)
    missing = sorted(r for r in feature_requirements() if r not in corpus)
    assert not missing, f"requirements without a bad case (mutation, fixture or test): {missing}"


def test_batches_keep_environment_edits_and_refusals_alone() -> None:
    for batch in _batches(load_catalog()):
        if any(m.file.startswith("environments/") or m.expect == "refused" for m in batch):
            assert len(batch) == 1
        assert len({m.requirement for m in batch}) == len(batch)


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
def test_every_mutation_is_killed() -> None:
    report = run_mutations(load_catalog(), PROJECT_ROOT / ".work", batch=True)
    survivors = [f"{r.mutation.id} ({r.mutation.requirement}): {r.detail}" for r in report.survivors()]
    assert not survivors, "mutations the suite did not notice:\n" + "\n".join(survivors)
    assert report.kill_rate == 1.0
