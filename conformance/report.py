"""Conformance reports: one JSON per (target, environment) run, merged into a requirement x target matrix.

``conformance-<target>-<env>.json`` holds one run; ``conformance-report.json`` and ``conformance-report.md`` merge
every run found in the report folder, so running the suite on several targets builds up the matrix that shows how
far each environment has been proven.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.outcomes import Outcome
from conformance.seed import coverage

# When a requirement has several scenarios, the worst outcome speaks for it.
_SEVERITY = [Outcome.FAIL, Outcome.ERROR, Outcome.NOT_OBSERVABLE, Outcome.WAIVED, Outcome.PASS]
_SYMBOL = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "**FAIL**",
    Outcome.ERROR: "**ERROR**",
    Outcome.NOT_OBSERVABLE: "not observable",
    Outcome.WAIVED: "waived",
}


@dataclass
class ScenarioResult:
    nodeid: str
    feature: str
    scenario: str
    requirements: list[str]
    seed_sections: list[str]
    outcome: str
    message: str = ""
    violations: list[dict[str, str]] = field(default_factory=list)
    waived: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RunReport:
    target: str
    environment: str
    generated_at: str
    scenarios: list[ScenarioResult]
    expired_waivers: list[dict[str, str]] = field(default_factory=list)
    checkov: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.target}/{self.environment}"

    def summary(self) -> dict[str, int]:
        return dict(Counter(s.outcome for s in self.scenarios))

    def requirement_outcomes(self) -> dict[str, str]:
        by_requirement: dict[str, list[str]] = {}
        for scenario in self.scenarios:
            for requirement in scenario.requirements:
                by_requirement.setdefault(requirement, []).append(scenario.outcome)
        return {
            requirement: next(o.value for o in _SEVERITY if o.value in outcomes)
            for requirement, outcomes in by_requirement.items()
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        data["requirements"] = self.requirement_outcomes()
        return data


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _load_run(path: Path) -> RunReport | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        scenarios = [ScenarioResult(**s) for s in data["scenarios"]]
        return RunReport(
            data["target"],
            data["environment"],
            data["generated_at"],
            scenarios,
            data.get("expired_waivers", []),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a stale or foreign file in the report folder is not ours to interpret


def write_reports(run: RunReport, report_dir: Path) -> list[Path]:
    """Write this run's JSON, then rebuild the merged JSON and Markdown from every run in the folder."""
    report_dir.mkdir(parents=True, exist_ok=True)
    run_path = report_dir / f"conformance-{run.target}-{run.environment}.json"
    run_path.write_text(json.dumps(run.to_json(), indent=2, default=str))
    runs = [r for r in (_load_run(p) for p in sorted(report_dir.glob("conformance-*-*.json"))) if r is not None]
    runs.sort(key=lambda r: (r.target != run.target or r.environment != run.environment, r.key))
    merged_json = report_dir / "conformance-report.json"
    merged_json.write_text(json.dumps({"runs": [r.to_json() for r in runs]}, indent=2, default=str))
    merged_md = report_dir / "conformance-report.md"
    merged_md.write_text(render_markdown(runs))
    return [run_path, merged_json, merged_md]


def _seed_coverage(columns: list[str], outcomes: dict[str, dict[str, str]]) -> list[str]:
    """The seed's infrastructure statements, the requirements that check each, and how they fared per run."""
    lines = [
        "",
        "## Seed coverage",
        "",
        "| seed section | the seed says | requirements | " + " | ".join(columns) + " |",
    ]
    lines.append("|---|---|---|" + "---|" * len(columns))
    for item in coverage():
        if not item.requirements:
            lines.append(f"| {item.section} | {item.statement} | none: {item.reason} |" + " - |" * len(columns))
            continue
        cells = []
        for column in columns:
            found = [outcomes[column][r] for r in item.requirements if r in outcomes[column]]
            worst = next((o.value for o in _SEVERITY if o.value in found), None)
            cells.append(_SYMBOL[Outcome(worst)] if worst else "-")
        lines.append(
            f"| {item.section} | {item.statement} | {', '.join(item.requirements)} | " + " | ".join(cells) + " |"
        )
    return lines


def render_markdown(runs: list[RunReport]) -> str:
    seed_of: dict[str, str] = {}
    title_of: dict[str, str] = {}
    for run in runs:
        for scenario in run.scenarios:
            for requirement in scenario.requirements:
                seed_of.setdefault(requirement, ", ".join(scenario.seed_sections))
                title_of.setdefault(requirement, scenario.scenario)
    columns = [r.key for r in runs]
    outcomes = {r.key: r.requirement_outcomes() for r in runs}
    lines = [
        "# Conformance report",
        "",
        f"Generated {now_iso()}. Runs: " + ", ".join(f"`{r.key}` ({r.generated_at})" for r in runs) + ".",
        "",
        "Outcomes: *pass*; **FAIL** (the deployment breaks the requirement); **ERROR** (the check could not run); "
        "*not observable* (this target cannot see the requirement); *waived* (a live waiver covers every violation).",
        "",
        "## Summary",
        "",
        "| run | " + " | ".join(o.value for o in _SEVERITY) + " |",
        "|---|" + "---|" * len(_SEVERITY),
    ]
    for run in runs:
        counts = run.summary()
        lines.append(f"| `{run.key}` | " + " | ".join(str(counts.get(o.value, 0)) for o in _SEVERITY) + " |")
    lines += [
        "",
        "## Requirements",
        "",
        "| requirement | seed section | scenario | " + " | ".join(columns) + " |",
    ]
    lines.append("|---|---|---|" + "---|" * len(columns))
    for requirement in sorted(seed_of):
        cells = [_SYMBOL[Outcome(outcomes[c][requirement])] if requirement in outcomes[c] else "-" for c in columns]
        lines.append(
            f"| {requirement} | {seed_of[requirement]} | {title_of[requirement]} | " + " | ".join(cells) + " |"
        )
    lines += _seed_coverage(columns, outcomes)
    problems = [(run, s) for run in runs for s in run.scenarios if s.outcome in ("fail", "error")]
    if problems:
        lines += ["", "## Failures and errors", ""]
        for run, scenario in problems:
            lines.append(
                f"### {', '.join(scenario.requirements) or scenario.nodeid} on `{run.key}`: {scenario.scenario}"
            )
            lines.append("")
            if scenario.violations:
                lines += ["| resource | field | expected | found |", "|---|---|---|---|"]
                lines += [
                    f"| `{v['address']}` | {v['field']} | {v['expected']} | {v['found']} |" for v in scenario.violations
                ]
            else:
                lines += ["```", scenario.message.strip()[:3000], "```"]
            lines.append("")
    waived = [(run, s) for run in runs for s in run.scenarios if s.waived]
    if waived:
        lines += ["", "## Waived violations", "", "| run | requirement | resource | reason | expires |"]
        lines.append("|---|---|---|---|---|")
        for run, scenario in waived:
            for w in scenario.waived:
                lines.append(
                    f"| `{run.key}` | {w['requirement']} | `{w['address']}` | {w['reason']} | {w['expires']} |"
                )
    expired = [(run, w) for run in runs for w in run.expired_waivers]
    if expired:
        lines += ["", "## Expired waivers (the run fails until they are renewed or removed)", ""]
        lines += [
            f"- `{run.key}`: {w['requirement']} on `{w['resource']}` expired {w['expires']}" for run, w in expired
        ]
    return "\n".join(lines) + "\n"
