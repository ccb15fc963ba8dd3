"""The project register through the API: list, filter, sort, page, create, patch, delete."""

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.programmes.models import PlanItem
from tests.factories import Keys, if_match, make_programme


def _codes(response: Any) -> list[str]:
    return [p["code"] for p in response.json()["items"]]


def test_filters(client: TestClient, keys: Keys, zl7: None) -> None:
    def get(**params: str) -> Any:
        return client.get("/api/v1/projects", params=params, headers=keys.viewer)

    assert _codes(get(category="renovation")) == ["ZL7-4", "ZL7-5"]
    assert _codes(get(stage="vocational")) == ["ZL7-3"]
    assert _codes(get(stage="preschool")) == ["ZL7-1"]
    assert _codes(get(status="preparation", category="equipment")) == ["ZL7-6"]
    assert _codes(get(site="城关六小")) == ["ZL7-2A", "ZL7-5"]
    assert _codes(get(plan_item="专栏7"))[:2] == ["ZL7-1", "ZL7-2A"]
    assert get(plan_item="专栏99").json()["total"] == 0
    assert _codes(get(q="幼儿园")) == ["ZL7-1"]
    assert _codes(get(q="zl7-2")) == ["ZL7-2A", "ZL7-2B"]
    assert get(q="100%").json()["total"] == 0
    assert _codes(get(programme="PL-EDU-2021-2025"))[-1] == "ZL7-6"


