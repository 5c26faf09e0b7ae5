"""Another HTTP server on the port a moto launch wanted: what a launcher waiting for "any answer" took for moto.

Shared by the launcher's own tests (tests/runner/test_moto_launcher.py) and the conformance starts built on it
(tests/engine/test_emulator_start.py). Import the fixture by name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


class _Impostor(BaseHTTPRequestHandler):
    """Answers every request with 200 "impostor"."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"impostor")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def impostor() -> Iterator[int]:
    """Another HTTP server listening on 127.0.0.1 (a port of its own, in this process); yields its port."""
    server = HTTPServer(("127.0.0.1", 0), _Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
