"""Edge cases a review found: each once let a client cause a 500, a wrong report, or a write."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.ledger.models import ProjectBalance
from tests.factories import Keys, make_programme, make_project, payment


@pytest.fixture
def project(session: Session) -> Any:
    _, item = make_programme(session)
    return make_project(session, item, estimate=Decimal("1000.00"), code="REV-A")


def _import(client: TestClient, keys: Keys, text: str, **params: Any) -> Any:
    return client.post(
        "/api/v1/disbursements/import",
        content=text.encode(),
        params=params,
        headers={**keys.finance, "Content-Type": "text/csv"},
    )


HEAD = "project,budget_line,amount,paid_on,payee,voucher_no,funding_source\r\n"


def test_csv_row_numbers_count_blank_lines(client: TestClient, keys: Keys, project: Any) -> None:
    text = (
        HEAD + "REV-A,,1.00,2023-06-01,甲,V-1,county\r\n\r\nREV-A,,abc,2023-06-01,甲,V-2,county\r\n"
    )
    response = _import(client, keys, text)
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(4, "amount")]


def test_csv_control_characters_are_a_row_error(
    client: TestClient, keys: Keys, project: Any
) -> None:
    response = _import(client, keys, HEAD + "REV-A\x00,,1.00,2023-06-01,甲,V-1,county\r\n")
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "project")]


def test_csv_errors_name_the_spreadsheet_column(client: TestClient, keys: Keys, zl7: None) -> None:
    response = _import(client, keys, HEAD + "ZL7-6,,1.00,2023-06-01,甲,V-1,county\r\n")
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "budget_line")]


def test_a_dry_run_writes_nothing_at_all(
    client: TestClient, keys: Keys, project: Any, session: Session
) -> None:
    response = _import(
        client, keys, HEAD + "REV-A,,1.00,2023-06-01,甲,V-1,county\r\n", dry_run="true"
    )
    assert response.status_code == 200
    balances = session.exec(select(func.count()).select_from(ProjectBalance)).one()
    assert balances == 0


def test_import_checks_the_key_before_reading_the_file(client: TestClient, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"import_max_bytes": 2048})
    response = client.post(
        "/api/v1/disbursements/import", content=b"x" * 4096, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 401


def test_a_source_name_may_not_be_another_sources_code(client: TestClient, keys: Keys) -> None:
    clash = client.post(
        "/api/v1/funding-sources", json={"code": "bond2", "name": "county"}, headers=keys.admin
    )
    assert clash.status_code == 409
    created = client.post(
        "/api/v1/funding-sources", json={"code": "bond2", "name": "专项债二期"}, headers=keys.admin
    )
    assert created.status_code == 201
    renamed = client.patch(
        "/api/v1/funding-sources/bond2", json={"name": "self_raised"}, headers=keys.admin
    )
    assert renamed.status_code == 409


def test_funding_plan_keeps_rows_that_entries_refer_to(
    client: TestClient, keys: Keys, project: Any
) -> None:
    paid = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "100.00", "V-1", funding_source="self_raised"),
        headers=keys.finance,
    ).json()
    client.post(
        f"/api/v1/disbursements/{paid['id']}/reversals",
        json={"reason": "退回", "reversed_on": "2023-07-01"},
        headers=keys.finance,
    )
    response = client.put(
        f"/api/v1/projects/{project.id}/funding",
        json={"sources": [{"funding_source": "county", "planned": "1000.00"}]},
        headers={**keys.finance, "If-Match": "*"},
    )
    assert response.status_code == 200
    assert [s["funding_source"] for s in response.json()["sources"]] == ["county", "self_raised"]
    # The ledger fixture then checks that the balances still reconcile with the entries.


def test_negative_zero_is_zero(client: TestClient, keys: Keys, project: Any) -> None:
    response = client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": "-0.00",
            "approved_on": "2023-01-01",
            "document_no": "Z-1",
            "reason": "撤销",
        },
        headers=keys.finance,
    )
    assert response.status_code == 201
    assert response.json()["new_estimate"] == "0.00"


def test_a_retry_by_code_replays_the_request_made_by_id(
    client: TestClient, keys: Keys, project: Any
) -> None:
    body = {
        "new_estimate": "1200.00",
        "approved_on": "2023-01-01",
        "document_no": "R-1",
        "reason": "增项",
    }
    headers = {**keys.finance, "Idempotency-Key": "rev-by-id-or-code"}
    first = client.post(f"/api/v1/projects/{project.id}/revisions", json=body, headers=headers)
    again = client.post("/api/v1/projects/REV-A/revisions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
