"""The assertions steps are written with: select resources, require each to meet an expectation, report all.

A selection that matches nothing fails (a requirement over zero resources proves nothing), every offending
resource is reported with its address and expected versus found value, and a step that needs evidence the target
cannot produce reports "not observable" instead of passing or failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from conformance.facts import Facts, Resource
from conformance.outcomes import CheckError, NotObservable, RequirementFailed, Violation


def require_source(facts: Facts, source: str) -> None:
    """Stop with "not observable" (or an error) when the target cannot supply this kind of evidence."""
    if source in facts.errors:
        raise CheckError(facts.errors[source])
    if source in facts.unavailable:
        raise NotObservable(f"{source} not observable on target {facts.target!r}: {facts.unavailable[source]}")
    if source not in facts.sources:
        raise NotObservable(f"target {facts.target!r} does not observe {source}")


def select(
    facts: Facts,
    resource_type: str,
    where: Callable[[Resource], bool] | None = None,
    what: str | None = None,
) -> list[Resource]:
    """Resources of a type (optionally filtered). Fails when nothing matches: an empty selection proves nothing."""
    found = [r for r in facts.of_type(resource_type) if where is None or where(r)]
    if not found:
        label = what or resource_type
        raise RequirementFailed(
            f"the selection '{label}' matched no resource",
            [Violation(f"<{facts.target}:{facts.environment}>", "selection", f"at least one {label}", "none")],
        )
    return found


def expect_each(
    resources: Iterable[Resource],
    field: str,
    expected: Any,
    read: Callable[[Resource], Any] | None = None,
    ok: Callable[[Any], bool] | None = None,
    summary: str | None = None,
) -> None:
    """Every resource's ``field`` must equal ``expected`` (or satisfy ``ok``); all offenders are reported."""
    violations = []
    for resource in resources:
        value = read(resource) if read is not None else resource.get(field)
        good = ok(value) if ok is not None else value == expected
        if not good:
            violations.append(Violation(resource.address, field, expected, value))
    if violations:
        raise RequirementFailed(summary or f"{field} is not {expected}", violations)


def fail_if(violations: Sequence[Violation], summary: str) -> None:
    if violations:
        raise RequirementFailed(summary, violations)
