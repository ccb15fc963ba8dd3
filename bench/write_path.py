"""The write path, measured: posting payments through the API (a real uvicorn process with
2 workers, 16 concurrent clients on loopback) against
  - single-row durable commits through the raw driver (sqlite3 with WAL and synchronous=FULL;
    psycopg with synchronous_commit on), 16 threads, and
  - a bare FastAPI endpoint doing one Core insert per request (bench/bare_app.py), same load.
Reports throughput, p50/p99 latency and the ratios that docs/PERFORMANCE.md tracks.

    python bench/write_path.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ROOT,
    cli,
    free_port,
    new_key,
    percentile,
    scratch_database,
    start_server,
    wrk,
)


async def _drive(
    url: str, make_body: Any, headers: dict[str, str], *, total: int, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            for i in counter:
                started = time.perf_counter()
                response = await client.post(url, json=make_body(i), headers=headers)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 201

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": total,
        "failures": failures,
        "per_second": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


def _wrk(
    base: str,
    path: str,
    body: str,
    auth: str,
    *,
    seconds: int,
    concurrency: int,
    projects: str = "0",
) -> dict[str, float]:
    """POST the payment template with wrk and bench/post.lua."""
    env = {"WRK_PATH": path, "WRK_BODY": body, "WRK_AUTH": auth, "WRK_PROJECTS": projects}
    return wrk(
        base,
        seconds=seconds,
        concurrency=concurrency,
        script=Path(__file__).with_name("post.lua"),
        env=env,
    )


def _raw_driver(url: str, *, total: int, concurrency: int) -> dict[str, float]:
    """Durable single-row commits with the bare driver, `concurrency` threads."""
    counter = iter(range(total))
    lock = threading.Lock()
    tag = uuid.uuid4().hex[:6]
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")

        def connect() -> Any:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            return conn

        setup = connect()
        setup.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw "
            "(id INTEGER PRIMARY KEY, amount INTEGER, voucher_no TEXT UNIQUE)"
        )
        setup.close()
        insert = "INSERT INTO bench_raw (amount, voucher_no) VALUES (?, ?)"

        def one(conn: Any, i: int) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, (i, f"{tag}-{i}"))
            conn.execute("COMMIT")
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")

        def connect() -> Any:
            conn = psycopg.connect(dsn, autocommit=False)
            conn.execute("SET synchronous_commit = on")
            return conn

        setup = connect()
        setup.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw "
            "(id serial PRIMARY KEY, amount bigint, voucher_no text UNIQUE)"
        )
        setup.commit()
        setup.close()

        def one(conn: Any, i: int) -> None:
            conn.execute(
                "INSERT INTO bench_raw (amount, voucher_no) VALUES (%s, %s)", (i, f"{tag}-{i}")
            )
            conn.commit()

    latencies: list[float] = []

    def worker() -> None:
        conn = connect()
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                one(conn, i)
                latencies.append(time.perf_counter() - started)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": total,
        "per_second": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


def post_payments(
    base: str,
    finance: str,
    projects: list[int],
    *,
    paid_on: str,
    total: int,
    concurrency: int,
    seconds: int,
) -> dict[str, float]:
    """Payments of 123.45 round the projects, each with a voucher number of its own,
    measured by `_load`."""
    tag = uuid.uuid4().hex[:6]
    payment = {
        "amount": "123.45",
        "paid_on": paid_on,
        "payee": "合成收款单位",
        "funding_source": "county",
    }
    template = (
        json.dumps({**payment, "project_id": "@P@", "voucher_no": f"{tag}-@N@"}, ensure_ascii=False)
        .replace('"@P@"', "{p}")
        .replace("@N@", "{n}")
    )
    return _load(
        base,
        "/api/v1/disbursements",
        lambda i: {
            **payment,
            "project_id": projects[i % len(projects)],
            "voucher_no": f"{tag}-{i}",
        },
        template,
        f"Bearer {finance}",
        total=total,
        concurrency=concurrency,
        seconds=seconds,
        projects=",".join(str(p) for p in projects),
    )


def _load(
    base: str,
    path: str,
    make_body: Any,
    template: str,
    auth: str,
    *,
    total: int,
    concurrency: int,
    seconds: int,
    projects: str = "0",
) -> dict[str, float]:
    """Warm up, then measure: with wrk when it is installed, else with the Python client."""
    if shutil.which("wrk"):
        _wrk(
            base,
            path,
            template.replace("{n}", "warm-{n}"),
            auth,
            seconds=2,
            concurrency=concurrency,
            projects=projects,
        )
        return _wrk(
            base, path, template, auth, seconds=seconds, concurrency=concurrency, projects=projects
        )
    headers = {"Authorization": auth} if auth else {}
    asyncio.run(
        _drive(
            base + path,
            lambda i: make_body(10_000_000 + i),
            headers,
            total=200,
            concurrency=concurrency,
        )
    )
    return asyncio.run(
        _drive(base + path, make_body, headers, total=total, concurrency=concurrency)
    )


def _floors(
    url: str, *, total: int, concurrency: int, workers: int, seconds: int
) -> dict[str, dict[str, float]]:
    """The framework floor: bench/bare_app.py's /bare (one Core insert) and /noop (no
    database at all), under the same load as the API."""
    import sqlalchemy as sa

    from bench.bare_app import metadata

    engine = sa.create_engine(url)
    metadata.create_all(engine)  # once, before the workers start
    engine.dispose()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        tag = uuid.uuid4().hex[:6]
        floors = {}
        for path in ("/bare", "/noop"):
            floors[path] = _load(
                f"http://127.0.0.1:{port}",
                path,
                lambda i: {"amount": "123.45", "voucher_no": f"{tag}-{i}"},
                '{"amount": "123.45", "voucher_no": "' + tag + '-{n}"}',
                "",
                total=total,
                concurrency=concurrency,
                seconds=seconds,
            )
        return floors
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(
    database_url: str | None,
    *,
    total: int = 3000,
    concurrency: int = 16,
    workers: int = 2,
    seconds: int = 15,
) -> dict[str, Any]:
    with scratch_database(database_url) as url:
        cli(url, "migrate")
        admin, finance = new_key(url, "admin"), new_key(url, "finance")
        server = start_server(url, port=free_port(), workers=workers)
        try:
            headers = {"Authorization": f"Bearer {admin}"}
            programme = httpx.post(
                server.base_url + "/api/v1/programmes",
                headers=headers,
                json={
                    "code": "BENCH",
                    "name": "写入基准（合成）",
                    "region": "基准县",
                    "start_year": 2021,
                    "end_year": 2025,
                },
            ).json()
            item = httpx.post(
                server.base_url + f"/api/v1/programmes/{programme['id']}/plan-items",
                headers=headers,
                json={"code": "基准", "name": "合成"},
            ).json()
            projects = [
                httpx.post(
                    server.base_url + "/api/v1/projects",
                    headers=headers,
                    json={
                        "code": f"W-{n}",
                        "name": "合成项目",
                        "plan_item_id": item["id"],
                        "category": "new_build",
                        "original_estimate": "999999999999.99",
                        "budget_policy": "block",
                    },
                ).json()["id"]
                for n in range(8)
            ]
            api = post_payments(
                server.base_url,
                finance,
                projects,
                paid_on="2023-06-30",
                total=total,
                concurrency=concurrency,
                seconds=seconds,
            )
            # The load must leave the audit chain whole: gapless, unforked, every hash right.
            audit = httpx.get(
                server.base_url + "/api/v1/audit/verify", headers=headers, timeout=300
            ).json()
        finally:
            server.stop()
        floors = _floors(
            url, total=total, concurrency=concurrency, workers=workers, seconds=seconds
        )
        bare, noop = floors["/bare"], floors["/noop"]
        raw = _raw_driver(url, total=total, concurrency=concurrency)
    engine = "postgresql" if url.startswith("postgresql") else "sqlite"
    return {
        "engine": engine,
        "load_generator": "wrk" if shutil.which("wrk") else "python httpx",
        "concurrency": concurrency,
        "workers": workers,
        "api": api,
        "audit_chain_ok": audit["ok"],
        "bare_endpoint": bare,
        "framework_without_database": noop,
        "raw_driver": raw,
        "api_vs_raw": round(api["per_second"] / raw["per_second"], 2),
        "api_vs_bare": round(api["per_second"] / bare["per_second"], 2),
        "bare_vs_raw": round(bare["per_second"] / raw["per_second"], 2),
        "noop_vs_raw": round(noop["per_second"] / raw["per_second"], 2),
        "api_p99_over_p50": round(api["p99_ms"] / api["p50_ms"], 2),
        "targets": {
            "api_vs_raw": 0.25 if engine == "sqlite" else 0.5,
            "api_vs_bare": 0.6,
            "api_p99_over_p50": 5,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15, help="per measurement, with wrk")
    args = parser.parse_args()
    result = run(
        args.database_url,
        total=args.requests,
        concurrency=args.concurrency,
        workers=args.workers,
        seconds=args.seconds,
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
