"""Reports in Chinese (`?lang=zh`) and in 万元 (`?unit=wan`): enumerations, group labels,
totals, alert kinds, severities, messages and notes in Chinese, in JSON and in CSV/XLSX; money
in 万元 shifted exactly, two decimals; XLSX ratios as ratios, completion shares as percentages."""

import csv
import io
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from app.projects.models import Category, ProjectStatus
from app.reports.alerts import KINDS, SEVERITY
from tests.factories import Keys, make_programme, make_project, payment

PORTFOLIO = "/api/v1/reports/portfolio"
ALERTS = "/api/v1/reports/alerts"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every English word an export in Chinese must not show in a cell.
ENGLISH = {
    *Category,
    *ProjectStatus,
    *KINDS,
    *SEVERITY,
    "Total",
    "total",
    "payment",
    "reversal",
}


def _csv(client: TestClient, keys: Keys, path: str, **params: str) -> list[list[str]]:
    response = client.get(path, params={**params, "format": "csv"}, headers=keys.viewer)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(client: TestClient, keys: Keys, path: str, **params: str) -> Any:
    response = client.get(path, params={**params, "format": "xlsx"}, headers=keys.viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    return load_workbook(io.BytesIO(response.content))


def _over_budget(client: TestClient, keys: Keys, session: Session) -> str:
    """A programme of one equipment project of 15000.00 元, paid 12345.67 on 2024-01-10 and
    8000.00 the day after: over budget. Returns the programme's code."""
    programme, item = make_programme(session)
    project = make_project(
        session, item, estimate=Decimal("15000.00"), code="LANG-1", category=Category.equipment
    )
    for amount, voucher, on in (
        ("12345.67", "LANG-1-1", "2024-01-10"),
        ("8000.00", "LANG-1-2", "2024-01-11"),
    ):
        paid = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, amount, voucher, paid_on=on),
            headers=keys.finance,
        )
        assert paid.status_code == 201, paid.text
    return programme.code


