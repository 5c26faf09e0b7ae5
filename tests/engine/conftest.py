"""Engine tests: keep the live emulator's log when a test that used the shared live environment fails; the impostor
fixture of the moto launcher tests (tests/runner/impostor.py) for the conformance starts built on it."""

from __future__ import annotations

import sys
from collections.abc import Generator

import pytest
from pluggy import Result

from tests.runner.impostor import impostor

__all__ = ["impostor"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    # Only where a live environment can exist: live_env is imported by the tests that use one.
    live_env = sys.modules.get("tests.engine.live_env")
    if live_env is None or not report.failed or report.when not in ("setup", "call"):
        return
    kept = live_env.keep_logs_of_failed_test(item.nodeid)
    if kept is not None:
        # A section of the failure report: printed under the failure, also when it comes from an xdist worker.
        report.sections.append(("emulator log", f"the live environment's emulator log is kept at {kept}"))
