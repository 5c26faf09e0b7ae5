"""Outcomes of a requirement on a target, and the exceptions steps raise to produce them.

Four outcomes: pass, fail, not observable (this target cannot see the requirement; distinct from a skip, which is a
choice), and error (the check itself could not run: bad input, a crashed tool).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Outcome(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_OBSERVABLE = "not observable"
    ERROR = "error"
    WAIVED = "waived"


@dataclass(frozen=True)
class Violation:
    """One resource that does not meet a requirement: where, which field, what was expected, what was found."""

    address: str
    field: str
    expected: Any
    found: Any

    def __str__(self) -> str:
        return f"{self.address}: {self.field} expected {_show(self.expected)}, found {_show(self.found)}"

    def as_dict(self) -> dict[str, str]:
        return {
            "address": self.address,
            "field": self.field,
            "expected": _show(self.expected),
            "found": _show(self.found),
        }


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_show(v) for v in value)) + "}"
    return str(value)


class RequirementFailed(AssertionError):
    """A requirement does not hold; carries every offending resource, not just the first."""

    def __init__(self, summary: str, violations: Sequence[Violation]) -> None:
        self.summary = summary
        self.violations = list(violations)
        lines = [f"{summary} ({len(self.violations)} violation(s))"]
        lines += [f"  - {violation}" for violation in self.violations]
        super().__init__("\n".join(lines))


class NotObservable(Exception):
    """The chosen target cannot observe what this step needs."""


class CheckError(Exception):
    """The check could not run (bad user input, a tool that failed); the message is meant for a person."""
