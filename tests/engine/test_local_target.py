"""`pytest --target=local`: the platform comes up on this machine, every application scenario is green, the
infrastructure ones are not observable here, and nothing is left running afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPLICATION_AREAS = ("REQ-SHOP-", "REQ-ORD-", "REQ-CACHE-", "REQ-RES-", "REQ-SEC-", "REQ-TEN-")


@pytest.mark.slow
def test_the_application_requirements_hold_on_the_local_platform(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", str(ROOT / "steps"), f"--rootdir={ROOT}", "--target=local"]
    command += ["-p", "no:cacheprovider", "-q", f"--report-dir={tmp_path}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    output = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    report = json.loads((tmp_path / "conformance-local-dev.json").read_text())
    outcomes = report["requirements"]
    application = {r: o for r, o in outcomes.items() if r.startswith(APPLICATION_AREAS)}
    assert len(application) >= 20, application
    assert set(application.values()) == {"pass"}, application
    others = {o for r, o in outcomes.items() if r not in application}
    assert others == {"not observable"}, output
    assert "Traceback" not in output
