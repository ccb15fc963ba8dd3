"""A code is one code however it is typed: a project, budget line, programme, plan item or
milestone found by its code in any case or Unicode form (`ｚｌ７－２ｂ` is ZL7-2B), and a
code that differs from one already there only so is refused, naming the record that has it."""

from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.auth.models import Role
from tests.factories import (
    Keys,
    concurrently,
    make_key,
    make_milestone,
    make_programme,
    payment,
)

TYPED = ["zl7-2b", "ｚｌ７－２ｂ", " Zl7－2B "]


def _get(client: TestClient, keys: Keys, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=keys.viewer)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("typed", TYPED)
def test_a_project_is_found_by_its_code_however_typed(
    client: TestClient, keys: Keys, zl7: None, typed: str
) -> None:
    found = _get(client, keys, f"/api/v1/projects/{typed}")
    assert found["code"] == "ZL7-2B"
    assert _get(client, keys, f"/api/v1/projects/{typed}/report")["code"] == "ZL7-2B"
    assert _get(client, keys, f"/api/v1/projects/{typed}/budget")["code"] == "ZL7-2B"
    series = _get(client, keys, "/api/v1/reports/timeseries", project=typed, interval="year")
    assert series["scope"] == "project ZL7-2B"


def test_a_payment_names_its_project_and_line_in_any_case(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    line = next(
        line
        for line in _get(client, keys, "/api/v1/projects/ZL7-6")["budget_lines"]
        if line["code"] == "ZL7-6-1"
    )
    body = {**payment(None, "1000.00", "V-CASE-1"), "project_id": "zl7-6"}
    body["budget_line_id"] = "ｚｌ７－６－１"
    posted = client.post("/api/v1/disbursements", json=body, headers=keys.finance)
    assert posted.status_code == 201, posted.text
    assert posted.json()["project_code"] == "ZL7-6"
    assert posted.json()["budget_line"]["budget_line_id"] == line["id"]


def test_an_import_names_its_project_in_any_case(client: TestClient, keys: Keys, zl7: None) -> None:
    rows = (
        "project,budget_line,amount,paid_on,payee,voucher_no,funding_source\r\n"
        "zl7-2b,,100.00,2023-06-01,甲,V-IMP-1,county\r\n"
        "ｚｌ７－６,zl7-6-1,200.00,2023-06-02,乙,V-IMP-2,county\r\n"
    )
    response = client.post(
        "/api/v1/disbursements/import",
        content=rows.encode(),
        headers={**keys.finance, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    listed = _get(client, keys, "/api/v1/disbursements")
    assert sorted(entry["project_code"] for entry in listed["items"]) == ["ZL7-2B", "ZL7-6"]


def test_filters_name_a_programme_and_plan_item_in_any_case(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    every = _get(client, keys, "/api/v1/projects", programme="PL-EDU-2021-2025")["total"]
    assert every > 0
    assert _get(client, keys, "/api/v1/projects", programme="pl-edu-2021-2025")["total"] == every
    assert _get(client, keys, "/api/v1/projects", plan_item="专栏７")["total"] == every
    assert _get(client, keys, "/api/v1/programmes/ｐｌ－ｅｄｕ－２０２１－２０２５")["code"] == (
        "PL-EDU-2021-2025"
    )
    portfolio = _get(client, keys, "/api/v1/reports/portfolio", programme="pl-edu-2021-2025")
    assert portfolio["programme"] == "PL-EDU-2021-2025"
    series = _get(
        client, keys, "/api/v1/reports/timeseries", programme="Pl-Edu-2021-2025", interval="year"
    )
    assert series["scope"] == "programme PL-EDU-2021-2025"


def _clash(response: Any, code: str, record: str) -> None:
    """A 409 that names the record which has the code, as it is written there."""
    assert response.status_code == 409, response.text
    assert f"as {code} ({record})" in response.json()["detail"]


def test_a_project_code_differing_only_in_case_is_refused(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    existing = _get(client, keys, "/api/v1/projects/ZL7-2B")
    refused = client.post(
        "/api/v1/projects",
        json={
            "code": "ｚｌ７－２ｂ",
            "name": "重复的项目（测试）",
            "plan_item_id": existing["plan_item_id"],
            "category": "new_build",
            "original_estimate": "1000.00",
        },
        headers=keys.admin,
    )
    _clash(refused, "ZL7-2B", f"project {existing['id']}")
    assert _get(client, keys, "/api/v1/projects", q="ZL7-2B")["total"] == 1


def test_a_budget_line_code_differing_only_in_case_is_refused(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    lines = _get(client, keys, "/api/v1/projects/ZL7-6")["budget_lines"]
    existing = next(line for line in lines if line["code"] == "ZL7-6-1")
    refused = client.post(
        "/api/v1/projects/ZL7-6/budget-lines",
        json={"code": "zl7-6-1", "name": "生活设施", "cost_category": "equipment", "estimate": "1"},
        headers=keys.admin,
    )
    _clash(refused, "ZL7-6-1", f"budget line {existing['id']}")
    assert len(_get(client, keys, "/api/v1/projects/ZL7-6")["budget_lines"]) == len(lines)


def test_a_milestone_code_differing_only_in_case_is_refused(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    project = _get(client, keys, "/api/v1/projects/ZL7-2B")
    existing = make_milestone(client, keys, project["id"], "M-Start", "1", "2023-06-01")
    refused = client.post(
        "/api/v1/milestones",
        json={
            "project_id": "zl7-2b",
            "code": "ｍ－ｓｔａｒｔ",
            "name": "开工",
            "weight": "1",
            "planned_date": "2023-06-01",
        },
        headers=keys.admin,
    )
    _clash(refused, "M-Start", f"milestone {existing['id']}")


def test_a_programme_and_plan_item_differing_only_in_case_are_refused(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    programme = _get(client, keys, "/api/v1/programmes/PL-EDU-2021-2025")
    refused = client.post(
        "/api/v1/programmes",
        json={
            "code": "pl-edu-2021-2025",
            "name": "重复的规划（测试）",
            "region": "某县（测试）",
            "start_year": 2021,
            "end_year": 2025,
        },
        headers=keys.admin,
    )
    _clash(refused, "PL-EDU-2021-2025", f"programme {programme['id']}")
    item = client.post(
        "/api/v1/programmes/pl-edu-2021-2025/plan-items",
        json={"code": "Sp-1", "name": "测试专栏"},
        headers=keys.admin,
    )
    assert item.status_code == 201, item.text
    again = client.post(
        "/api/v1/programmes/PL-EDU-2021-2025/plan-items",
        json={"code": "ＳＰ－１", "name": "测试专栏"},
        headers=keys.admin,
    )
    _clash(again, "Sp-1", f"plan item {item.json()['id']}")


def test_two_projects_created_at_once_with_one_code_are_a_201_and_a_409(
    committed_app: FastAPI, engine: Engine
) -> None:
    """The clash check and the unique index: whichever answers, the client sees a 409."""
    with Session(engine, expire_on_commit=False) as s:
        _, item = make_programme(s)
        _, admin = make_key(s, Role.admin)
        s.commit()
    headers = {"Authorization": f"Bearer {admin}"}

    def create(code: str) -> int:
        response = TestClient(committed_app).post(
            "/api/v1/projects",
            json={
                "code": code,
                "name": "同时登记（测试）",
                "plan_item_id": item.id,
                "category": "new_build",
                "original_estimate": "1000.00",
            },
            headers=headers,
        )
        status: int = response.status_code
        return status

    for round_no in range(10):
        codes = [f"RACE-{round_no}", f"race-{round_no}"]
        statuses = concurrently([partial(create, code) for code in codes])
        assert sorted(statuses) == [201, 409], (round_no, statuses)
