"""The conformance suite's emulator starts never take another server on the port for their own moto.

A real HTTP server (in this process) holds the port; ``start_moto`` on that port must refuse it with a clear error,
and a private emulator (``start_moto(None)``, ``ensure_emulator`` on port 0) must move to a port of its own.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from conformance.emulator import ensure_emulator, start_moto
from conformance.outcomes import CheckError
from services.runner import procs

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # moto servers start


def test_start_moto_refuses_a_port_another_server_answers_on(impostor: int, tmp_path: Path) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{impostor}", timeout=5) as response:
        assert response.read() == b"impostor"  # what the old "wait until it answers" accepted as the emulator
    with pytest.raises(CheckError) as caught:
        start_moto(impostor, tmp_path)
    message = str(caught.value)
    assert f"moto could not bind 127.0.0.1:{impostor}: the port is taken by pid {os.getpid()} (" in message
    assert str(tmp_path / f"moto-{impostor}.log") in message


def test_a_private_emulator_moves_off_a_port_it_lost(
    impostor: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The free-port race made certain: the first free port the launcher picks is already the impostor's.
    real_free_port = procs.free_port
    picks = iter([impostor])
    monkeypatch.setattr(procs, "free_port", lambda: next(picks, None) or real_free_port())
    emulator = ensure_emulator("http://127.0.0.1:0", tmp_path)  # the shimmed moto, as the localstack target starts it
    try:
        assert emulator.process is not None
        assert emulator.endpoint != f"http://127.0.0.1:{impostor}"
        port = int(emulator.endpoint.rsplit(":", 1)[1])
        assert procs.listens_on(emulator.process.pid, port)
        assert "Address already in use" in (tmp_path / f"moto-{impostor}.log").read_text()
    finally:
        emulator.stop()
