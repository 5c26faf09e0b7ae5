"""scripts/deploy.sh reads only Terraform outputs that the environments declare.

`tf_output` swallows Terraform's error for an unknown output (a fresh environment may not have every optional output
yet), so a misspelt name does not stop a deploy: the value comes back empty and the placeholder it should replace
stays in the manifests. It happened: deploy.sh read `rds_endpoint` while the root module names it
`postgres_endpoint`, so catalog's and users' database URLs kept their placeholders. This test reads both files.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "scripts" / "deploy.sh"
OUTPUTS = ROOT / "infra" / "terraform" / "environments" / "_shared" / "outputs.tf"


def outputs_read(script: str) -> dict[str, int]:
    """Every output name the script passes to tf_output, with the line of its first use (comments skipped)."""
    found: dict[str, int] = {}
    for number, line in enumerate(script.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for name in re.findall(r"\btf_output\s+([A-Za-z0-9_]+)", line):
            found.setdefault(name, number)
    return found


def outputs_declared(terraform: str) -> set[str]:
    return set(re.findall(r'^output\s+"([A-Za-z0-9_]+)"', terraform, flags=re.MULTILINE))


def unknown_outputs(script: str, terraform: str) -> list[str]:
    declared = outputs_declared(terraform)
    return [
        f"scripts/deploy.sh:{line}: tf_output {name}: no such output in environments/_shared/outputs.tf"
        for name, line in sorted(outputs_read(script).items(), key=lambda item: item[1])
        if name not in declared
    ]


def test_deploy_reads_only_declared_outputs() -> None:
    script, terraform = DEPLOY.read_text(encoding="utf-8"), OUTPUTS.read_text(encoding="utf-8")
    assert outputs_read(script), "deploy.sh no longer calls tf_output: update this test"
    assert unknown_outputs(script, terraform) == []


def test_a_misspelt_output_is_reported_with_its_line() -> None:
    script = 'VPC_ID="$(tf_output vpc_id)"\nRDS_ENDPOINT="$(tf_output rds_endpoint)"\n'
    terraform = 'output "vpc_id" {\n  value = 1\n}\noutput "postgres_endpoint" {\n  value = 2\n}\n'
    assert unknown_outputs(script, terraform) == [
        "scripts/deploy.sh:2: tf_output rds_endpoint: no such output in environments/_shared/outputs.tf"
    ]
