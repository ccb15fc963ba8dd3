"""The demo: clearly synthetic, reproducible, idempotent, and every report over it reconciles."""

from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from app.audit.service import verify
from app.db import SessionFactory
from app.demo.service import DEMO_ACTOR, MARK, load_demo
from app.ledger.service import reconcile
from tests.factories import Keys
from tests.test_cli import run_cli

TODAY = date(2026, 3, 1)


def _fingerprint(session: Session) -> dict[str, list[Any]]:
    """Every demo record as a user could read it back, ids aside."""
    queries = {
        "contractors": "SELECT name, credit_code FROM contractor "
        "WHERE credit_code LIKE '91640221MA7D%' ORDER BY credit_code",
        "contracts": "SELECT contract_no, amount, signed_on, accepted_on FROM contract "
        "ORDER BY contract_no",
        "milestones": "SELECT code, name, weight, percent_complete, certified_amount, "
        "certified_on FROM milestone ORDER BY name",
        "entries": "SELECT voucher_no, kind, amount, paid_on, payee FROM disbursement "
        "ORDER BY voucher_no",
        "revisions": "SELECT new_estimate, approved_on, document_no FROM project_revision",
        "audit": "SELECT COUNT(*) FROM audit_entry",
    }
    return {
        name: [tuple(row) for row in session.connection().execute(sa.text(query))]
        for name, query in queries.items()
    }


def test_twice_gives_the_same_data_and_everything_reconciles(
    session: Session, connection: Connection, zl7: None, client: TestClient, keys: Keys
) -> None:
    demo = SessionFactory(connection, join_savepoint=True)
    with demo.begin(write=True) as writing:
        first = load_demo(session=writing, today=TODAY)
    assert first.created["payments"] > 20 and first.created["reversals"] == 1
    loaded = _fingerprint(session)

    with demo.begin(write=True) as writing:
        second = load_demo(session=writing, today=TODAY)
    assert second.summary() == "demo already loaded: nothing changed"
    assert _fingerprint(session) == loaded

    assert len(loaded["contractors"]) == 5
    assert all(MARK in name for name, _ in loaded["contractors"])
    assert all(MARK in row[0] or "(示例)" in row[0] for row in loaded["contracts"])
    assert all(MARK in row[1] for row in loaded["milestones"])
    assert all(row[0].startswith("DEMO-") for row in loaded["entries"])
    dates = [row[3] for row in loaded["entries"]] + [row[2] for row in loaded["contracts"]]
    assert min(map(str, dates)) >= "2021-01-01" and max(map(str, dates)) <= "2025-12-31"
    actors = session.connection().execute(
        sa.text("SELECT DISTINCT actor_name FROM audit_entry WHERE actor_name NOT LIKE :seed"),
        {"seed": "command line: seed%"},
    )
    assert [row[0] for row in actors] == [DEMO_ACTOR.name]
    assert "synthetic" in DEMO_ACTOR.name

    assert reconcile(session=session) == []
    assert verify(session=session).ok
    assert client.get("/api/v1/audit/verify", headers=keys.admin).json()["ok"] is True

    # The story a finance officer reads at the end of the programme.
    alerts = client.get("/api/v1/reports/alerts?as_of=2025-12-31", headers=keys.admin).json()
    raised = {(a["kind"], a["project_code"]) for a in alerts["alerts"]}
    assert {
        ("over_budget", "ZL7-4"),
        ("payments_overdue", "ZL7-5"),
        ("behind_schedule", "ZL7-3"),
    } <= raised
    dues = client.get("/api/v1/reports/dues?as_of=2025-12-31", headers=keys.admin).json()
    assert dues["overdue_total"] == "5160400.00"
    held = {r["project_code"]: r["retention_held"] for r in dues["retention"]}
    assert held["ZL7-2B"] == "1776000.00"
    revisions = client.get("/api/v1/projects/ZL7-2B/revisions", headers=keys.admin).json()
    assert [r["new_estimate"] for r in revisions] == ["70000000.00"]

    series = client.get(
        "/api/v1/reports/timeseries?interval=year&from=2021-01-01&as_of=2025-12-31",
        headers=keys.admin,
    ).json()
    points = {p["period"]: p for p in series["points"]}
    assert list(points) == ["2021", "2022", "2023", "2024", "2025"]
    assert all(p["pv"] is not None and p["ev"] is not None for p in points.values())
    assert points["2025"]["ac"] == "177824280.00"
    portfolio = client.get("/api/v1/reports/portfolio?as_of=2025-12-31", headers=keys.admin)
    assert portfolio.json()["totals"]["disbursed"] == points["2025"]["ac"]


def test_the_command_needs_the_seed_and_a_second_run_changes_nothing(scratch_url: str) -> None:
    assert run_cli(scratch_url, "migrate").returncode == 0
    refused = run_cli(scratch_url, "demo")
    assert refused.returncode == 2
    assert "python -m app seed" in refused.stderr

    assert run_cli(scratch_url, "seed").returncode == 0
    loaded = run_cli(scratch_url, "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert "demo added: contractors 5, contracts 5," in loaded.stdout
    assert "exceeds the approved 5685000.00" in loaded.stdout  # the one deliberate warning
    again = run_cli(scratch_url, "demo")
    assert again.stdout.strip() == "demo already loaded: nothing changed"

    assert run_cli(scratch_url, "ledger", "reconcile").returncode == 0
    verified = run_cli(scratch_url, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert (
        run_cli(scratch_url, "seed")
        .stdout.strip()
        .endswith("nothing to change: the register already holds this file")
    )


def test_a_rule_the_demo_would_break_refuses_it_whole(scratch_url: str) -> None:
    """An administrator set ZL7-4 to `block`: its over-budget payment is refused, and so is
    the whole demo, leaving nothing half-written."""
    assert run_cli(scratch_url, "migrate").returncode == 0
    assert run_cli(scratch_url, "seed").returncode == 0
    engine = sa.create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE project SET budget_policy = 'block' WHERE code = 'ZL7-4'"))
    refused = run_cli(scratch_url, "demo")
    assert refused.returncode == 2
    assert refused.stderr.startswith("demo refused, nothing written: ")
    assert "5685000.00" in refused.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM contractor")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM disbursement")).scalar_one() == 0
    engine.dispose()
