"""The dues report through render(): two sections in one CSV, two worksheets in one XLSX,
the same rows and figures as the JSON report."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from tests.factories import Keys, make_programme, make_project, payment

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AS_OF = "2024-07-01"


@pytest.fixture
def dues(client: TestClient, keys: Keys, session: Session) -> Any:
    """Two certifications on one contract, part paid; the contract accepted, so retention is
    held and falls due. Returns the JSON report as of AS_OF."""
    _, item = make_programme(session)
    project = make_project(session, item, estimate=Decimal("2000000.00"), code="DUE-X")
    contract = client.post(
        "/api/v1/contracts",
        json={
            "project_id": project.id,
            "contractor_id": keys.contractor_id,
            "contract_no": "SG-青铜峡-01",
            "title": "青铜峡市第二中学教学楼施工（测试）",
            "amount": "1000000.00",
            "signed_on": "2023-01-01",
            "payment_term_days": 30,
        },
        headers=keys.admin,
    ).json()
    for code, name, amount, on in (
        ("M1", "=1+1", "100000.00", "2023-05-01"),
        ("M2", "主体完工", "50000.25", "2023-08-01"),
    ):
        milestone = client.post(
            "/api/v1/milestones",
            json={
                "project_id": project.id,
                "contract_id": contract["id"],
                "code": code,
                "name": name,
                "weight": "1",
                "planned_date": on,
            },
            headers=keys.admin,
        ).json()
        certified = client.post(
            f"/api/v1/milestones/{milestone['id']}/certification",
            json={"certified_amount": amount, "certified_on": on, "reason": ADVANCE},
            headers=keys.finance,
        )
        assert certified.status_code == 200, certified.text
    paid = client.post(
        "/api/v1/disbursements",
        json={
            **payment(project.id, "60000.00", "DUE-X-1", paid_on="2023-05-20"),
            "contract_id": contract["id"],
        },
        headers=keys.finance,
    )
    assert paid.status_code == 201, paid.text
    accepted = client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json={"accepted_on": "2023-06-30"},
        headers=keys.admin,
    )
    assert accepted.status_code == 200, accepted.text
    report = client.get("/api/v1/reports/dues", params={"as_of": AS_OF}, headers=keys.finance)
    assert report.status_code == 200
    body = report.json()
    assert len(body["certified"]) == 2 and len(body["retention"]) == 1
    return body


# Certified ahead of reported progress (the ceiling is tested in tests/milestones).
ADVANCE = "按合同约定支付预付款（测试）"


def _sections(text: str) -> list[list[list[str]]]:
    """A multi-sheet CSV split at its blank lines, each section parsed."""
    return [
        list(csv.reader(io.StringIO(block + "\r\n", newline="")))
        for block in text.removesuffix("\r\n").split("\r\n\r\n")
    ]


def test_dues_as_csv(client: TestClient, keys: Keys, dues: Any) -> None:
    response = client.get(
        "/api/v1/reports/dues", params={"as_of": AS_OF, "format": "csv"}, headers=keys.finance
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"dues-{AS_OF}.csv\"; filename*=UTF-8''dues-{AS_OF}.csv"
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    certified, retention = _sections(response.content.decode("utf-8-sig"))
    assert certified[0] == ["Certified dues"]
    assert certified[1][:3] == ["milestone_id", "milestone", "project_id"]
    rows = [dict(zip(certified[1], row, strict=True)) for row in certified[2:]]
    assert [r["unpaid"] for r in rows] == [d["unpaid"] for d in dues["certified"]]
    assert sum(Decimal(r["unpaid"]) for r in rows) == Decimal(dues["certified_unpaid_total"])
    assert [r["milestone"] for r in rows] == ["'=1+1", "主体完工"]
    assert {r["contract_no"] for r in rows} == {"SG-青铜峡-01"}
    assert [r["due_on"] for r in rows] == [d["due_on"] for d in dues["certified"]]
    assert [r["certification_reason"] for r in rows] == [ADVANCE, ADVANCE]
    assert retention[0] == ["Retention"]
    (held,) = [dict(zip(retention[1], row, strict=True)) for row in retention[2:]]
    assert held["retention_held"] == dues["retention"][0]["retention_held"]
    assert held["due"] == "TRUE"


def test_dues_as_xlsx_in_chinese(client: TestClient, keys: Keys, dues: Any) -> None:
    response = client.get(
        "/api/v1/reports/dues",
        params={"as_of": AS_OF, "lang": "zh"},
        headers={**keys.contractor, "Accept": XLSX},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["已确认应付款", "质保金"]
    certified, retention = book.worksheets
    assert certified.freeze_panes == retention.freeze_panes == "A2"
    heading = [c.value for c in certified[1]]
    assert heading[:2] == ["里程碑编号", "里程碑"]
    assert "未付金额（元）" in heading
    unpaid = [row[heading.index("未付金额（元）")] for row in certified.iter_rows(min_row=2)]
    assert all(c.data_type == "n" and c.number_format == "#,##0.00" for c in unpaid)
    assert sum(Decimal(str(c.value)) for c in unpaid) == Decimal(dues["certified_unpaid_total"])
    names = [row[heading.index("里程碑")].value for row in certified.iter_rows(min_row=2)]
    assert names == ["=1+1", "主体完工"]  # text, not a formula
    due_on = certified.cell(row=2, column=heading.index("应付日期") + 1)
    assert isinstance(due_on.value, datetime) and due_on.number_format == "yyyy-mm-dd"
    assert due_on.value.date().isoformat() == dues["certified"][0]["due_on"]
    overdue = certified.cell(row=2, column=heading.index("逾期天数") + 1)
    assert overdue.value == dues["certified"][0]["overdue_days"]
    retention_heading = [c.value for c in retention[1]]
    held = retention.cell(row=2, column=retention_heading.index("质保金（元）") + 1)
    assert Decimal(str(held.value)).quantize(Decimal("0.01")) == Decimal(
        dues["retention"][0]["retention_held"]
    )
    assert retention.cell(row=2, column=retention_heading.index("应退还") + 1).value is True


def test_dues_format_is_checked(client: TestClient, keys: Keys) -> None:
    refused = client.get("/api/v1/reports/dues?format=pdf", headers=keys.viewer)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["format"]
    refused = client.get("/api/v1/reports/dues?format=csv&lang=fr", headers=keys.viewer)
    assert [e["field"] for e in refused.json()["errors"]] == ["lang"]
    assert client.get("/api/v1/reports/dues?format=csv").status_code == 401


def test_openapi_declares_the_export_media_types(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/reports/dues", "/api/v1/disbursements"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv", XLSX}
        parameters = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"format", "lang"} <= parameters
