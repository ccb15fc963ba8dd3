"""A province's month of payments imported at once: rows a second through the live API, the
same file again (nothing new to post), and how long other writers wait meanwhile.

    python bench/bulk_import.py                                      # SQLite
    python bench/bulk_import.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/bulk_import.py --xlsx                               # also as an XLSX workbook

Generates a synthetic programme (bench/generate.py, 1,000 projects by default) in a scratch
database, writes a file of new payments (100,000 rows by default, dated the month after the
generated ledger ends) spread over its active projects, with their budget lines, contracts
(paid to the contractor) and funding sources, and imports it through a real server. Meanwhile
a second client posts a single payment every half second, alternately on a project the file
does not name and on one it does, and records how long each took. Afterwards `ledger
reconcile` and `audit verify` must pass. `--profile` runs one import in this process under
cProfile instead (no server) and prints where the time goes. Loopback only.
"""

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import random
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.ledger.balances import BALANCES  # noqa: E402
from bench.generate import PROGRAMME_CODE, generate  # noqa: E402
from bench.harness import (  # noqa: E402
    cli,
    free_port,
    new_key,
    percentile,
    scratch_database,
    start_server,
)

HEADINGS = [
    "project",
    "budget_line",
    "contract",
    "amount",
    "paid_on",
    "payee",
    "voucher_no",
    "funding_source",
    "memo",
]
# The generated ledger ends on 2026-10-31: the file is the month after.
MONTH = (date(2026, 11, 1), date(2026, 11, 30))


@dataclass
class Target:
    code: str
    lines: list[str]
    contracts: list[tuple[str, str]]  # contract number, contractor's name
    sources: list[str]


def _fill_month_balances(database_url: str) -> None:
    """The generator fills the running balances; the month balances are filled here, from
    the same entries, by the ledger's own statements, so that `ledger reconcile` checks the
    import's moves against a ledger that reconciled before it."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for balance in BALANCES:
            if balance.monthly:
                conn.execute(balance.table.delete())
                conn.execute(balance.rebuild_statement())
    engine.dispose()


def _targets(database_url: str) -> list[Target]:
    """The generated programme's projects a month of payments can go to: under way, on a
    `warn` policy (a `block` one may be at its ceiling already), with what a row names."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        projects = conn.execute(
            sa.text(
                """SELECT p.id, p.code FROM project p
                   JOIN plan_item i ON i.id = p.plan_item_id
                   JOIN programme g ON g.id = i.programme_id
                   WHERE g.code = :code AND p.status IN ('implementation', 'completion')
                     AND p.budget_policy = 'warn' ORDER BY p.id"""
            ),
            {"code": PROGRAMME_CODE},
        ).all()
        lines: dict[int, list[str]] = defaultdict(list)
        for project_id, code in conn.execute(sa.text("SELECT project_id, code FROM budget_line")):
            lines[project_id].append(code)
        contracts: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for project_id, number, name in conn.execute(
            sa.text(
                """SELECT c.project_id, c.contract_no, k.name FROM contract c
                   JOIN contractor k ON k.id = c.contractor_id
                   WHERE c.signed_on <= :first"""
            ),
            {"first": MONTH[0]},
        ):
            contracts[project_id].append((number, name))
        sources: dict[int, list[str]] = defaultdict(list)
        for project_id, code in conn.execute(
            sa.text(
                """SELECT f.project_id, s.code FROM project_funding f
                   JOIN funding_source s ON s.id = f.funding_source_id"""
            )
        ):
            sources[project_id].append(code)
    engine.dispose()
    return [
        Target(code, lines[pid], contracts[pid], sources[pid] or ["county"])
        for pid, code in projects
    ]


def payment_rows(targets: list[Target], rows: int, *, prefix: str, seed: int) -> list[list[str]]:
    """`rows` new payments (small amounts: a month's share of each project) in random order."""
    rng = random.Random(seed)
    days = (MONTH[1] - MONTH[0]).days
    out = []
    for n in range(rows):
        target = rng.choice(targets)
        contract, payee = "", f"合成收款单位 {rng.randint(1, 500):03d}"
        if target.contracts and rng.random() < 0.5:
            contract, payee = rng.choice(target.contracts)
        out.append(
            [
                target.code,
                rng.choice(target.lines) if target.lines else "",
                contract,
                str(Decimal(rng.randint(100, 500_00)) / 100),
                date.fromordinal(MONTH[0].toordinal() + rng.randint(0, days)).isoformat(),
                payee,
                f"{prefix}-{n + 1:06d}",
                rng.choice(target.sources),
                "合成数据：月度批量导入（虚构）" if n % 3 == 0 else "",
            ]
        )
    return out


def as_csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADINGS)
    writer.writerows(rows)
    return text.getvalue().encode()


def as_xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADINGS)
    for row in rows:
        sheet.append(row)
    body = io.BytesIO()
    book.save(body)
    return body.getvalue()


