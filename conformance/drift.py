"""Drift: what the plan says an environment should be against what the live APIs say it is.

Both sides are facts (Terraform-shaped), joined by Terraform address (live resources carry theirs from the state of
the apply). Only values the plan knows are compared: a value known after apply (``Ref``/``Unknown``) says nothing
about drift. An attribute the live read does not produce is skipped too (absence of evidence is not drift).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.collectors import service_of
from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.outcomes import CheckError

Progress = Callable[[str], None]

# Plan attributes with no live counterpart or a different meaning live (write-only, provider-side settings).
IGNORED = frozenset(
    {
        "tags",  # a plan's `tags` leave out default_tags; tags_all is compared instead
        "timeouts", "apply_immediately", "skip_final_snapshot", "final_snapshot_identifier", "force_destroy",
        "force_delete", "recovery_window_in_days", "rotate_immediately", "auth_token", "password", "master_password",
        "secret_string", "deletion_window_in_days", "bypass_policy_lockout_safety_check", "revoke_rules_on_delete",
        "force_update_version", "preserve", "resolve_conflicts_on_create", "resolve_conflicts_on_update",
        "user_data_replace_on_change", "get_password_data", "update_default_version", "skip_destroy",
        "allow_major_version_upgrade", "delete_automated_backups", "force_detach_policies", "description",
    }
)  # fmt: skip


# Plan-only types: live reads keep routes inline on their table, and secret values are never read.
PLAN_ONLY = frozenset({"aws_route", "aws_secretsmanager_secret_version"})


@dataclass(frozen=True)
class Difference:
    address: str
    attribute: str
    planned: Any
    live: Any

    def __str__(self) -> str:
        return f"{self.address}: {self.attribute}: planned {_show(self.planned)}, live {_show(self.live)}"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 160 else text[:157] + "..."


def terraform_address(resource: Resource) -> str:
    """A live resource's address is ``<terraform address> (<live name>)``; a plan's is the Terraform address."""
    return resource.address.split(" (", 1)[0]


def _unknown(value: Any) -> bool:
    if isinstance(value, (Ref, Unknown)):
        return True
    return isinstance(value, str) and value.startswith("(known after apply")


def _scalar(value: Any) -> Any:
    """One spelling per value: "true" and True, "7" and 7, a JSON document and its parsed form are the same."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "false"):
            return text == "true"
        if text[:1] in ("{", "["):
            try:
                return _normal(json.loads(text))
            except json.JSONDecodeError:
                return text
        try:
            return int(text)
        except ValueError:
            return text
    return value


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        if all(not isinstance(i, (dict, list)) for i in items):
            return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))
        return items
    if value in ("", None):
        return None
    return _scalar(value)


def _empty(value: Any) -> bool:
    return value in (None, "", [], {}, False, 0)


def compare_values(address: str, path: str, planned: Any, live: Any) -> list[Difference]:
    if _unknown(planned) or planned is None:
        return []
    if isinstance(planned, Mapping) and isinstance(live, Mapping):
        out = []
        for key, value in planned.items():
            if key in IGNORED or key not in live:
                continue
            out += compare_values(address, f"{path}.{key}" if path else key, value, live[key])
        return out
    if isinstance(planned, list) and isinstance(live, list) and planned and isinstance(planned[0], Mapping):
        if len(planned) != len(live):
            return [Difference(address, path, f"{len(planned)} block(s)", f"{len(live)} block(s)")]
        # Nested blocks are often sets (parameters, rules): a planned block matches any equal live block.
        out = []
        unmatched = list(live)
        for index, block in enumerate(planned):
            match = next((lv for lv in unmatched if not compare_values(address, path, block, lv)), None)
            if match is not None:
                unmatched.remove(match)
                continue
            out += compare_values(address, f"{path}.{index}", block, live[index])
        return out
    if isinstance(planned, list) and any(_unknown(p) for p in planned):
        return []
    a, b = _normal(planned), _normal(live)
    if a == b or (_empty(a) and _empty(b)):
        return []
    return [Difference(address, path, planned, live)]


