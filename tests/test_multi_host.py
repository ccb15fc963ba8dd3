"""Many app hosts, one database: two independent `serve` processes on different ports against
one PostgreSQL database, and nothing depends on which one a client reaches. A retried payment
replays on the other host, a key revoked through one stops working on the other within
API_KEY_CACHE_SECONDS, a report cached on one is not served stale after a write through the
other, and payments through both under one blocking budget never both pass."""

import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.live import app_cli, new_key, serving

KEY_CACHE_SECONDS = 1


@pytest.fixture
def hosts(scratch_url: str) -> Iterator[tuple[str, str, str]]:
    """Two servers on one migrated database: their base URLs and an admin key."""
    if make_url(scratch_url).get_backend_name() != "postgresql":
        pytest.skip("many hosts share a PostgreSQL database; SQLite is one host's file")
    env = {
        **os.environ,
        "DATABASE_URL": scratch_url,
        "API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
        "WRITE_RATE_LIMIT": "1000000/minute",
        "AUTH_FAILURE_RATE_LIMIT": "1000000/minute",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("TEST_DATABASE_URL", None)
    app_cli(env, "migrate")
    admin_key = new_key(env, "admin", "两台主机")
    with serving(env) as first, serving(env) as second:
        yield first, second, admin_key


def _client(base: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _project(admin: httpx.Client, code: str, estimate: str, policy: str) -> int:
    programme = admin.post(
        "/programmes",
        json={
            "code": f"HOSTS-{code}",
            "name": "两台主机（测试）",
            "region": "测试县",
            "start_year": 2021,
            "end_year": 2025,
        },
    )
    assert programme.status_code == 201, programme.text
    item = admin.post(
        f"/programmes/{programme.json()['id']}/plan-items", json={"code": "测试", "name": "测试"}
    )
    project = admin.post(
        "/projects",
        json={
            "code": code,
            "name": "两台主机测试项目",
            "plan_item_id": item.json()["id"],
            "category": "new_build",
            "original_estimate": estimate,
            "budget_policy": policy,
        },
    )
    assert project.status_code == 201, project.text
    return int(project.json()["id"])


def _payment(project_id: int, voucher: str, amount: str) -> dict[str, object]:
    return {
        "project_id": project_id,
        "amount": amount,
        "paid_on": "2023-06-30",
        "payee": "某建设工程有限公司（测试）",
        "voucher_no": voucher,
        "funding_source": "county",
    }


def test_nothing_depends_on_which_host_a_client_reaches(hosts: tuple[str, str, str]) -> None:
    first, second, admin_key = hosts
    with _client(first, admin_key) as admin_a, _client(second, admin_key) as admin_b:
        finance_key = admin_a.post("/keys", json={"name": "计财股", "role": "finance"}).json()[
            "key"
        ]
        project_id = _project(admin_a, "HOSTS-1", "1000000.00", "warn")

        # A payment retried on the other host replays: one entry, the same bytes.
        body = _payment(project_id, "HOSTS-0001", "1234.56")
        key = {"Idempotency-Key": "hosts-retry-1"}
        with _client(first, finance_key) as pay_a, _client(second, finance_key) as pay_b:
            posted = pay_a.post("/disbursements", json=body, headers=key)
            replayed = pay_b.post("/disbursements", json=body, headers=key)
        assert posted.status_code == replayed.status_code == 201
        assert replayed.content == posted.content
        assert replayed.headers.get("idempotent-replayed") == "true"
        ledger = admin_b.get("/disbursements", params={"project_id": project_id}).json()
        assert (ledger["total"], ledger["sum"]) == (1, "1234.56")

        # A report cached on one host is not stale after a write through the other.
        before = admin_b.get(f"/projects/{project_id}/report")
        assert before.json()["disbursed"] == "1234.56"
        again = admin_b.get(
            f"/projects/{project_id}/report", headers={"If-None-Match": before.headers["etag"]}
        )
        assert again.status_code == 304
        with _client(first, finance_key) as pay_a:
            assert (
                pay_a.post(
                    "/disbursements", json=_payment(project_id, "HOSTS-0002", "100.00")
                ).status_code
                == 201
            )
        after = admin_b.get(
            f"/projects/{project_id}/report", headers={"If-None-Match": before.headers["etag"]}
        )
        assert after.status_code == 200 and after.json()["disbursed"] == "1334.56"

        # A key revoked through one host stops working on the other within the cache's time.
        viewer = admin_a.post("/keys", json={"name": "看板", "role": "viewer"}).json()
        with _client(second, viewer["key"]) as watcher:
            assert watcher.get("/me").status_code == 200  # now in the second host's cache
            assert admin_a.delete(f"/keys/{viewer['id']}").status_code == 200
            revoked_at = time.monotonic()
            while watcher.get("/me").status_code == 200:
                assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 2, "still accepted"
                time.sleep(0.1)
            assert watcher.get("/me").status_code == 401


def _pay_at_once(
    base: str,
    key: str,
    body: dict[str, object],
    *,
    start: threading.Barrier,
    answers: list[int],
) -> None:
    with _client(base, key) as client:
        start.wait()
        answers.append(client.post("/disbursements", json=body).status_code)


def test_payments_through_both_hosts_never_both_pass_a_blocking_budget(
    hosts: tuple[str, str, str],
) -> None:
    first, second, admin_key = hosts
    with _client(first, admin_key) as admin:
        finance_key = admin.post("/keys", json={"name": "计财股", "role": "finance"}).json()["key"]
        rounds = 8
        projects = [_project(admin, f"RACE-{n}", "1000.00", "block") for n in range(rounds)]
    statuses: list[list[int]] = []
    for n, project_id in enumerate(projects):
        answers: list[int] = []
        start = threading.Barrier(2)
        threads = [
            threading.Thread(
                target=_pay_at_once,
                args=(base, finance_key, _payment(project_id, f"RACE-{n}-{host}", "600.00")),
                kwargs={"start": start, "answers": answers},
            )
            for host, base in (("A", first), ("B", second))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses.append(sorted(answers))
    assert statuses == [[201, 409]] * len(projects)
    with _client(second, admin_key) as admin:
        for project_id in projects:
            ledger = admin.get("/disbursements", params={"project_id": project_id}).json()
            assert (ledger["total"], ledger["sum"]) == (1, "600.00")
