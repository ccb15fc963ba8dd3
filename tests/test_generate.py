"""The benchmark generator (bench/generate.py): a province of several programmes whose every
balance reconciles with its entries, the same seed giving the same data."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.inputs import identifier_key
from bench.generate import generate


def _contents(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "programmes": conn.execute(
                    sa.text("SELECT id, code, region FROM programme ORDER BY id")
                ).all(),
                "projects": conn.execute(
                    sa.text(
                        "SELECT p.id, p.code, i.programme_id, p.revised_estimate FROM project p "
                        "JOIN plan_item i ON i.id = p.plan_item_id ORDER BY p.id"
                    )
                ).all(),
                "entries": conn.execute(
                    sa.text(
                        "SELECT id, programme_id, project_id, kind, amount, paid_on, voucher_no, "
                        "voucher_key, reverses_id FROM disbursement ORDER BY id"
                    )
                ).all(),
                "funding": conn.execute(
                    sa.text(
                        "SELECT project_id, funding_source_id, planned, disbursed "
                        "FROM project_funding ORDER BY 1, 2"
                    )
                ).all(),
            }
    finally:
        engine.dispose()


def test_province_reconciles_and_repeats(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        summary = generate(url, programmes=3, projects=30, payments=1500, seed=7)
        assert summary["check"]["problems"] == []
        runs.append(_contents(url))
    first, second = runs
    assert first == second

    assert [code for _, code, _ in first["programmes"]] == ["SYN", "SYN-002", "SYN-003"]
    programme_of_project = {project: programme for project, _, programme, _ in first["projects"]}
    assert set(programme_of_project.values()) == {id for id, _, _ in first["programmes"]}
    entries = first["entries"]
    assert sum(kind == "payment" for _, _, _, kind, *_ in entries) == 1500
    payment_days = {}
    for id, programme, project, kind, amount, paid_on, voucher, key, reverses in entries:
        assert programme == programme_of_project[project]
        assert key == identifier_key(voucher)
        if kind == "payment":
            payment_days[id] = paid_on
        else:
            assert amount < 0 and paid_on > payment_days[reverses]
    # In date order, as a ledger is written; voucher numbers unique within each programme.
    assert [row[5] for row in entries] == sorted(row[5] for row in entries)
    assert len({(row[1], row[7]) for row in entries}) == len(entries)
    # The funding plans' rows (there before the ledger) carry what the entries paid.
    assert sum(row[3] for row in first["funding"]) == sum(row[4] for row in entries)