def compare(plan: Facts, live: Facts, observed_types: Iterable[str] | None = None) -> list[Difference]:
    """Differences between planned and live facts, per resource and attribute.

    Plan resources of a type the live side reads but that are absent live are reported ("missing"); live resources
    the plan does not know are reported as unmanaged. Types no collector reads are left out.
    """
    live_by_address = {terraform_address(r): r for r in live.resources}
    for alias, primary in (live.metadata.get("terraform_aliases") or {}).items():
        if primary in live_by_address:
            live_by_address.setdefault(alias, live_by_address[primary])
    observed = set(observed_types) if observed_types is not None else {r.type for r in live.resources}
    planned_addresses = set()
    out: list[Difference] = []
    for resource in plan.resources:
        if resource.type.startswith("data.") or service_of(resource.type) is None or resource.type not in observed:
            continue
        if resource.type in PLAN_ONLY:
            continue
        planned_addresses.add(resource.address)
        counterpart = live_by_address.get(resource.address)
        if counterpart is None:
            out.append(Difference(resource.address, "(resource)", "present", "missing"))
            continue
        out += compare_values(resource.address, "", dict(resource.values), counterpart.values)
    planned_types = {r.type for r in plan.resources}
    for address, resource in live_by_address.items():
        if " (" in resource.address:
            if address not in planned_addresses:
                out.append(Difference(address, "(resource)", "absent", "present"))
        elif resource.type in planned_types and resource.type in observed and not resource.values.get("main"):
            # Created outside Terraform (an inline policy added by hand...); the VPC's main route table is AWS's.
            out.append(Difference(resource.address, "(resource)", "absent (not in the state)", "present"))
    return out


def format_differences(differences: list[Difference]) -> str:
    if not differences:
        return "no drift: every planned value matches the live value"
    return "\n".join(str(d) for d in differences)


def plan_facts(project_root: Path, work_dir: Path, environment: str, progress: Progress) -> Facts:
    """The static target's facts (a cached plan when nothing changed)."""
    from conformance.targets.base import RunContext
    from conformance.targets.static import StaticTarget

    context = RunContext(environment=environment, project_root=project_root, work_dir=work_dir, progress=progress)
    target = StaticTarget(context)
    target.prepare()
    facts = target.observe()
    if "terraform" not in facts.sources:
        reason = facts.errors.get("terraform") or facts.unavailable.get("terraform") or "no plan"
        raise CheckError(f"cannot plan {environment}: {reason}")
    return facts


def live_facts(
    project_root: Path, work_dir: Path, environment: str, endpoint: str | None, progress: Progress
) -> tuple[Facts, bool]:
    """Live facts of the environment in the emulator; applies first only when nothing is applied there yet.

    Returns the facts and whether this call applied (and so left an environment running: it is kept for later).
    """
    from conformance.targets.base import RunContext
    from conformance.targets.localstack import LocalStackTarget, attach

    context = RunContext(
        environment=environment,
        project_root=project_root,
        work_dir=work_dir,
        endpoint=endpoint,
        keep=True,
        progress=progress,
    )
    target = LocalStackTarget(context)
    applied = False
    if not attach(target):
        progress(f"nothing applied for {environment} at {target.endpoint}: applying it first (kept afterwards)")
        target.prepare()
        applied = True
    facts = target.observe()
    if "aws" in facts.errors:
        raise CheckError(facts.errors["aws"])
    if "aws" in facts.unavailable:
        raise CheckError(facts.unavailable["aws"])
    return facts, applied


def drift(
    project_root: Path,
    environment: str,
    endpoint: str | None,
    progress: Progress,
    live_work_dir: Path | None = None,
) -> tuple[list[Difference], Facts]:
    """Plan facts (cached plan under ``.work``) against the live facts of the last apply (``live_work_dir``)."""
    work_dir = project_root / ".work"
    planned = plan_facts(project_root, work_dir, environment, progress)
    live, _ = live_facts(project_root, live_work_dir or work_dir, environment, endpoint, progress)
    unavailable = getattr(live, "unavailable_types", None) or {}
    observed = {t for t in {r.type for r in planned.resources} if t not in unavailable}
    return compare(planned, live, observed), live
