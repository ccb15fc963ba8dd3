"""Reports and exports, measured on a generated programme (bench/generate.py), one engine a run:

  - the portfolio report by plan item through the API (a real uvicorn, 2 workers), current and
    as of a date, against the hand-written SQL it would need without balance rows (run
    through the raw driver on the same database);
  - the same current aggregate served as JSON by datasette over the same SQLite file;
  - the CSV export of every ledger entry: rows per second and the server's peak RSS;
  - each with the report cache off and on, cold (the first request after the server starts)
    and warm (the median of the requests after it): the portfolio of every programme (the
    whole province, bench/generate.py --programmes), current, as of --as-of and as of
    --as-of-recent (a day in the data's last month); the monthly time series of every
    programme; the report of the project with the most entries, current and as of --as-of;
  - with --write-path, bench/write_path.py's measurement of posting payments as well.

    python bench/reports.py --database-url URL [--json out.json] [--write-path]
        [--cold-warm-only]

"Cold" is the server's: the database's own caches are as the runs before left them.

An endpoint this build doesn't have (404/405/422, or no CSV) is reported as not available and
the run goes on. Timings are medians; the ratios are taken within one run.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import free_port, new_key, percentile, start_server, wrk  # noqa: E402

PROGRAMME = "SYN"
BALANCE_TABLES = (
    "project_balance budget_line_balance contract_balance project_funding project_month "
    "budget_line_month contract_month funding_month"
).split()
# The aggregate the portfolio would need without balance rows: every entry, every time.
HAND_CURRENT = """
SELECT i.code AS plan_item,
       COUNT(*) AS projects,
       SUM(p.original_estimate) AS original_estimate,
       SUM(p.revised_estimate) AS revised_estimate,
       SUM(COALESCE(d.disbursed, 0)) AS disbursed
FROM project p
JOIN plan_item i ON i.id = p.plan_item_id
JOIN programme g ON g.id = i.programme_id
LEFT JOIN (
  SELECT project_id, SUM(amount) AS disbursed FROM disbursement GROUP BY project_id
) d ON d.project_id = p.id
WHERE g.code = :programme
GROUP BY i.code
ORDER BY i.code
"""
# As of a date: entries dated up to it, and the revision in force then (else the original).
HAND_AS_OF = """
SELECT i.code AS plan_item,
       COUNT(*) AS projects,
       SUM(p.original_estimate) AS original_estimate,
       SUM(COALESCE((
         SELECT r.new_estimate FROM project_revision r
         WHERE r.project_id = p.id AND r.approved_on <= :as_of
         ORDER BY r.approved_on DESC, r.id DESC LIMIT 1
       ), p.original_estimate)) AS revised_estimate,
       SUM(COALESCE(d.disbursed, 0)) AS disbursed
FROM project p
JOIN plan_item i ON i.id = p.plan_item_id
JOIN programme g ON g.id = i.programme_id
LEFT JOIN (
  SELECT project_id, SUM(amount) AS disbursed FROM disbursement
  WHERE paid_on <= :as_of GROUP BY project_id
) d ON d.project_id = p.id
WHERE g.code = :programme
GROUP BY i.code
ORDER BY i.code
"""
NOT_AVAILABLE = (404, 405, 422)

Query = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]


@contextmanager
def raw_driver(database_url: str) -> Iterator[Query]:
    """Run SQL with :named parameters through sqlite3 or psycopg, no SQLAlchemy in between."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            yield lambda sql, params: conn.execute(sql, params).fetchall()
        finally:
            conn.close()
        return
    import psycopg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as pg:

        def query(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            for name in params:
                sql = sql.replace(f":{name}", f"%({name})s")
            return pg.execute(sql.encode(), params).fetchall()

        yield query


def time_sql(query: Query, sql: str, params: dict[str, Any], *, runs: int) -> dict[str, Any]:
    """Median of `runs` executions after one to warm the cache."""
    rows = query(sql, params)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        query(sql, params)
        samples.append(time.perf_counter() - started)
    return {
        "runs": runs,
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "min_ms": round(min(samples) * 1000, 2),
        "groups": len(rows),
        "disbursed_total": str(yuan(sum(int(row[4]) for row in rows))),
        "rows": [[str(value) for value in row] for row in rows],
    }


def yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


async def _gets(url: str, headers: dict[str, str], *, seconds: int, concurrency: int) -> Any:
    """GET load from Python, where wrk is missing: `concurrency` clients for `seconds`."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "failures": failures,
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


def measure_get(
    url: str,
    headers: dict[str, str],
    *,
    requests: int,
    budget_s: float,
    concurrency: int,
    seconds: int,
) -> dict[str, Any]:
    """Sequential requests after warm-up (median latency, requests/s), then `concurrency`
    clients for `seconds`. {"available": False, ...} when the endpoint isn't in this build."""
    with httpx.Client(timeout=600, headers=headers) as client:
        probe = client.get(url)
        if probe.status_code != 200:
            return {"available": False, "status": probe.status_code, "detail": probe.text[:500]}
        body = probe.json()
        client.get(url)
        samples: list[float] = []
        started = time.perf_counter()
        while len(samples) < requests and (
            len(samples) < 5 or time.perf_counter() - started < budget_s
        ):
            before = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - before)
            assert response.status_code == 200, response.text[:500]
        elapsed = time.perf_counter() - started
    if shutil.which("wrk"):
        loaded = wrk(url, seconds=seconds, concurrency=concurrency, headers=headers, timeout_s=120)
    else:
        loaded = asyncio.run(_gets(url, headers, seconds=seconds, concurrency=concurrency))
    return {
        "available": True,
        "bytes": len(probe.content),
        "sequential": {
            "requests": len(samples),
            "median_ms": round(statistics.median(samples) * 1000, 2),
            "per_second": round(len(samples) / elapsed, 1),
        },
        "concurrent": {"clients": concurrency, **loaded},
        "body": body,
    }


