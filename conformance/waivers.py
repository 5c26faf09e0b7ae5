"""Waivers: a known, accepted violation of one requirement by one resource, with a reason and an expiry date.

File format (YAML)::

    waivers:
      - requirement: REQ-NET-004
        resource: module.vpc.aws_nat_gateway.this["us-east-1a"]   # exact address; * matches anything
        reason: "dev runs one NAT gateway to save cost"
        expires: 2027-03-31

An expired waiver no longer applies and makes the run fail, so that accepted risk is reviewed, not forgotten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from conformance.facts import address_matches
from conformance.outcomes import CheckError, Violation


@dataclass(frozen=True)
class Waiver:
    requirement: str
    resource: str
    reason: str
    expires: dt.date

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(self, requirement: str, violation: Violation) -> bool:
        return requirement == self.requirement and address_matches(self.resource, violation.address)


def load_waivers(path: Path | None) -> list[Waiver]:
    if path is None:
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise CheckError(f"{path}: waiver file not found") from exc
    except yaml.YAMLError as exc:
        raise CheckError(f"{path}: not valid YAML: {exc}") from exc
    entries = raw.get("waivers") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise CheckError(f"{path}: expected a top-level key 'waivers' holding a list, found {type(raw).__name__}")
    waivers = []
    for position, entry in enumerate(entries):
        where = f"{path}: waivers[{position}]"
        if not isinstance(entry, dict):
            raise CheckError(f"{where}: expected a mapping, found {entry!r}")
        missing = [key for key in ("requirement", "resource", "reason", "expires") if not entry.get(key)]
        if missing:
            raise CheckError(f"{where}: missing {', '.join(missing)} (every waiver needs all four)")
        expires = entry["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError as exc:
                raise CheckError(f"{where}.expires: expected a date YYYY-MM-DD, found {expires!r}") from exc
        if not isinstance(expires, dt.date):
            raise CheckError(f"{where}.expires: expected a date YYYY-MM-DD, found {expires!r}")
        if not str(entry["requirement"]).startswith("REQ-"):
            raise CheckError(
                f"{where}.requirement: expected a requirement id like REQ-NET-001, found {entry['requirement']!r}"
            )
        waivers.append(Waiver(str(entry["requirement"]), str(entry["resource"]), str(entry["reason"]), expires))
    return waivers


def apply_waivers(
    requirement_ids: list[str], violations: list[Violation], waivers: list[Waiver], today: dt.date
) -> tuple[list[Violation], list[tuple[Violation, Waiver]]]:
    """Split violations into those still standing and those covered by a live (unexpired) waiver."""
    standing, waived = [], []
    for violation in violations:
        waiver = next(
            (w for w in waivers if not w.expired(today) and any(w.covers(r, violation) for r in requirement_ids)),
            None,
        )
        if waiver is None:
            standing.append(violation)
        else:
            waived.append((violation, waiver))
    return standing, waived