class Writer(threading.Thread):
    """Other finance officers: a payment sent every `every` seconds until stopped, each on its
    own connection without waiting for the ones before (so each one's wait is measured, not
    the queue of a single client), alternately on a project outside the file and on one in
    it; records each one's seconds and status."""

    def __init__(self, base_url: str, key: str, projects: tuple[Target, Target], every: float):
        super().__init__(daemon=True)
        self.base_url = base_url
        self.key = key
        self.projects = projects
        self.every = every
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.waits: dict[str, list[float]] = {"outside the file": [], "in the file": []}
        self.statuses: dict[int, int] = defaultdict(int)
        self.pool = ThreadPoolExecutor(max_workers=200)

    def _pay(self, inside: bool) -> None:
        target = self.projects[inside]
        body = {
            "project_id": target.code,
            "budget_line_id": target.lines[0] if target.lines else None,
            "amount": "1.00",
            "paid_on": MONTH[0].isoformat(),
            "payee": "合成单笔收款单位",
            "voucher_no": f"SINGLE-{uuid.uuid4().hex[:12]}",
            "funding_source": target.sources[0],
        }
        started = time.perf_counter()
        response = httpx.post(
            self.base_url + "/api/v1/disbursements",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=600,
        )
        took = time.perf_counter() - started
        with self.lock:
            self.statuses[response.status_code] += 1
            self.waits["in the file" if inside else "outside the file"].append(took)

    def run(self) -> None:
        sent = 0
        while not self.stop.is_set():
            self.pool.submit(self._pay, sent % 2 == 1)
            sent += 1
            self.stop.wait(self.every)
        self.pool.shutdown(wait=True)


def _waits(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"payments": 0}
    return {
        "payments": len(samples),
        "median_s": round(statistics.median(samples), 3),
        "p90_s": round(percentile(samples, 0.9), 3),
        "max_s": round(max(samples), 3),
    }


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def timed_import(
    base_url: str, key: str, body: bytes, writer_targets: tuple[Target, Target] | None
) -> dict[str, Any]:
    """POST the file once (with a writer alongside if given); the summary and the figures."""
    writer = None
    if writer_targets is not None:
        writer = Writer(base_url, key, writer_targets, every=0.5)
        writer.start()
        time.sleep(1.2)  # a few payments before, for comparison
    started = time.perf_counter()
    response = httpx.post(
        base_url + "/api/v1/disbursements/import",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    load = _load()
    if writer is not None:
        time.sleep(0.6)
        writer.stop.set()
        writer.join()
    summary = response.json()
    result: dict[str, Any] = {
        "status": response.status_code,
        "bytes": len(body),
        "seconds": round(seconds, 2),
        "load_average": load,
    }
    if response.status_code in (200, 201):
        result |= {
            "rows": summary["rows"],
            "posted": summary["posted"],
            "already_posted": summary["already_posted"],
            "warnings": len(summary["warnings"]),
            "rows_per_second": round(summary["rows"] / seconds),
        }
    else:
        result["problem"] = {k: summary.get(k) for k in ("detail", "errors")}
        result["problem"]["errors"] = (summary.get("errors") or [])[:5]
    if writer is not None:
        result["other_writers"] = {
            where: _waits(samples) for where, samples in writer.waits.items()
        } | {"statuses": dict(writer.statuses)}
    return result


def profile(database_url: str, body: bytes) -> None:
    """One import in this process under cProfile: the 25 costliest functions."""
    from app.auth.actor import Actor
    from app.auth.models import Role
    from app.config import Settings
    from app.db import SessionFactory, make_engine
    from app.ledger.imports import import_payments

    engine = make_engine(Settings(database_url=database_url))
    factory = SessionFactory(engine)
    actor = Actor(key_id=None, name="bench", role=Role.finance)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    with factory.begin(write=True) as session:
        profiler.enable()
        result = import_payments(
            session=session,
            actor=actor,
            upload=io.BytesIO(body),
            dry_run=False,
            today=date(2026, 12, 6),
            request_id=None,
        )
        profiler.disable()
    seconds = time.perf_counter() - started
    print(f"posted {result.posted} in {seconds:.1f} s ({result.rows / seconds:.0f} rows/s)")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--payments", type=int, default=10_000, help="in the generated ledger")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true", help="also import an XLSX workbook")
    parser.add_argument("--profile", action="store_true", help="in-process, under cProfile")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    with scratch_database(args.database_url) as database_url:
        engine = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        generate(database_url, projects=args.projects, payments=args.payments, seed=1, check=False)
        _fill_month_balances(database_url)
        targets = _targets(database_url)
        # Two projects kept out of the file, for the other writer's payments outside it.
        outside, targets = targets[0], targets[1:]
        inside = targets[0]
        rows = payment_rows(targets, args.rows, prefix="BULK", seed=2)
        body = as_csv(rows)
        if args.profile:
            profile(database_url, body)
            return 0
        key = new_key(database_url, "finance")
        server = start_server(database_url, port=free_port())
        try:
            result: dict[str, Any] = {
                "engine": engine,
                "projects_in_file": len({row[0] for row in rows}),
            }
            result["csv"] = timed_import(server.base_url, key, body, (outside, inside))
            result["csv_again"] = timed_import(server.base_url, key, body, None)
            if args.xlsx:
                workbook = as_xlsx(payment_rows(targets, args.rows, prefix="XLSX", seed=3))
                result["xlsx"] = timed_import(server.base_url, key, workbook, (outside, inside))
        finally:
            server.stop()
        result["ledger_reconcile"] = cli(database_url, "ledger", "reconcile").strip()[-200:]
        result["audit_verify"] = cli(database_url, "audit", "verify").strip().splitlines()[-1:]
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
