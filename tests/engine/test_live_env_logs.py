"""A failed live run keeps its emulator's log (the work folder goes at exit) and says where it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.facts import Facts
from conformance.targets.localstack import LocalStackTarget
from conformance.terraform import find_terraform
from tests.engine import live_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.slow  # terraform init and apply against a private moto (about half a minute)
def test_a_failed_live_apply_keeps_the_emulator_log_and_prints_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        find_terraform()
    except Exception as exc:
        pytest.skip(str(exc))
    monkeypatch.setattr(live_env, "KEPT_LOGS", tmp_path / "kept")
    project = tmp_path / "project"
    dev = project / "infra" / "terraform" / "environments" / "dev"
    dev.mkdir(parents=True)
    (dev / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 5.100" }\n  }\n}\n'
        'resource "aws_db_instance" "broken" {\n  identifier = "broken"\n  engine = "no-such-engine"\n'
        '  instance_class = "db.t3.micro"\n  username = "u"\n  password = "password-123"\n'
        "  allocated_storage = 20\n  skip_final_snapshot = true\n}\n"
    )
    with pytest.raises(live_env.LiveEnvFailed) as caught:
        live_env.live_env("dev", project)
    message = str(caught.value)
    assert "aws_db_instance.broken" in message  # the target's own cause
    found = re.search(r"--- emulator log kept at (\S+) ", message)
    assert found, message
    kept = Path(found.group(1))
    assert kept.parent == tmp_path / "kept"
    [log] = kept.glob("moto-*.log")
    assert "POST / HTTP/1.1" in log.read_text()  # the emulator's side of the failed apply survived
    assert not (live_env.PROJECT_ROOT / ".work" / "test-live" / kept.name).exists()  # the work folder is gone
    # The other tests of the session get the same message, without a second apply.
    with pytest.raises(live_env.LiveEnvFailed) as again:
        live_env.live_env("dev", project)
    assert str(again.value) == message


def test_a_failed_test_that_used_a_live_env_keeps_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_env, "KEPT_LOGS", tmp_path / "kept")
    work = tmp_path / "run-abc"
    log = work / "emulator" / "logs" / "moto-41000.log"
    log.parent.mkdir(parents=True)
    log.write_text('127.0.0.1 - - "POST / HTTP/1.1" 500 -\n')
    endpoint = "http://127.0.0.1:41000"
    target = LocalStackTarget(live_env.context(work, endpoint))
    env = live_env.LiveEnv(target, Facts(target="localstack", environment="dev"), endpoint, work)
    monkeypatch.setattr(live_env, "_USERS", {})  # this session's real users are restored after the test
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/engine/test_x.py::test_uses_it (call)")
    live_env._note_user(env)  # what live_env() does for the test that calls it
    kept = live_env.keep_logs_of_failed_test("tests/engine/test_x.py::test_uses_it")
    assert kept == tmp_path / "kept" / "run-abc"
    assert (kept / "moto-41000.log").read_text() == log.read_text()
    assert live_env.keep_logs_of_failed_test("tests/engine/test_x.py::test_did_not") is None
    assert f"(kept at {kept})" in live_env.emulator_log_tail(env)
