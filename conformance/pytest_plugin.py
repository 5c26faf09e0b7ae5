"""pytest plugin: run the Gherkin features against a chosen target and report per requirement.

Options: ``--target`` (static, localstack, aws, kind, local), ``--env`` (dev, staging, prod), ``--plan FILE`` (check
your own ``terraform show -json`` output), ``--waivers FILE``, ``--report-dir DIR``.

Scenario tags: ``@REQ-<AREA>-<NNN>`` (the requirement), ``@seed:<slug>`` (the seed README section it comes from),
``@target:<name>[,<name>]`` (only these targets can observe it). A step raising
:class:`~conformance.outcomes.NotObservable` gives the outcome "not observable", shown apart from skips.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.facts import Facts
from conformance.outcomes import CheckError, NotObservable, Outcome, RequirementFailed
from conformance.report import RunReport, ScenarioResult, now_iso, write_reports
from conformance.seed import sections
from conformance.targets import REGISTRY, RunContext, Target
from conformance.targets.base import ENVIRONMENTS
from conformance.waivers import Waiver, apply_waivers, load_waivers
from reference import Architecture, ReferenceError, load_architecture

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_TAG = re.compile(r"^REQ-[A-Z]+-\d{3}$")
_PROPERTY = "conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "eks-shop conformance suite")
    group.addoption("--target", default="static", help="where to observe the deployment (default: static)")
    group.addoption("--env", default="dev", choices=ENVIRONMENTS, help="environment to check (default: dev)")
    group.addoption(
        "--plan", default=None, type=Path, help="check this `terraform show -json` file instead of planning"
    )
    group.addoption(
        "--waivers",
        default=None,
        type=Path,
        help="YAML file of waivers (requirement, resource, reason, expires)",
    )
    group.addoption("--report-dir", default=PROJECT_ROOT / "reports", type=Path, help="where reports are written")
    group.addoption("--endpoint", default=None, help="AWS emulator endpoint (default: $AWS_ENDPOINT_URL or :4566)")
    group.addoption(
        "--requirement", action="append", default=[], help="only scenarios of this requirement id (repeatable)"
    )
    group.addoption("--keep", action="store_true", help="leave what the target created running after the run")
    group.addoption(
        "--reference",
        default=None,
        type=Path,
        help="the architecture file (default: reference/architecture.yaml)",
    )


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("target")
    if target not in REGISTRY:
        raise pytest.UsageError(f"--target {target!r} is not available; choose one of {sorted(REGISTRY)}")
    plan = config.getoption("plan")
    if plan is not None and not Path(plan).is_file():
        raise pytest.UsageError(f"--plan {plan}: file not found")
    try:
        config.stash[_ARCH] = load_architecture(
            config.getoption("reference") or PROJECT_ROOT / "reference" / "architecture.yaml"
        )
        config.stash[_WAIVERS] = load_waivers(config.getoption("waivers"))
    except (ReferenceError, CheckError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_RESULTS] = []


_ARCH = pytest.StashKey[Architecture]()
_WAIVERS = pytest.StashKey[list[Waiver]]()
_RESULTS = pytest.StashKey[list[ScenarioResult]]()


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> bool | None:
    """Turn requirement, seed and target tags into declared markers; reject malformed ones at collection."""
    if tag.startswith("REQ-"):
        if not REQUIREMENT_TAG.match(tag):
            raise pytest.UsageError(f"tag @{tag}: expected a requirement id like @REQ-NET-001")
        pytest.mark.requirement(tag)(function)
        return True
    if tag.startswith("seed:"):
        slug = tag.removeprefix("seed:")
        if slug not in sections():
            raise pytest.UsageError(f"tag @{tag}: no section {slug!r} in docs/seed.md; known: {sorted(sections())}")
        pytest.mark.seed(sections()[slug])(function)
        return True
    if tag.startswith("target:"):
        names = tag.removeprefix("target:").split(",")
        unknown = [n for n in names if n not in ("static", "localstack", "aws", "kind", "local")]
        if unknown:
            raise pytest.UsageError(f"tag @{tag}: unknown target(s) {unknown}")
        pytest.mark.target(*names)(function)
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = set(config.getoption("requirement"))
    if not wanted:
        return
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        ids = {m.args[0] for m in item.iter_markers("requirement")}
        (selected if ids & wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def architecture(request: pytest.FixtureRequest) -> Architecture:
    return request.config.stash[_ARCH]


@pytest.fixture(scope="session")
def run_context(request: pytest.FixtureRequest) -> RunContext:
    config = request.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    capture = config.pluginmanager.get_plugin("capturemanager")

    def progress(message: str) -> None:
        if reporter is None:
            return
        # Output capture redirects the terminal's file descriptor during fixture setup: lift it for the line.
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"[conformance] {message}")
        else:
            reporter.write_line(f"[conformance] {message}")

    return RunContext(
        environment=config.getoption("env"),
        project_root=PROJECT_ROOT,
        work_dir=PROJECT_ROOT / ".work",
        plan_file=config.getoption("plan"),
        endpoint=config.getoption("endpoint"),
        keep=config.getoption("keep"),
        progress=progress,
    )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, run_context: RunContext) -> Iterator[Target]:
    instance = REGISTRY[request.config.getoption("target")](run_context)
    instance.prepare()
    yield instance
    if not run_context.keep:
        instance.teardown()


@pytest.fixture(scope="session")
def facts(target: Target) -> Facts:
    return target.observe()


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("target")
    if marker is not None:
        current = item.config.getoption("target")
        if current not in marker.args:
            raise NotObservable(f"only observable on {', '.join(marker.args)}; this run's target is {current}")


def _scenario_names(item: pytest.Item) -> tuple[str, str]:
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or item.name
    feature, _, scenario = doc.partition(": ")
    return Path(feature).stem, scenario or doc


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    requirements = [m.args[0] for m in item.iter_markers("requirement")]
    if not requirements or call.when == "teardown" or (call.when == "setup" and call.excinfo is None):
        return report
    feature, scenario = _scenario_names(item)
    result = ScenarioResult(
        nodeid=item.nodeid,
        feature=feature,
        scenario=scenario,
        requirements=requirements,
        seed_sections=sorted({m.args[0] for m in item.iter_markers("seed")}),
        outcome=Outcome.PASS.value,
    )
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, NotObservable):
        result.outcome = Outcome.NOT_OBSERVABLE.value
        result.message = str(error)
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"not observable: {error}")
    elif isinstance(error, RequirementFailed):
        standing, waived = apply_waivers(requirements, error.violations, item.config.stash[_WAIVERS], dt.date.today())
        result.violations = [v.as_dict() for v in standing]
        result.waived = [
            {
                **v.as_dict(),
                "requirement": w.requirement,
                "reason": w.reason,
                "expires": w.expires.isoformat(),
            }
            for v, w in waived
        ]
        result.message = str(RequirementFailed(error.summary, standing)) if standing else error.summary
        if standing:
            result.outcome = Outcome.FAIL.value
            report.longrepr = result.message
        else:
            result.outcome = Outcome.WAIVED.value
            report.outcome = "passed"
            report.longrepr = None
    elif isinstance(error, CheckError):
        result.outcome = Outcome.ERROR.value
        result.message = str(error)
        report.longrepr = f"error: {error}"  # a person's message, not a traceback
    elif error is not None:
        result.outcome = Outcome.FAIL.value if isinstance(error, AssertionError) else Outcome.ERROR.value
        result.message = f"{type(error).__name__}: {error}"
    report.user_properties.append((_PROPERTY, json.dumps(result.__dict__)))
    return report


def _result_of(report: pytest.TestReport) -> ScenarioResult | None:
    for name, value in getattr(report, "user_properties", ()):
        if name == _PROPERTY:
            return ScenarioResult(**json.loads(value))
    return None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    result = _result_of(report)
    if result is None:
        return None
    if result.outcome == Outcome.NOT_OBSERVABLE.value:
        return "not observable", "n", ("NOT OBSERVABLE", {"yellow": True})
    if result.outcome == Outcome.WAIVED.value:
        return "waived", "w", ("WAIVED", {"yellow": True})
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    result = _result_of(report)
    if result is not None and _CONFIG is not None:
        _CONFIG.stash[_RESULTS].append(result)


_CONFIG: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _CONFIG
    _CONFIG = session.config


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return  # xdist workers send their reports to the controller, which writes the files once
    results = config.stash[_RESULTS]
    today = dt.date.today()
    expired = [w for w in config.stash[_WAIVERS] if w.expired(today)]
    if not results and not expired:
        return
    run = RunReport(
        target=config.getoption("target"),
        environment=config.getoption("env"),
        generated_at=now_iso(),
        scenarios=results,
        expired_waivers=[
            {
                "requirement": w.requirement,
                "resource": w.resource,
                "reason": w.reason,
                "expires": w.expires.isoformat(),
            }
            for w in expired
        ],
    )
    config.stash[_PATHS] = write_reports(run, config.getoption("report_dir"))
    if expired and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_PATHS = pytest.StashKey[list[Path]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    paths = config.stash.get(_PATHS, [])
    if not paths:
        return
    today = dt.date.today()
    for waiver in config.stash[_WAIVERS]:
        if waiver.expired(today):
            terminalreporter.write_line(
                f"EXPIRED WAIVER: {waiver.requirement} on {waiver.resource} expired {waiver.expires} "
                f"({waiver.reason}); renew or remove it",
                red=True,
            )
    terminalreporter.write_line("conformance reports: " + ", ".join(str(p) for p in paths))
