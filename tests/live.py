"""A real `serve` process for the tests that need one (the dashboard in a browser, several
hosts on one database): the command line against a database, and a server on a free port."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def app_cli(env: dict[str, str], *args: str) -> str:
    """`python -m app ...` with `env` (DATABASE_URL and settings); its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def new_key(env: dict[str, str], role: str, name: str) -> str:
    """A key made on the command line (printed alone on its last line)."""
    return app_cli(env, "keys", "create", "--role", role, "--name", name).strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], *, log: IO[str] | None = None) -> Iterator[str]:
    """`python -m app serve` on a free port, once /readyz answers: its base URL. Stopped
    afterwards."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {base} did not start")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