def test_a_chinese_portfolio_export_shows_no_english_word(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    for group_by in ("category", "status"):
        rows = _csv(client, keys, PORTFOLIO, group_by=group_by, lang="zh")
        cells = {cell for row in rows[1:] for cell in row}
        assert not cells & ENGLISH, cells & ENGLISH
        assert rows[-1][:2] == ["合计", "合计"]
        book = _xlsx(client, keys, PORTFOLIO, group_by=group_by, lang="zh")
        values = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
        assert not values & ENGLISH, values & ENGLISH
    by_category = _csv(client, keys, PORTFOLIO, group_by="category", lang="zh")
    assert by_category[0][:2] == ["建设类别", "名称"]
    assert {row[0] for row in by_category[1:-1]} == {"新建", "改扩建", "改造", "设备购置"}
    assert {row[1] for row in by_category[1:-1]} == {"新建", "改扩建", "改造", "设备购置"}


def test_a_chinese_json_report_has_chinese_labels_and_notes_and_keeps_its_codes(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    english = client.get(PORTFOLIO, params={"group_by": "category"}, headers=keys.viewer)
    chinese = client.get(
        PORTFOLIO, params={"group_by": "category", "lang": "zh"}, headers=keys.viewer
    )
    assert chinese.status_code == 200
    groups = {g["key"]: g["label"] for g in chinese.json()["groups"]}
    assert groups == {
        "new_build": "新建",
        "expansion": "改扩建",
        "renovation": "改造",
        "equipment": "设备购置",
    }
    assert chinese.json()["totals"]["label"] == "合计"
    assert english.json()["totals"]["label"] == "Total"
    assert chinese.json()["totals"]["revised_estimate"] == "454004000.00"  # JSON keeps 元
    assert chinese.headers["etag"] != english.headers["etag"]

    by_site = client.get(PORTFOLIO, params={"group_by": "site", "lang": "zh"}, headers=keys.viewer)
    assert by_site.json()["notes"] == [
        "跨多个学校/地点的项目在每个地点下全额计入，在合计中只计一次，因此各组之和可能大于合计。"
    ]


def test_money_in_wan_is_the_yuan_shifted_exactly(
    client: TestClient, keys: Keys, session: Session, zl7: None
) -> None:
    rows = _csv(client, keys, PORTFOLIO, group_by="plan_item", lang="zh", unit="wan")
    heading, totals = rows[0], rows[-1]
    assert "调整后概算（万元）" in heading and "已拨付（万元）" in heading
    assert not [title for title in heading if "（元）" in title]
    assert totals[heading.index("调整后概算（万元）")] == "45400.40"

    code = _over_budget(client, keys, session)
    rows = _csv(client, keys, PORTFOLIO, programme=code, unit="wan")
    in_wan = dict(zip(rows[0], rows[-1], strict=True))
    assert in_wan["revised_estimate (万元)"] == "1.50"  # 15000.00 元
    assert in_wan["disbursed (万元)"] == "2.03"  # 20345.67 元, rounded half away from zero
    assert in_wan["remaining (万元)"] == "-0.53"  # -5345.67 元

    sheet = _xlsx(client, keys, PORTFOLIO, programme=code, unit="wan", lang="zh").worksheets[0]
    header = [cell.value for cell in sheet[1]]
    revised = sheet.cell(row=sheet.max_row, column=header.index("调整后概算（万元）") + 1)
    assert Decimal(str(revised.value)) == Decimal("1.5")
    assert revised.number_format == "#,##0.00"

    # As of the first payment's day: 12345.67 元 paid.
    project = client.get(
        "/api/v1/projects/LANG-1/report",
        params={"format": "csv", "unit": "wan", "as_of": "2024-01-10"},
        headers=keys.finance,
    )
    report = list(csv.reader(io.StringIO(project.content.decode("utf-8-sig"))))
    figures = dict(zip(report[1], report[2], strict=True))
    assert figures["over_budget"] == "FALSE"  # not yet, that day
    assert figures["original_estimate (万元)"] == "1.50"
    assert figures["disbursed (万元)"] == "1.23"

    chinese = client.get(
        "/api/v1/projects/LANG-1/report",
        params={"format": "csv", "lang": "zh"},
        headers=keys.finance,
    )
    sections = chinese.content.decode("utf-8-sig").split("\r\n\r\n")
    summary = list(csv.reader(io.StringIO(sections[0])))
    flags = dict(zip(summary[1], summary[2], strict=True))
    assert (flags["超概算"], flags["进度滞后"]) == ("是", "否")  # flags in words, not TRUE/FALSE

    # The S-curve and the dues export the same way.
    curve = _csv(client, keys, "/api/v1/reports/timeseries", programme=code, unit="wan", lang="zh")
    points = [dict(zip(curve[0], row, strict=True)) for row in curve[1:]]
    assert points[-1]["累计实际成本 AC（万元）"] == "2.03"
    assert points[-1]["完工预算 BAC（万元）"] == "1.50"
    dues = _csv(client, keys, "/api/v1/reports/dues", unit="wan", lang="zh")
    assert "确认金额（万元）" in dues[1] and "质保金（万元）" in dues[-1]


def test_wan_is_for_exports_only(client: TestClient, keys: Keys) -> None:
    for path in (PORTFOLIO, ALERTS, "/api/v1/reports/dues"):
        refused = client.get(path, params={"unit": "wan"}, headers=keys.finance)
        assert refused.status_code == 422, path
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == ["unit"]
    ledger = client.get(
        "/api/v1/disbursements", params={"format": "csv", "unit": "wan"}, headers=keys.finance
    )
    assert ledger.status_code == 422
    assert [e["field"] for e in ledger.json()["errors"]] == ["unit"]


def test_xlsx_shows_ratios_as_ratios_and_completion_as_percentages(
    client: TestClient, keys: Keys, session: Session
) -> None:
    code = _over_budget(client, keys, session)
    milestone = client.post(
        "/api/v1/milestones",
        json={
            "project_id": "LANG-1",
            "code": "M1",
            "name": "设备到货安装",
            "weight": "1",
            "planned_date": "2024-01-31",
        },
        headers=keys.admin,
    )
    assert milestone.status_code == 201, milestone.text
    progress = client.post(
        f"/api/v1/milestones/{milestone.json()['id']}/progress",
        json={"percent_complete": "50", "as_of": "2024-01-20"},
        headers=keys.admin,
    )
    assert progress.status_code in (200, 201), progress.text
    book = _xlsx(client, keys, PORTFOLIO, programme=code, as_of="2024-02-01")
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    for name, number_format in (
        ("cpi", "0.0000"),
        ("spi", "0.0000"),
        ("financial_completion", "0.00%"),
        ("physical_completion", "0.00%"),
        ("evm_coverage", "0.00%"),
    ):
        cell = sheet.cell(row=2, column=header.index(name) + 1)
        assert cell.value is not None and cell.number_format == number_format, name
    # ev = 0.5 × 15000.00 = 7500.00 over ac = 20345.67: 0.3686, a ratio, not 36.86%.
    cpi = sheet.cell(row=2, column=header.index("cpi") + 1).value
    assert Decimal(str(cpi)) == Decimal("0.3686")


def test_alerts_in_chinese(client: TestClient, keys: Keys, session: Session) -> None:
    code = _over_budget(client, keys, session)
    english = client.get(ALERTS, headers=keys.finance).json()["alerts"]
    chinese = client.get(ALERTS, params={"lang": "zh"}, headers=keys.finance).json()["alerts"]
    over = [a for a in chinese if a["project_code"] == "LANG-1" and a["kind"] == "over_budget"]
    assert over and over[0]["severity"] == "critical"  # codes stay codes
    first = next(a for a in english if a["project_code"] == "LANG-1" and a["kind"] == "over_budget")
    assert first["message"].endswith(": disbursed 20345.67 exceeds the revised estimate 15000.00")
    project = first["message"].split(": ")[0]  # the project's code and name
    assert over[0]["message"] == f"{project}：已拨付 20345.67 元，超过调整后概算 15000.00 元"
    assert code

    rows = _csv(client, keys, ALERTS, lang="zh")
    assert rows[0][:2] == ["严重程度", "类型"]
    mine = [row for row in rows[1:] if row[2] == "LANG-1"]
    assert ["严重", "超概算"] in [row[:2] for row in mine]
    assert "已拨付=20345.67" in mine[0][6]
    assert not {cell for row in rows[1:] for cell in row} & ENGLISH
