"""Run the scenarios of a feature file in-process against hand-built facts, with the suite's real step definitions.

pytest-bdd binds steps through fixtures, which makes "this scenario on these facts" a whole pytest session. The
engine tests want hundreds of such runs (every scenario on every good and bad fixture), so this module does what
pytest-bdd does for one scenario: parse the feature text, match each step against the registered step parsers,
call the step function with ``facts``, ``architecture``, the values earlier steps produced (``target_fixture``) and
the arguments parsed from the step text. The feature text is therefore what is tested, exactly as the suite runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_bdd.feature import get_features
from pytest_bdd.parser import ScenarioTemplate
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

import steps.infrastructure
import steps.workloads
from conformance.facts import Facts
from conformance.outcomes import CheckError, NotObservable, Outcome, RequirementFailed
from reference import Architecture

FEATURES = Path(__file__).resolve().parents[2] / "features"
STEP_MODULES = {steps.workloads.__name__, steps.infrastructure.__name__}


@dataclass(frozen=True)
class Scenario:
    requirement: str
    name: str
    template: ScenarioTemplate


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: BaseException | None = None

    @property
    def message(self) -> str:
        return "" if self.error is None else str(self.error)


def scenarios(feature_files: Iterable[str]) -> dict[str, Scenario]:
    """requirement id -> scenario, for the named feature files (each scenario has exactly one @REQ tag)."""
    found: dict[str, Scenario] = {}
    for feature in get_features([str(FEATURES / name) for name in feature_files]):
        for template in feature.scenarios.values():
            (requirement,) = [t for t in template.tags if t.startswith("REQ-")]
            found[requirement] = Scenario(requirement, template.name, template)
    return found


def _definitions() -> list[StepFunctionContext]:
    return [c for c in step_function_context_registry.values() if c.step_func.__module__ in STEP_MODULES]


def _match(step_type: str, text: str) -> StepFunctionContext:
    matches = [c for c in _definitions() if c.type in (step_type, None) and c.parser.is_matching(text)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} step definitions match {step_type} {text!r}")
    return matches[0]


def run(scenario: Scenario, facts: Facts, architecture: Architecture) -> Result:
    """Run one scenario; the outcome is classified as the pytest plugin classifies it."""
    context: dict[str, Any] = {"facts": facts, "architecture": architecture}
    try:
        for step in scenario.template.render({}).steps:
            definition = _match(step.type, step.name)
            arguments = dict(definition.parser.parse_arguments(step.name) or {})
            for name, convert in definition.converters.items():
                arguments[name] = convert(arguments[name])
            wanted = inspect.signature(definition.step_func).parameters
            kwargs = {name: arguments[name] if name in arguments else context[name] for name in wanted}
            value = definition.step_func(**kwargs)
            if definition.target_fixture:
                context[definition.target_fixture] = value
    except RequirementFailed as exc:
        return Result(Outcome.FAIL, exc)
    except NotObservable as exc:
        return Result(Outcome.NOT_OBSERVABLE, exc)
    except CheckError as exc:
        return Result(Outcome.ERROR, exc)
    return Result(Outcome.PASS)