def api_disbursed_total(body: Any) -> Decimal | None:
    """The portfolio's total disbursed, wherever the report puts it (a totals object, or
    the sum over its groups); None if it can't be found."""
    if not isinstance(body, dict):
        return None
    for key in ("totals", "total"):
        if isinstance(body.get(key), dict) and "disbursed" in body[key]:
            return Decimal(body[key]["disbursed"])
    for key in ("groups", "items", "rows"):
        groups = body.get(key)
        if isinstance(groups, list) and groups and all("disbursed" in g for g in groups):
            return sum((Decimal(g["disbursed"]) for g in groups), Decimal(0))
    return None


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system): on a shared machine, steadier than the
    wall-clock time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_csv(database_url: str, key: str, expected_rows: int) -> dict[str, Any]:
    """Stream every ledger entry as CSV from a one-worker server; count the lines, read the
    worker's CPU time spent on the export and its peak RSS (VmHWM) before and after."""
    server = start_server(database_url, port=free_port(), workers=1)
    try:
        pid = server.process.pid
        url = f"{server.base_url}/api/v1/disbursements?format=csv"
        headers = {"Authorization": f"Bearer {key}"}
        before = vm_kb(pid, "VmHWM")
        cpu_before = cpu_seconds(pid)
        newlines = 0
        started = time.perf_counter()
        with httpx.stream("GET", url, headers=headers, timeout=3600) as response:
            kind = response.headers.get("content-type", "")
            if response.status_code in NOT_AVAILABLE or "csv" not in kind:
                return {"available": False, "status": response.status_code, "content_type": kind}
            if response.status_code != 200:
                return {"available": False, "status": response.status_code}
            first = b""
            for chunk in response.iter_bytes():
                first = first or chunk[:200]
                newlines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        rows = newlines - 1  # the header line
        return {
            "available": True,
            "rows": rows,
            "expected_rows": expected_rows,
            "seconds": round(elapsed, 2),
            "rows_per_second": round(rows / elapsed),
            "server_cpu_seconds": round(cpu_seconds(pid) - cpu_before, 2),
            "rss_peak_mb_before": round(before / 1024, 1),
            "rss_peak_mb": round(vm_kb(pid, "VmHWM") / 1024, 1),
            "starts_with": first.decode("utf-8", "replace").splitlines()[0],
        }
    finally:
        server.stop()


