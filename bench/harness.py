"""Shared pieces for the scripts in bench/: a real server process, a scratch database, keys."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wrk(
    url: str,
    *,
    seconds: int,
    concurrency: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: int | None = None,
) -> dict[str, float]:
    """Load `url` with wrk (a C load generator, so the client costs little CPU): GET, or what
    a Lua `script` sends. Returns the request count, non-2xx/3xx responses, requests per
    second and p50/p99 latency in ms."""
    command = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency)]
    command += ["-d", f"{seconds}s", "--latency"]
    if timeout_s is not None:
        command += ["--timeout", f"{timeout_s}s"]
    if script is not None:
        command += ["-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    total = re.search(r"([0-9]+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    timeouts = re.search(r"Socket errors:.*timeout ([0-9]+)", out)
    assert rps and total, out
    return {
        "requests": int(total.group(1)),
        "failures": (int(errors.group(1)) if errors else 0)
        + (int(timeouts.group(1)) if timeouts else 0),
        "per_second": float(rps.group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_database(base_url: str | None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a new database on the PostgreSQL server
    that `base_url` points at (dropped afterwards)."""
    if not base_url or base_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    url = make_url(base_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"captrack_bench_{uuid.uuid4().hex[:8]}"
    # No pool: a connection kept from before a server restart (bench/mixed_load.py) is dead.
    admin = sa.create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def cli(database_url: str, *args: str) -> str:
    """Run `python -m app ...` against the database; return its standard output."""
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"python -m app {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def new_key(database_url: str, role: str) -> str:
    return (
        cli(database_url, "keys", "create", "--role", role, "--name", f"bench {role}")
        .strip()
        .splitlines()[-1]
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str

    def kill_hard(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush, as in a power cut."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_hard()


# Benchmarks measure the service, not its rate limits (tests/guard does): the settings that
# lift them, as environment variables.
UNLIMITED = {"WRITE_RATE_LIMIT": "1000000/minute", "AUTH_FAILURE_RATE_LIMIT": "1000000/minute"}


def start_server(
    database_url: str, *, port: int, workers: int = 1, env: dict[str, str] | None = None
) -> Server:
    """`python -m app serve` in its own process group; returns once /readyz answers 200."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            **UNLIMITED,
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("the server did not become ready within 60 s")