def test_sort_and_pagination(client: TestClient, keys: Keys, zl7: None) -> None:
    first = client.get(
        "/api/v1/projects",
        params={"sort": "-original_estimate", "limit": 2},
        headers=keys.viewer,
    ).json()
    assert [(p["code"], p["original_estimate"]) for p in first["items"]] == [
        ("ZL7-3", "120860000.00"),
        ("ZL7-2A", "111900000.00"),
    ]
    assert (first["total"], first["limit"], first["offset"]) == (7, 2, 0)
    last = client.get(
        "/api/v1/projects",
        params={"sort": "-original_estimate", "limit": 2, "offset": 6},
        headers=keys.viewer,
    ).json()
    assert [p["code"] for p in last["items"]] == ["ZL7-4"]
    bad = client.get("/api/v1/projects", params={"sort": "secret"}, headers=keys.viewer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"


def test_get_by_id_or_code(client: TestClient, keys: Keys, zl7: None) -> None:
    by_code = client.get("/api/v1/projects/ZL7-3", headers=keys.viewer)
    by_id = client.get(f"/api/v1/projects/{by_code.json()['id']}", headers=keys.viewer)
    assert by_code.json() == by_id.json()
    assert by_code.json()["stages"] == ["senior_high", "vocational"]
    assert by_code.json()["sports_area_m2"] == "61555.00"
    assert client.get("/api/v1/projects/ZL7-99", headers=keys.viewer).status_code == 404
    assert client.get("/api/v1/projects/99999999999", headers=keys.viewer).status_code == 404


def _plan_item(session: Session) -> PlanItem:
    return make_programme(session)[1]


def test_create_patch_with_etag(client: TestClient, keys: Keys, session: Session) -> None:
    item = _plan_item(session)
    created = client.post(
        "/api/v1/projects",
        json={
            "code": "NEW-1",
            "name": "新建某小学",
            "plan_item_id": item.id,
            "category": "new_build",
            "stages": ["compulsory"],
            "original_estimate": "67216000.00",
            "budget_policy": "block",
            "warn_threshold": "0.85",
        },
        headers=keys.admin,
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["revised_estimate"] == "67216000.00"
    assert project["warn_threshold"] == "0.85"
    assert project["budget_policy"] == "block"
    etag = created.headers["etag"]
    url = created.headers["location"]

    no_precondition = client.patch(url, json={"status": "implementation"}, headers=keys.admin)
    assert no_precondition.status_code == 428

    changed = client.patch(
        url,
        json={"status": "implementation", "original_estimate": "70000000.00"},
        headers={**keys.admin, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "implementation"
    assert changed.json()["revised_estimate"] == "70000000.00"
    assert changed.headers["etag"] != etag

    stale = client.patch(
        url, json={"status": "cancelled"}, headers={**keys.admin, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == changed.headers["etag"]
    assert client.get(url, headers=keys.viewer).json()["status"] == "implementation"

    null_name = client.patch(
        url, json={"name": None}, headers={**keys.admin, **if_match(client, keys, url)}
    )
    assert null_name.status_code == 422 and null_name.json()["errors"][0]["field"] == "name"
    immutable = client.patch(
        url, json={"code": "X"}, headers={**keys.admin, **if_match(client, keys, url)}
    )
    assert immutable.status_code == 422 and immutable.json()["errors"][0]["field"] == "code"


def test_duplicate_code_is_a_conflict(client: TestClient, keys: Keys, zl7: None) -> None:
    zl7_1 = client.get("/api/v1/projects/ZL7-1", headers=keys.viewer).json()
    again = client.post(
        "/api/v1/projects",
        json={
            "code": "ZL7-1",
            "name": "重复",
            "plan_item_id": zl7_1["plan_item_id"],
            "category": "new_build",
            "original_estimate": "1.00",
        },
        headers=keys.admin,
    )
    assert again.status_code == 409
    assert client.get("/api/v1/projects", headers=keys.viewer).json()["total"] == 7


def test_numeric_code_is_refused(client: TestClient, keys: Keys, session: Session) -> None:
    item = _plan_item(session)
    response = client.post(
        "/api/v1/projects",
        json={
            "code": "123",
            "name": "x",
            "plan_item_id": item.id,
            "category": "new_build",
            "original_estimate": "1.00",
        },
        headers=keys.admin,
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "code"


def test_budget_lines_may_not_exceed_the_estimate(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    # ZL7-6's six lines already use all of its 47429400.00.
    over = client.post(
        "/api/v1/projects/ZL7-6/budget-lines",
        json={"code": "ZL7-6-7", "name": "其他", "cost_category": "other", "estimate": "0.01"},
        headers=keys.admin,
    )
    assert over.status_code == 409
    assert over.json()["lines_total"] == "47429400.01"
    lines = client.get("/api/v1/projects/ZL7-6/budget-lines", headers=keys.viewer).json()
    assert len(lines) == 6
    line = lines[-1]
    read = client.get(f"/api/v1/budget-lines/{line['id']}", headers=keys.viewer)
    smaller = client.patch(
        f"/api/v1/budget-lines/{line['id']}",
        json={"estimate": "556100.00"},
        headers={**keys.admin, "If-Match": read.headers["etag"]},
    )
    assert smaller.status_code == 200 and smaller.json()["estimate"] == "556100.00"
    fits = client.post(
        "/api/v1/projects/ZL7-6/budget-lines",
        json={"code": "ZL7-6-7", "name": "其他", "cost_category": "other", "estimate": "100.00"},
        headers=keys.admin,
    )
    assert fits.status_code == 201
    shrink = client.patch(
        "/api/v1/projects/ZL7-6",
        json={"original_estimate": "1000.00"},
        headers={**keys.admin, **if_match(client, keys, "/api/v1/projects/ZL7-6")},
    )
    assert shrink.status_code == 409


def test_delete_project_without_financial_records(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    assert client.delete("/api/v1/projects/ZL7-6", headers=keys.admin).status_code == 204
    assert client.get("/api/v1/projects/ZL7-6", headers=keys.viewer).status_code == 404
    assert client.get("/api/v1/projects", headers=keys.viewer).json()["total"] == 6
    programme = client.get("/api/v1/programmes/PL-EDU-2021-2025", headers=keys.viewer).json()
    assert programme["original_estimate"] == "406574600.00"


def test_site_create_and_aliases(client: TestClient, keys: Keys, zl7: None) -> None:
    created = client.post(
        "/api/v1/sites",
        json={
            "region": "平罗县",
            "name": "城关第七小学",
            "kind": "primary",
            "aliases": ["城关七中"],
        },
        headers=keys.admin,
    )
    assert created.status_code == 201
    clash = client.post(
        "/api/v1/sites",
        json={"region": "平罗县", "name": "某校", "aliases": ["城关六小"]},
        headers=keys.admin,
    )
    assert clash.status_code == 409 and "城关六小" in clash.json()["detail"]
    renamed = client.patch(
        f"/api/v1/sites/{created.json()['id']}",
        json={"aliases": ["城关七小学"]},
        headers=keys.admin,
    )
    assert renamed.json()["aliases"] == ["城关七小学"]