@contextmanager
def datasette(path: str) -> Iterator[str]:
    """`datasette serve` over the SQLite file; yields its base URL."""
    executable = Path(sys.executable).with_name("datasette")
    port = free_port()
    process = subprocess.Popen(
        [
            str(executable if executable.exists() else shutil.which("datasette")),
            "serve",
            path,
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            "60000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("datasette did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def database_facts(query: Query, engine: str, database_url: str) -> dict[str, Any]:
    projects, payments, reversals = query(
        """SELECT (SELECT COUNT(*) FROM project p JOIN plan_item i ON i.id = p.plan_item_id
                   JOIN programme g ON g.id = i.programme_id WHERE g.code = :programme),
                  (SELECT COUNT(*) FROM disbursement WHERE kind = 'payment'),
                  (SELECT COUNT(*) FROM disbursement WHERE kind = 'reversal')""",
        {"programme": PROGRAMME},
    )[0]
    if engine == "sqlite":
        path = str(make_url(database_url).database)
        size = sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
        version = sqlite3.sqlite_version
    else:
        size = query("SELECT pg_database_size(current_database())", {})[0][0]
        version = query("SHOW server_version", {})[0][0]
    return {
        "projects": projects,
        "payments": payments,
        "reversals": reversals,
        "size_mb": round(size / 2**20),
        "engine_version": version,
    }


def database_sizes(query: Query) -> dict[str, Any]:
    """PostgreSQL: the database, the ledger table and each of its indexes, and every balance
    table (each with its indexes), in MB; the number of programmes, projects and rows."""
    mb = 2**20
    sizes: dict[str, Any] = {
        "database_mb": round(query("SELECT pg_database_size(current_database())", {})[0][0] / mb),
        "programmes": query("SELECT COUNT(*) FROM programme", {})[0][0],
        "projects": query("SELECT COUNT(*) FROM project", {})[0][0],
    }
    for table in ("disbursement", *BALANCE_TABLES):
        rows, heap, indexes = query(
            f"SELECT (SELECT COUNT(*) FROM {table}), pg_relation_size('{table}'), "
            f"pg_indexes_size('{table}')",
            {},
        )[0]
        sizes[table] = {
            "rows": rows,
            "table_mb": round(heap / mb, 1),
            "indexes_mb": round(indexes / mb, 1),
        }
    sizes["disbursement"]["each_index_mb"] = {
        name: round(size / mb, 1)
        for name, size in query(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid = 'disbursement'::regclass ORDER BY 1",
            {},
        )
    }
    return sizes


def largest_project(query: Query) -> tuple[str, int]:
    """The code and entry count of the project with the most entries."""
    code, entries = query(
        """SELECT p.code, COUNT(*) FROM disbursement d JOIN project p ON p.id = d.project_id
           GROUP BY p.code ORDER BY COUNT(*) DESC, p.code LIMIT 1""",
        {},
    )[0]
    return str(code), int(entries)


def report_questions(args: argparse.Namespace, project: str) -> dict[str, str]:
    """Name → path of each report measured cold and warm."""
    portfolio = "/api/v1/reports/portfolio?group_by=plan_item"
    return {
        "portfolio_current": portfolio,
        "portfolio_as_of": f"{portfolio}&as_of={args.as_of}",
        "portfolio_as_of_recent": f"{portfolio}&as_of={args.as_of_recent}",
        "timeseries_month": "/api/v1/reports/timeseries?interval=month",
        "project_current": f"/api/v1/projects/{project}/report",
        "project_as_of": f"/api/v1/projects/{project}/report?as_of={args.as_of}",
    }


def cold_and_warm(
    database_url: str,
    path: str,
    headers: dict[str, str],
    *,
    cache_entries: int,
    workers: int,
    requests: int,
    budget_s: float,
) -> dict[str, Any]:
    """A server started for this question alone (REPORT_CACHE_ENTRIES=cache_entries): the
    first request's time (cold), then sequential requests on the same connection (so the
    same worker) for up to `budget_s` seconds, at least 3 (warm: median and min)."""
    server = start_server(
        database_url,
        port=free_port(),
        workers=workers,
        env={"REPORT_CACHE_ENTRIES": str(cache_entries)},
    )
    try:
        with httpx.Client(timeout=3600, headers=headers) as client:
            started = time.perf_counter()
            first = client.get(server.base_url + path)
            cold = time.perf_counter() - started
            if first.status_code != 200:
                return {"available": False, "status": first.status_code, "detail": first.text[:500]}
            samples: list[float] = []
            started = time.perf_counter()
            while len(samples) < requests and (
                len(samples) < 3 or time.perf_counter() - started < budget_s
            ):
                before = time.perf_counter()
                response = client.get(server.base_url + path)
                samples.append(time.perf_counter() - before)
                assert response.status_code == 200, response.text[:500]
    finally:
        server.stop()
    return {
        "available": True,
        "bytes": len(first.content),
        "cold_ms": round(cold * 1000, 1),
        "warm_median_ms": round(statistics.median(samples) * 1000, 2),
        "warm_min_ms": round(min(samples) * 1000, 2),
        "warm_requests": len(samples),
        "disbursed_total": None
        if (total := api_disbursed_total(first.json())) is None
        else str(total),
    }


def measure_cold_warm(args: argparse.Namespace, query: Query, key: str) -> dict[str, Any]:
    """Every report question of `report_questions`, cache off and on, cold and warm; the
    load average is taken before each."""
    project, entries = largest_project(query)
    headers = {"Authorization": f"Bearer {key}"}
    measured: dict[str, Any] = {
        "largest_project": {"code": project, "entries": entries},
        "cache_entries_on": args.cache_entries,
        "reports": {},
    }
    for name, path in report_questions(args, project).items():
        measured["reports"][name] = {"path": path}
        for label, entries_kept in (("cache_off", 0), ("cache_on", args.cache_entries)):
            load = [round(x, 2) for x in os.getloadavg()]
            figures = cold_and_warm(
                args.database_url,
                path,
                headers,
                cache_entries=entries_kept,
                workers=args.workers,
                requests=args.requests,
                budget_s=args.budget,
            )
            measured["reports"][name][label] = {**figures, "load_average": load}
            print(f"{name} {label}: {_brief(figures)} load {load}", flush=True)
    return measured


def measure_posting(args: argparse.Namespace) -> dict[str, Any]:
    """Payments posted through the API into this database itself (the generated ledger and
    balances underneath), `args.post_clients` clients on the 8 busiest projects under the
    warn policy with a county funding plan and no budget lines (a payment on a project with
    budget lines must name one); bench/write_path.py's load (wrk if installed).
    The payments stay: run it last."""
    from bench import write_path

    url = args.database_url
    with raw_driver(url) as query:
        projects = [
            int(row[0])
            for row in query(
                """SELECT p.id FROM project p
                   JOIN project_balance b ON b.project_id = p.id
                   JOIN project_funding f ON f.project_id = p.id
                   JOIN funding_source s ON s.id = f.funding_source_id
                   WHERE p.budget_policy = 'warn' AND p.status = 'implementation'
                     AND s.code = 'county'
                     AND NOT EXISTS (SELECT 1 FROM budget_line l WHERE l.project_id = p.id)
                   ORDER BY b.payments DESC, p.id LIMIT 8""",
                {},
            )
        ]
    finance = new_key(url, "finance")
    server = start_server(url, port=free_port(), workers=args.workers)
    try:
        posted = write_path.post_payments(
            server.base_url,
            finance,
            projects,
            paid_on=args.as_of_recent,
            total=args.post_payments,
            concurrency=args.post_clients,
            seconds=args.write_seconds,
        )
    finally:
        server.stop()
    return {
        "projects": projects,
        "clients": args.post_clients,
        "load_generator": "wrk" if shutil.which("wrk") else "python httpx",
        **posted,
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = Path("/proc/meminfo").read_text().split()[1]  # MemTotal comes first
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(int(memory_kb) / 2**20),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url
    engine = "sqlite" if url.startswith("sqlite") else "postgresql"
    as_of = date.fromisoformat(args.as_of)
    result: dict[str, Any] = {"engine": engine, "machine": machine(), "as_of": args.as_of}
    result["as_of_recent"] = args.as_of_recent
    with raw_driver(url) as query:
        result["database"] = database_facts(query, engine, url)
        if not result["database"]["projects"]:
            raise SystemExit(f"no {PROGRAMME} programme here: run bench/generate.py first")
        print(f"{engine}: {result['database']}", flush=True)
        if engine == "postgresql":
            result["sizes"] = database_sizes(query)
            print(f"sizes: {_brief(result['sizes'])}", flush=True)
        if args.cold_warm_only and not args.skip_cold_warm:
            result["cold_warm"] = measure_cold_warm(args, query, new_key(url, "viewer"))
    if args.cold_warm_only:
        if args.post_payments:
            result["posting"] = measure_posting(args)
            print(f"posting: {_brief(result['posting'])}", flush=True)
        return _finished(result)
    with raw_driver(url) as query:
        params = {"programme": PROGRAMME}
        if not args.csv_only:
            result["hand_sql"] = {
                "current": time_sql(query, HAND_CURRENT, params, runs=args.sql_runs),
                "as_of": time_sql(
                    query, HAND_AS_OF, {**params, "as_of": as_of}, runs=args.sql_runs
                ),
            }
    if args.csv_only:
        _measure_csv_into(result, url, new_key(url, "viewer"))
        return _finished(result)
    print(f"hand SQL: {_brief(result['hand_sql'])}", flush=True)

    key = new_key(url, "viewer")
    headers = {"Authorization": f"Bearer {key}"}
    load = {
        "requests": args.requests,
        "budget_s": args.budget,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
    }
    server = start_server(url, port=free_port(), workers=args.workers)
    try:
        portfolio = f"{server.base_url}/api/v1/reports/portfolio?programme={PROGRAMME}"
        portfolio += "&group_by=plan_item"
        result["api"] = {
            "current": measure_get(portfolio, headers, **load),
            "as_of": measure_get(f"{portfolio}&as_of={args.as_of}", headers, **load),
        }
    finally:
        server.stop()
    # The same questions with the report cache off: every request computes its report.
    cold_load = {**load, "requests": max(3, args.requests // 10), "seconds": args.seconds}
    server = start_server(
        url, port=free_port(), workers=args.workers, env={"REPORT_CACHE_ENTRIES": "0"}
    )
    try:
        portfolio = f"{server.base_url}/api/v1/reports/portfolio?programme={PROGRAMME}"
        portfolio += "&group_by=plan_item"
        result["api_uncached"] = {
            "current": measure_get(portfolio, headers, **cold_load),
            "as_of": measure_get(f"{portfolio}&as_of={args.as_of}", headers, **cold_load),
        }
        for measured in result["api_uncached"].values():
            measured.pop("body", None)
    finally:
        server.stop()
    print(f"API without the report cache: {_brief(result['api_uncached'])}", flush=True)
    for name in ("current", "as_of"):
        measured = result["api"][name]
        body = measured.pop("body", None)
        if measured["available"]:
            total = api_disbursed_total(body)
            hand = result["hand_sql"][name]["disbursed_total"]
            measured["disbursed_total"] = None if total is None else str(total)
            measured["agrees_with_hand_sql"] = None if total is None else total == Decimal(hand)
    print(f"API: {_brief(result['api'])}", flush=True)

    if engine == "sqlite":
        sql = " ".join(HAND_CURRENT.split())
        path = str(make_url(url).database)
        with datasette(path) as base:
            query_string = urlencode({"sql": sql, "programme": PROGRAMME, "_shape": "array"})
            served = measure_get(f"{base}/{Path(path).stem}.json?{query_string}", {}, **load)
        body = served.pop("body", None)
        if served["available"]:
            served_fen = sum(int(row["disbursed"]) for row in body)
            hand = result["hand_sql"]["current"]["disbursed_total"]
            served["agrees_with_hand_sql"] = yuan(served_fen) == Decimal(hand)
        result["datasette"] = served
        print(f"datasette: {_brief(served)}", flush=True)

    if not args.skip_cold_warm:
        with raw_driver(url) as query:
            result["cold_warm"] = measure_cold_warm(args, query, key)

    if not args.skip_csv:
        _measure_csv_into(result, url, key)

    if args.write_path:
        from bench import write_path

        print("write path (bench/write_path.py) …", flush=True)
        result["write_path"] = write_path.run(
            url, concurrency=16, workers=args.workers, seconds=args.write_seconds
        )
    if args.post_payments:
        result["posting"] = measure_posting(args)
        print(f"posting: {_brief(result['posting'])}", flush=True)
    return _finished(result)


def _measure_csv_into(result: dict[str, Any], url: str, key: str) -> None:
    entries = result["database"]["payments"] + result["database"]["reversals"]
    result["csv"] = measure_csv(url, key, entries)
    print(f"CSV: {result['csv']}", flush=True)


def _finished(result: dict[str, Any]) -> dict[str, Any]:
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["summary"] = summarise(result)
    return result


def _brief(value: Any) -> str:
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in ("rows", "body")}
        return v

    return json.dumps(strip(value), ensure_ascii=False)


def unavailable(measured: dict[str, Any]) -> str:
    """How a missing endpoint reads in the table: 404/405/422 (or JSON instead of CSV) is
    "not available in this build"; anything else is a failure to look into."""
    status = measured["status"]
    if status == 200 and "content_type" in measured:
        return f"not available in this build (answers {measured['content_type']})"
    if status in NOT_AVAILABLE:
        return f"not available in this build (HTTP {status})"
    return f"**failed: HTTP {status}**"


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines of the table: what was measured, ours, the reference, ratio, target."""
    lines: list[dict[str, Any]] = []

    def line(
        measure: str, ours: str, reference: str, ratio: float | None, target: str, met: bool | None
    ) -> None:
        lines.append(
            {
                "measure": measure,
                "ours": ours,
                "reference": reference,
                "ratio": None if ratio is None else round(ratio, 2),
                "target": target,
                "met": met,
            }
        )

    hand, api = result.get("hand_sql", {}), result.get("api", {})
    for name, label in (("current", "current"), ("as_of", f"as of {result['as_of']}")):
        if name not in api:  # --csv-only
            continue
        sql_ms = hand[name]["median_ms"]
        measured = api[name]
        reference = f"hand SQL {sql_ms} ms"
        if not measured["available"]:
            line(
                f"portfolio by plan item, {label}",
                unavailable(measured),
                reference,
                None,
                "",
                None,
            )
            continue
        api_ms = measured["sequential"]["median_ms"]
        if name == "current":
            ratio = sql_ms / api_ms
            target, met = "API ≥ 10× faster", ratio >= 10
        else:
            ratio = api_ms / sql_ms
            target, met = "API time ≤ 1.5× SQL", ratio <= 1.5
        line(
            f"portfolio by plan item, {label} (median, sequential)",
            f"API {api_ms} ms",
            reference,
            ratio,
            target,
            met,
        )
    for name, label in (("current", "current"), ("as_of", f"as of {result['as_of']}")):
        measured = result.get("api_uncached", {}).get(name)
        if not measured or not measured["available"]:
            continue
        sql_ms = hand[name]["median_ms"]
        api_ms = measured["sequential"]["median_ms"]
        ratio = sql_ms / api_ms if name == "current" else api_ms / sql_ms
        line(
            f"portfolio by plan item, {label}, report cache off (every request computes)",
            f"API {api_ms} ms",
            f"hand SQL {sql_ms} ms",
            ratio,
            "API ≥ 10× faster" if name == "current" else "API time ≤ 1.5× SQL",
            ratio >= 10 if name == "current" else ratio <= 1.5,
        )
    if "datasette" in result:
        served = result["datasette"]
        ours = api["current"]
        for mode, label in (("sequential", "1 client"), ("concurrent", "clients")):
            if not served["available"]:
                continue
            theirs_rps = served[mode]["per_second"]
            clients = served[mode].get("clients", 1)
            name = f"current portfolio as JSON, {clients} {label.split()[-1]} (req/s)"
            if not ours["available"]:
                line(
                    name,
                    unavailable(ours),
                    f"datasette {theirs_rps}/s",
                    None,
                    "ours ≥ 10× theirs",
                    None,
                )
                continue
            ours_rps = ours[mode]["per_second"]
            ratio = ours_rps / theirs_rps
            line(
                name,
                f"API {ours_rps}/s",
                f"datasette {theirs_rps}/s",
                ratio,
                "ours ≥ 10× theirs",
                ratio >= 10,
            )
    if "csv" in result:
        csv = result["csv"]
        if csv["available"]:
            rate, peak = csv["rows_per_second"], csv["rss_peak_mb"]
            line(
                "CSV export of all entries: rows/s",
                f"{rate:,}",
                f"{csv['rows']:,} rows in {csv['seconds']} s, "
                f"{csv['server_cpu_seconds']} server CPU-s"
                + (
                    "" if csv["rows"] == csv["expected_rows"] else f" (of {csv['expected_rows']:,})"
                ),
                None,
                "≥ 100,000 rows/s",
                rate >= 100_000,
            )
            line(
                "CSV export: server peak RSS (VmHWM)",
                f"{peak} MB",
                f"{csv['rss_peak_mb_before']} MB before the export",
                None,
                "< 200 MB",
                peak < 200,
            )
        else:
            line(
                "CSV export of all entries",
                unavailable(csv),
                "",
                None,
                "≥ 100,000 rows/s, < 200 MB",
                None,
            )
    if "write_path" in result:
        w = result["write_path"]
        line(
            "posting payments, 16 clients (API ÷ raw driver)",
            f"{w['api']['per_second']}/s",
            f"raw {w['raw_driver']['per_second']}/s",
            w["api_vs_raw"],
            f"≥ {w['targets']['api_vs_raw']}",
            w["api_vs_raw"] >= w["targets"]["api_vs_raw"],
        )
        line(
            "posting payments (API ÷ bare endpoint)",
            f"{w['api']['per_second']}/s",
            f"bare {w['bare_endpoint']['per_second']}/s",
            w["api_vs_bare"],
            "≥ 0.6",
            w["api_vs_bare"] >= 0.6,
        )
        line(
            "posting payments: p99 ÷ p50",
            f"p99 {w['api']['p99_ms']} ms",
            f"p50 {w['api']['p50_ms']} ms",
            w["api_p99_over_p50"],
            "≤ 5",
            w["api_p99_over_p50"] <= 5,
        )
    if "posting" in result:
        posted = result["posting"]
        line(
            f"posting payments into this database, {posted['clients']} clients",
            f"{posted['per_second']}/s",
            f"p50 {posted['p50_ms']} ms, p99 {posted['p99_ms']} ms",
            None,
            "",
            None,
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    db = result["database"]
    head = (
        f"{result['engine']} {db['engine_version']}: {db['projects']:,} projects, "
        f"{db['payments']:,} payments, {db['reversals']:,} reversals, {db['size_mb']} MB; "
        f"load average {result['machine']['load_average_at_start']} → "
        f"{result['machine']['load_average_at_end']} on {result['machine']['cpus']} CPUs"
    )
    rows = ["| measure | ours | reference | ratio | target | met |", "|---|---|---|---|---|---|"]
    for line in result["summary"]:
        met = {True: "yes", False: "**no**", None: "–"}[line["met"]]
        ratio = "–" if line["ratio"] is None else line["ratio"]
        rows.append(
            f"| {line['measure']} | {line['ours']} | {line['reference']} | {ratio} | "
            f"{line['target']} | {met} |"
        )
    return head + "\n\n" + "\n".join(rows) + cold_warm_table(result)


def cold_warm_table(result: dict[str, Any]) -> str:
    """The reports cold and warm, cache off and on, in ms (empty if not measured)."""
    if "cold_warm" not in result:
        return ""
    measured = result["cold_warm"]
    biggest = measured["largest_project"]
    rows = [
        "",
        "",
        f"cold: the first request after the server starts; warm: the median after it "
        f"(project: {biggest['code']}, {biggest['entries']:,} entries)",
        "",
        "| report | cache off cold | cache off warm | cache on cold | cache on warm | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in measured["reports"].items():
        cells = []
        for label in ("cache_off", "cache_on"):
            one = figures[label]
            if not one["available"]:
                cells += [unavailable(one), ""]
                continue
            cells += [f"{one['cold_ms']} ms", f"{one['warm_median_ms']} ms"]
        load = figures["cache_off"]["load_average"][0], figures["cache_on"]["load_average"][0]
        rows.append(f"| {name} | {' | '.join(cells)} | {load[0]}, {load[1]} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a database bench/generate.py filled")
    parser.add_argument("--as-of", default="2024-06-30")
    parser.add_argument(
        "--as-of-recent",
        default="2026-10-15",
        help="a day in the month of the data's last entries (generated data end in 2026-10)",
    )
    parser.add_argument(
        "--cache-entries", type=int, default=64, help="REPORT_CACHE_ENTRIES with the cache on"
    )
    parser.add_argument("--skip-cold-warm", action="store_true")
    parser.add_argument(
        "--cold-warm-only",
        action="store_true",
        help="measure the reports cold and warm, cache off and on (and --post-payments), "
        "nothing else",
    )
    parser.add_argument("--requests", type=int, default=50, help="sequential, per endpoint")
    parser.add_argument("--budget", type=float, default=30, help="seconds of sequential requests")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10, help="of concurrent load")
    parser.add_argument("--sql-runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--csv-only", action="store_true", help="measure the CSV export alone")
    parser.add_argument("--write-path", action="store_true", help="run bench/write_path.py too")
    parser.add_argument("--write-seconds", type=int, default=15)
    parser.add_argument(
        "--post-payments",
        type=int,
        default=0,
        help="post this many payments through the API into this database, last (with wrk: "
        "for --write-seconds instead)",
    )
    parser.add_argument("--post-clients", type=int, default=16)
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()
    result = run(args)
    print()
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
