"""Crash safety: kill -9 the server in the middle of concurrent payments, restart it, and prove
that every acknowledged payment is there exactly once, that retrying the unacknowledged ones
posts each once, that the totals reconcile and that the audit chain verifies.

    python bench/crash_safety.py                                  # SQLite
    python bench/crash_safety.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

(For PostgreSQL, a scratch database is created on that server and dropped afterwards.)
"""

import argparse
import json
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import cli, free_port, new_key, scratch_database, start_server  # noqa: E402


@dataclass
class Report:
    engine: str
    payments: int
    clients: int
    acknowledged_before_kill: int
    in_flight_at_kill: int
    unacknowledged_at_kill: int
    retried_after_restart: int
    committed_but_unacknowledged: int
    replayed_identically: int
    entries_in_ledger: int
    ledger_sum: str
    expected_sum: str
    duplicate_vouchers: int
    balances_reconcile: bool
    audit_chain_ok: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.entries_in_ledger == self.payments
            and self.ledger_sum == self.expected_sum
            and self.duplicate_vouchers == 0
            and self.balances_reconcile
            and self.audit_chain_ok
            and self.replayed_identically == self.acknowledged_before_kill
        )


def _setup(base_url: str, admin: str) -> int:
    headers = {"Authorization": f"Bearer {admin}"}
    programme = httpx.post(
        base_url + "/api/v1/programmes",
        json={
            "code": "CRASH",
            "name": "崩溃演练（合成数据）",
            "region": "演练县",
            "start_year": 2021,
            "end_year": 2025,
        },
        headers=headers,
    ).json()
    item = httpx.post(
        base_url + f"/api/v1/programmes/{programme['id']}/plan-items",
        json={"code": "演练", "name": "合成"},
        headers=headers,
    ).json()
    project = httpx.post(
        base_url + "/api/v1/projects",
        json={
            "code": "CRASH-1",
            "name": "合成项目",
            "plan_item_id": item["id"],
            "category": "new_build",
            "original_estimate": "999999999999.99",
        },
        headers=headers,
    ).json()
    return int(project["id"])


def run(
    database_url: str | None = None,
    *,
    payments: int = 400,
    clients: int = 8,
    kill_fraction: float = 0.4,
) -> Report:
    started = time.monotonic()
    rng = random.Random(20261130)
    with scratch_database(database_url) as url:
        cli(url, "migrate")
        admin, finance = new_key(url, "admin"), new_key(url, "finance")
        port = free_port()
        server = start_server(url, port=port)
        project_id = _setup(server.base_url, admin)
        bodies = [
            {
                "project_id": project_id,
                "amount": f"{rng.randint(1, 10_000_000) / 100:.2f}",
                "paid_on": "2023-06-30",
                "payee": "合成收款单位",
                "voucher_no": f"CR-{i:05d}",
                "funding_source": "county",
            }
            for i in range(payments)
        ]
        acknowledged: dict[int, bytes] = {}
        in_flight: set[int] = set()
        in_flight_at_kill: list[int] = []
        lock = threading.Lock()
        kill_at = int(payments * kill_fraction)
        killed = threading.Event()
        kill_due = threading.Event()
        acked_at_kill: dict[int, bytes] = {}
        queue = list(range(payments))

        def client() -> None:
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                while not killed.is_set():
                    with lock:
                        if not queue:
                            return
                        i = queue.pop(0)
                        in_flight.add(i)
                    try:
                        response = http.post(
                            "/api/v1/disbursements",
                            json=bodies[i],
                            headers={
                                "Authorization": f"Bearer {finance}",
                                "Idempotency-Key": f"crash-{i}",
                            },
                        )
                    except httpx.HTTPError:
                        continue  # the server died under us: unacknowledged
                    with lock:
                        in_flight.discard(i)
                        if response.status_code == 201:
                            acknowledged[i] = response.content
                            if len(acknowledged) >= kill_at:
                                kill_due.set()

        def killer() -> None:
            # Strike a little after the threshold, at a varying point inside the request cycle.
            kill_due.wait(timeout=300)
            time.sleep(rng.uniform(0.0, 0.03))
            with lock:
                killed.set()
                in_flight_at_kill.extend(in_flight)
                acked_at_kill.update(acknowledged)
            server.kill_hard()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        threads.append(threading.Thread(target=killer))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        # Responses that arrived while the kill was under way count as acknowledged too.
        acked_before = dict(acknowledged)

        server = start_server(url, port=port)
        try:
            headers = {"Authorization": f"Bearer {finance}"}
            retried = replayed = committed_unacked = 0
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                for i in range(payments):
                    response = http.post(
                        "/api/v1/disbursements",
                        json=bodies[i],
                        headers={**headers, "Idempotency-Key": f"crash-{i}"},
                    )
                    if response.status_code != 201:
                        raise RuntimeError(
                            f"payment {i} after restart: {response.status_code} {response.text}"
                        )
                    if i in acked_before:
                        replayed += response.content == acked_before[i]
                    else:
                        retried += 1
                        committed_unacked += response.headers.get("idempotent-replayed") == "true"
                vouchers: dict[str, int] = {}
                offset, ledger_sum = 0, None
                while True:
                    page = http.get(
                        "/api/v1/disbursements",
                        params={"project_id": project_id, "limit": 500, "offset": offset},
                        headers=headers,
                    ).json()
                    ledger_sum = page["sum"]
                    for entry in page["items"]:
                        vouchers[entry["voucher_no"]] = vouchers.get(entry["voucher_no"], 0) + 1
                    offset += 500
                    if offset >= page["total"]:
                        break
        finally:
            server.stop()
        reconcile = cli(url, "ledger", "reconcile")
        audit = json.loads(cli(url, "audit", "verify").strip().splitlines()[-1])
        expected = sum((Decimal(str(b["amount"])) for b in bodies), Decimal(0))
        return Report(
            engine="postgresql" if url.startswith("postgresql") else "sqlite",
            payments=payments,
            clients=clients,
            acknowledged_before_kill=len(acked_before),
            in_flight_at_kill=len(in_flight_at_kill),
            unacknowledged_at_kill=payments - len(acked_before),
            retried_after_restart=retried,
            committed_but_unacknowledged=committed_unacked,
            replayed_identically=replayed,
            entries_in_ledger=sum(vouchers.values()),
            ledger_sum=str(ledger_sum),
            expected_sum=f"{expected:.2f}",
            duplicate_vouchers=sum(1 for n in vouchers.values() if n > 1),
            balances_reconcile="balances match" in reconcile,
            audit_chain_ok=bool(audit["ok"]),
            seconds=round(time.monotonic() - started, 1),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: a SQLite file)")
    parser.add_argument("--payments", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    report = run(args.database_url, payments=args.payments, clients=args.clients)
    print(json.dumps({**asdict(report), "ok": report.ok}, ensure_ascii=False, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
