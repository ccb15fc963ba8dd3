"""Slow clients against a live server (uvicorn on a free port, started as `serve` starts it):
a body that stops arriving is answered 408 within the read timeout, an idle kept-alive
connection is closed, and connections dribbling their headers (which uvicorn has no timeout
for: the proxy's job, README Deployment) hold no one else up. And a key sent in the address
never reaches the access log. Bounded: each wait is the setting plus a margin."""

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import Connection

from app.cli import server_options
from app.config import Settings
from tests.factories import Keys
from tests.guard.test_middleware import make_app

READ_TIMEOUT = 1.0
KEEP_ALIVE = 1
MARGIN = 5.0  # a shared, busy machine


@dataclass
class Live:
    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self) -> socket.socket:
        conn = socket.create_connection((self.host, self.port), timeout=READ_TIMEOUT + MARGIN)
        return conn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(settings: Settings, connection: Connection) -> Iterator[Live]:
    app = make_app(
        settings,
        connection,
        body_read_timeout_seconds=READ_TIMEOUT,
        keep_alive_seconds=KEEP_ALIVE,
        log_level="INFO",
    )
    port = _free_port()
    options = server_options(app.state.settings)
    # No logging configuration of uvicorn's own: its records reach the test's capture.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Live("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _read_until_closed(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_a_body_that_stops_arriving_is_a_408_and_others_are_served(live: Live, keys: Keys) -> None:
    key = keys.admin["Authorization"]
    with live.connect() as slow:
        slow.sendall(
            b"POST /api/v1/sites HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: {key}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"region": '
        )
        began = time.monotonic()
        with httpx.Client(base_url=live.base, timeout=MARGIN) as other:
            assert other.get("/healthz").status_code == 200
            assert other.get("/api/v1/sites", headers=keys.viewer).status_code == 200
        answer = _read_until_closed(slow)
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"application/problem+json" in answer
    assert b"did not arrive within 1 seconds" in answer
    assert READ_TIMEOUT * 0.9 <= waited < READ_TIMEOUT + MARGIN


def test_an_idle_kept_alive_connection_is_closed(live: Live) -> None:
    with live.connect() as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        began = time.monotonic()
        answer = _read_until_closed(idle)  # the answer, then the close
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert waited < KEEP_ALIVE + MARGIN


def test_connections_dribbling_headers_hold_no_one_up(live: Live, keys: Keys) -> None:
    dribbling = [live.connect() for _ in range(20)]
    try:
        for conn in dribbling:
            conn.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: test\r\n")
        with httpx.Client(base_url=live.base, timeout=MARGIN) as other:
            for n in range(5):
                for conn in dribbling:
                    conn.sendall(f"X-Slow-{n}: 1\r\n".encode())
                assert other.get("/api/v1/sites", headers=keys.viewer).status_code == 200
    finally:
        for conn in dribbling:
            conn.close()


def test_a_key_in_the_address_never_reaches_the_log(
    live: Live, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    secret = keys.admin["Authorization"].removeprefix("Bearer ")
    app_log = logging.getLogger("app")
    app_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG), httpx.Client(base_url=live.base) as client:
            refused = client.get("/api/v1/sites", params={"api_key": secret, "q": "x"})
            also = client.get(f"/api/v1/sites?token={secret}", headers=keys.viewer)
            sure = client.get("/api/v1/sites", params={"q": secret})
    finally:
        app_log.removeHandler(caplog.handler)
    assert refused.status_code == also.status_code == sure.status_code == 400
    # The server's records (the client's own, httpx's, are not the server's log).
    server = [r for r in caplog.records if r.name.split(".")[0] in ("uvicorn", "app")]
    access = [r.getMessage() for r in server if r.name == "uvicorn.access"]
    assert any("/api/v1/sites?api_key=REDACTED&q=x" in line for line in access), access
    assert len(access) == 3
    assert [r.getMessage() for r in server if secret in r.getMessage()] == []
