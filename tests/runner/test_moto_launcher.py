"""The one moto launcher accepts only its own child as the emulator, never another server that answers on the port.

Real processes throughout: a real HTTP server holds the port (in this process, so the test knows its pid), real
``python -m moto.server`` children lose the race for it. The race itself (a free port taken between the probe and
moto's bind) is made certain by handing the launcher the occupied port where it would pick a free one.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from services.runner import procs
from services.runner.moto_launcher import MotoStartError, PortTaken, start_moto_server

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # moto servers start


def _body(endpoint: str) -> bytes:
    try:
        with urllib.request.urlopen(endpoint, timeout=5) as response:  # noqa: S310 - loopback
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        return bytes(exc.read())


def test_the_impostor_answers_http(impostor: int) -> None:
    # The premise of the tests below: a launcher that waited for "anything answers" would have accepted it.
    assert _body(f"http://127.0.0.1:{impostor}") == b"impostor"


def test_a_taken_fixed_port_fails_fast_naming_port_and_listener(impostor: int, tmp_path: Path) -> None:
    with pytest.raises(PortTaken) as caught:
        start_moto_server(impostor, lambda port: tmp_path / f"moto-{port}.log", timeout_s=30)
    message = str(caught.value)
    assert f"127.0.0.1:{impostor}" in message
    assert f"pid {os.getpid()} (" in message  # the other listener: this test process
    assert str(tmp_path / f"moto-{impostor}.log") in message
    assert caught.value.port == impostor
    assert "Address already in use" in (tmp_path / f"moto-{impostor}.log").read_text()
    assert _body(f"http://127.0.0.1:{impostor}") == b"impostor"  # untouched


def test_a_lost_free_port_moves_to_a_fresh_one(impostor: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The race of a free port made certain: the first "free" port the launcher picks is already taken.
    real_free_port = procs.free_port
    picks = iter([impostor])
    monkeypatch.setattr(procs, "free_port", lambda: next(picks, None) or real_free_port())
    server = start_moto_server(None, lambda port: tmp_path / f"moto-{port}.log", timeout_s=60)
    try:
        assert server.port != impostor
        assert procs.listens_on(server.process.pid, server.port)  # the listener is the child itself
        assert b"impostor" not in _body(server.endpoint + "/moto-api/")
        assert "Address already in use" in (tmp_path / f"moto-{impostor}.log").read_text()  # the lost attempt
    finally:
        server.stop()
    assert not procs.is_listening(server.port)


def test_gives_up_after_a_bounded_number_of_lost_ports(
    impostor: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procs, "free_port", lambda: impostor)
    with pytest.raises(PortTaken, match=rf"lost its port to another process 2 times in a row .*port {impostor}"):
        start_moto_server(None, lambda port: tmp_path / f"moto-{port}.log", attempts=2, timeout_s=30)


def test_a_child_that_fails_otherwise_is_not_retried(tmp_path: Path) -> None:
    logs: list[int] = []

    def log_for(port: int) -> Path:
        logs.append(port)
        return tmp_path / f"moto-{port}.log"

    with pytest.raises(
        MotoStartError, match=r"moto exited at start \(code 1\) on port \d+: .*No module named"
    ) as caught:
        start_moto_server(None, log_for, module="no_such_moto_entry_point", timeout_s=30)
    assert not isinstance(caught.value, PortTaken)
    assert len(logs) == 1  # one attempt: another port would not help


def test_listeners_are_read_from_the_kernel_with_their_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert procs.listeners(port) == []  # bound, not listening
        sock.listen()
        [listener] = procs.listeners(port)
        assert listener.address == f"127.0.0.1:{port}"
        assert procs.listens_on(os.getpid(), port)
        assert f"pid {os.getpid()} (" in procs.describe_listeners(port)
    assert procs.describe_listeners(port) == "no listener now"
    if socket.has_ipv6:
        try:
            six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            six.bind(("::", 0))
        except OSError:
            return  # no IPv6 on this machine
        with six:
            six.listen()
            port = six.getsockname()[1]
            assert [listener.address for listener in procs.listeners(port)] == [f"[::]:{port}"]


def test_the_platforms_aws_component_uses_the_launcher(impostor: int, tmp_path: Path) -> None:
    from services.runner import stores

    log = tmp_path / "aws.log"
    with pytest.raises(RuntimeError, match=rf"aws: moto could not bind 127.0.0.1:{impostor}: the port is taken by pid"):
        stores.start_aws(tmp_path, impostor, log, "", move_if_taken=False)  # a pinned port
    comp = stores.start_aws(tmp_path, impostor, log, "", move_if_taken=True)  # the conventional port, lost
    try:
        assert comp.port != impostor
        assert comp.url == f"http://127.0.0.1:{comp.port}"
        assert procs.listens_on(comp.pid, comp.port)
    finally:
        procs.stop_process(comp.pid, comp.start_ticks)
    assert log.read_text().count("Address already in use") == 2  # both lost starts are in the component's log
