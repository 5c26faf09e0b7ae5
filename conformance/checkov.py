"""checkov's findings beside ours: check IDs mapped to requirement IDs, waivers (each with its reason) applied.

``scripts/checkov.sh`` runs checkov (in its own virtualenv) on each environment folder and on the modules and
leaves one JSON file per folder; this module reads them, maps every failed check to the requirement of ours that
covers the same property (:data:`REQUIREMENT_OF`), applies ``checkov-waivers.yaml`` and writes
``checkov-report.{json,md}``. A failed check with no waiver is a finding: either our suite misses something (add a
requirement) or the check does not apply here (add a waiver that says why).

    python -m conformance.checkov --input-dir reports/checkov --report-dir reports
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.facts import address_matches
from conformance.outcomes import CheckError

WAIVERS_PATH = Path(__file__).with_name("checkov-waivers.yaml")

# checkov check -> the requirement of this suite that checks the same property ("" when none does).
REQUIREMENT_OF: dict[str, str] = {
    # EKS
    "CKV_AWS_37": "REQ-EKS-003",  # control-plane logging for all log types
    "CKV_AWS_38": "REQ-EKS-002",  # public endpoint not open to 0.0.0.0/0
    "CKV_AWS_39": "REQ-EKS-002",  # public endpoint disabled
    "CKV_AWS_58": "REQ-ENC-005",  # secrets encryption
    "CKV_AWS_339": "REQ-EKS-001",  # supported Kubernetes version
    "CKV_AWS_341": "REQ-EKS-007",  # launch template metadata hop limit 1
    "CKV_AWS_79": "REQ-EKS-007",  # IMDSv1 disabled
    "CKV_AWS_100": "REQ-NETSEC-003",  # node group without SSH remote access
    # RDS
    "CKV_AWS_16": "REQ-ENC-002",
    "CKV_AWS_17": "REQ-DATA-002",
    "CKV_AWS_157": "REQ-DATA-001",
    "CKV_AWS_161": "REQ-DATA-002",
    "CKV_AWS_133": "REQ-DATA-001",
    "CKV_AWS_226": "REQ-DATA-001",
    "CKV_AWS_293": "REQ-DATA-003",
    "CKV_AWS_353": "REQ-DATA-004",
    "CKV_AWS_354": "REQ-DATA-004",
    "CKV_AWS_129": "REQ-DATA-002",
    "CKV_AWS_118": "REQ-DATA-004",
    "CKV2_AWS_30": "REQ-DATA-002",  # query logging
    "CKV2_AWS_60": "REQ-DATA-001",  # copy tags to snapshots
    "CKV2_AWS_69": "REQ-ENC-002",  # encryption in transit (rds.force_ssl)
    # ElastiCache
    "CKV_AWS_29": "REQ-ENC-003",
    "CKV_AWS_30": "REQ-ENC-003",
    "CKV_AWS_31": "REQ-ENC-003",
    "CKV_AWS_191": "REQ-ENC-003",
    "CKV_AWS_134": "REQ-DATA-005",  # automatic backups (snapshot retention)
    # DocumentDB
    "CKV_AWS_74": "REQ-ENC-004",
    "CKV_AWS_85": "REQ-DATA-007",
    "CKV_AWS_90": "REQ-ENC-004",
    "CKV_AWS_104": "REQ-DATA-007",
    "CKV_AWS_182": "REQ-ENC-004",
    "CKV_AWS_360": "REQ-DATA-007",
    # KMS, secrets, logs
    "CKV_AWS_7": "REQ-ENC-001",
    "CKV_AWS_33": "REQ-ENC-001",
    "CKV_AWS_227": "REQ-ENC-001",
    "CKV_AWS_149": "REQ-SECRETS-001",
    "CKV2_AWS_57": "REQ-SECRETS-002",
    "CKV_AWS_158": "REQ-ENC-006",
    "CKV_AWS_338": "REQ-ENC-006",
    "CKV_AWS_66": "REQ-ENC-006",
    # ECR
    "CKV_AWS_51": "REQ-ENC-008",
    "CKV_AWS_136": "REQ-ENC-008",
    "CKV_AWS_163": "REQ-ENC-008",
    "CKV_AWS_32": "REQ-ENC-008",
    # S3
    "CKV_AWS_145": "REQ-ENC-007",
    "CKV_AWS_19": "REQ-ENC-007",
    "CKV_AWS_53": "REQ-ENC-007",
    "CKV_AWS_54": "REQ-ENC-007",
    "CKV_AWS_55": "REQ-ENC-007",
    "CKV_AWS_56": "REQ-ENC-007",
    "CKV2_AWS_6": "REQ-ENC-007",
    "CKV_AWS_21": "REQ-COST-003",
    "CKV2_AWS_61": "REQ-COST-003",
    "CKV_AWS_18": "REQ-ENC-007",
    "CKV_AWS_144": "REQ-ENC-007",
    "CKV2_AWS_62": "REQ-ENC-007",
    "CKV_AWS_300": "REQ-COST-003",
    # network
    "CKV_AWS_23": "REQ-NETSEC-002",
    "CKV_AWS_24": "REQ-NETSEC-003",
    "CKV_AWS_25": "REQ-NETSEC-003",
    "CKV_AWS_260": "REQ-NETSEC-002",
    "CKV_AWS_277": "REQ-NETSEC-002",
    "CKV_AWS_382": "REQ-NETSEC-002",
    "CKV2_AWS_5": "REQ-NETSEC-004",
    "CKV2_AWS_12": "REQ-NETSEC-007",
    "CKV2_AWS_11": "REQ-NET-006",
    "CKV_AWS_130": "REQ-NET-004",
    # bastion (EC2)
    "CKV_AWS_8": "REQ-NETSEC-005",
    "CKV_AWS_88": "REQ-NETSEC-005",
    "CKV_AWS_126": "REQ-NETSEC-005",
    "CKV_AWS_135": "REQ-NETSEC-005",
    "CKV2_AWS_41": "REQ-NETSEC-005",
    # IAM
    "CKV_AWS_60": "REQ-IRSA-001",
    "CKV_AWS_61": "REQ-IRSA-001",
    "CKV_AWS_274": "REQ-IRSA-002",
    "CKV_AWS_1": "REQ-IRSA-002",
    "CKV_AWS_49": "REQ-IRSA-002",
    "CKV_AWS_62": "REQ-IRSA-002",
    "CKV_AWS_63": "REQ-IRSA-002",
    "CKV_AWS_107": "REQ-IRSA-005",
    "CKV_AWS_108": "REQ-IRSA-005",
    "CKV_AWS_109": "REQ-IRSA-005",
    "CKV_AWS_110": "REQ-IRSA-005",
    "CKV_AWS_111": "REQ-IRSA-005",
    "CKV_AWS_286": "REQ-IRSA-005",
    "CKV_AWS_287": "REQ-IRSA-005",
    "CKV_AWS_288": "REQ-IRSA-005",
    "CKV_AWS_289": "REQ-IRSA-005",
    "CKV_AWS_290": "REQ-IRSA-005",
    "CKV_AWS_355": "REQ-IRSA-005",
    "CKV_AWS_356": "REQ-IRSA-005",
    # edge
    "CKV2_AWS_38": "REQ-NETSEC-006",
    "CKV2_AWS_39": "REQ-NETSEC-006",
    "CKV_AWS_233": "REQ-NETSEC-006",
    "CKV_AWS_234": "REQ-NETSEC-006",
}


@dataclass(frozen=True)
class Finding:
    folder: str  # dev, staging, prod, modules
    check_id: str
    check_name: str
    resource: str
    file: str
    line: int

    @property
    def requirement(self) -> str:
        return REQUIREMENT_OF.get(self.check_id, "")


@dataclass(frozen=True)
class CheckovWaiver:
    check_id: str
    resource: str  # glob over checkov's resource address; only * is a wildcard
    reason: str
    folders: tuple[str, ...] = ()  # empty: every folder

    def covers(self, finding: Finding) -> bool:
        return (
            self.check_id == finding.check_id
            and address_matches(self.resource, finding.resource)
            and (not self.folders or finding.folder in self.folders)
        )


@dataclass
class CheckovReport:
    passed: int = 0
    findings: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, CheckovWaiver]] = field(default_factory=list)
    unused_waivers: list[CheckovWaiver] = field(default_factory=list)
    checkov_version: str = ""

    @property
    def unwaived(self) -> list[Finding]:
        return self.findings


def load_waivers(path: Path = WAIVERS_PATH) -> list[CheckovWaiver]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"{path}: cannot read the checkov waivers: {exc}") from exc
    waivers = []
    for position, entry in enumerate(raw.get("waivers") or []):
        where = f"{path}: waivers[{position}]"
        if not isinstance(entry, Mapping) or not all(entry.get(k) for k in ("check_id", "resource", "reason")):
            raise CheckError(f"{where}: needs check_id, resource and a non-empty reason")
        folders = entry.get("folders") or []
        waivers.append(
            CheckovWaiver(str(entry["check_id"]), str(entry["resource"]), str(entry["reason"]), tuple(folders))
        )
    return waivers


def _results(data: Any) -> Iterable[Mapping[str, Any]]:
    """checkov writes one object per framework, or a list of them when several ran."""
    for block in data if isinstance(data, list) else [data]:
        if isinstance(block, Mapping) and isinstance(block.get("results"), Mapping):
            yield block


def read_folder(path: Path) -> tuple[int, list[Finding], str]:
    folder = path.stem
    data = json.loads(path.read_text(encoding="utf-8"))
    passed, findings, version = 0, [], ""
    for block in _results(data):
        summary = block.get("summary", {})
        version = str(summary.get("checkov_version", version))
        # With --quiet checkov lists only failed checks; its summary still counts the passed ones.
        passed += int(summary.get("passed", len(block["results"].get("passed_checks", []))))
        for check in block["results"].get("failed_checks", []):
            lines = check.get("file_line_range") or [0]
            findings.append(
                Finding(
                    folder,
                    str(check.get("check_id")),
                    str(check.get("check_name")),
                    str(check.get("resource")),
                    str(check.get("file_path")),
                    int(lines[0]),
                )
            )
    return passed, findings, version


def evaluate(input_dir: Path, waivers: Sequence[CheckovWaiver]) -> CheckovReport:
    files = sorted(input_dir.glob("*.json"))
    if not files:
        raise CheckError(f"{input_dir}: no checkov JSON output (run scripts/checkov.sh)")
    report = CheckovReport()
    used: set[int] = set()
    for path in files:
        passed, findings, version = read_folder(path)
        report.passed += passed
        report.checkov_version = version or report.checkov_version
        for finding in findings:
            match = next((i for i, w in enumerate(waivers) if w.covers(finding)), None)
            if match is None:
                report.findings.append(finding)
            else:
                used.add(match)
                report.waived.append((finding, waivers[match]))
    report.unused_waivers = [w for i, w in enumerate(waivers) if i not in used]
    return report


def as_json(report: CheckovReport) -> dict[str, Any]:
    def finding(f: Finding) -> dict[str, Any]:
        return {**f.__dict__, "requirement": f.requirement}

    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "checkov_version": report.checkov_version,
        "passed": report.passed,
        "failed_unwaived": [finding(f) for f in report.findings],
        "waived": [{**finding(f), "reason": w.reason} for f, w in report.waived],
        "unused_waivers": [w.__dict__ for w in report.unused_waivers],
    }


def as_markdown(report: CheckovReport) -> str:
    lines = [
        "# checkov cross-check",
        "",
        f"checkov {report.checkov_version}: {report.passed} passed, {len(report.waived)} waived, "
        f"{len(report.findings)} failed without a waiver.",
        "",
    ]
    if report.findings:
        lines += [
            "## Failed (no waiver)",
            "",
            "| folder | check | requirement | resource | file |",
            "|---|---|---|---|---|",
        ]
        lines += [
            "| "
            + " | ".join(
                (
                    f.folder,
                    f"{f.check_id} {f.check_name}",
                    f.requirement or "-",
                    f"`{f.resource}`",
                    f"{f.file}:{f.line}",
                )
            )
            + " |"
            for f in report.findings
        ]
        lines.append("")
    if report.waived:
        lines += ["## Waived", "", "| check | requirement | resource | folders | reason |", "|---|---|---|---|---|"]
        grouped: dict[tuple[str, str], list[Finding]] = {}
        for f, w in report.waived:
            grouped.setdefault((w.check_id, w.reason), []).append(f)
        for (check, reason), found in grouped.items():
            resources = sorted({f.resource for f in found})
            folders = sorted({f.folder for f in found})
            shown = ", ".join(f"`{r}`" for r in resources[:4]) + (
                f" (+{len(resources) - 4})" if len(resources) > 4 else ""
            )
            lines.append(f"| {check} | {found[0].requirement or '-'} | {shown} | {', '.join(folders)} | {reason} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input-dir", type=Path, required=True)
    parser.add_argument("--report-dir", type=Path, required=True)
    parser.add_argument("--waivers", type=Path, default=WAIVERS_PATH)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.input_dir, load_waivers(args.waivers))
    except CheckError as exc:
        print(f"checkov: {exc}", file=sys.stderr)
        return 2
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "checkov-report.json").write_text(json.dumps(as_json(report), indent=2) + "\n")
    (args.report_dir / "checkov-report.md").write_text(as_markdown(report))
    if not args.quiet:
        print(f"checkov: {report.passed} passed, {len(report.waived)} waived, {len(report.findings)} failed")
        for f in report.findings:
            print(f"  FAILED {f.folder}: {f.check_id} {f.check_name} on {f.resource} ({f.file}:{f.line})")
        for w in report.unused_waivers:
            print(f"  unused waiver: {w.check_id} on {w.resource}")
    return 1 if report.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
