"""Contractors: the 统一社会信用代码 is checked (GB 32100-2015), unique, and a contractor key
sees its own organisation only."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Keys

# The worked example of GB 32100-2015.
VALID = "91350100M000100Y43"


def _create(
    client: TestClient, keys: Keys, code: str, name: str = "宁夏某建设工程有限公司（测试）"
) -> Any:
    return client.post(
        "/api/v1/contractors",
        json={"name": name, "credit_code": code, "contact": "王工"},
        headers=keys.admin,
    )


def test_a_valid_code_is_accepted(client: TestClient, keys: Keys) -> None:
    response = _create(client, keys, VALID)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["credit_code"] == VALID
    read = client.get(response.headers["location"], headers=keys.finance)
    assert read.json()["name"] == "宁夏某建设工程有限公司（测试）"


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100m000100y43",  # lower case
        "91350100M000I00Y43",  # I is not in the character set
        "91350100M000O00Y43",  # nor O
        "9135010OM000100Y43",  # the division code is digits
        "01350100M000100Y43",  # no authority 0
        "９1350100M000100Y43",  # full-width digit
    ],
)
def test_a_malformed_code_is_refused(client: TestClient, keys: Keys, code: str) -> None:
    response = _create(client, keys, code)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["credit_code"]
    assert (
        client.get("/api/v1/contractors", params={"q": code}, headers=keys.admin).json()["total"]
        == 0
    )


def test_a_code_is_registered_once(client: TestClient, keys: Keys) -> None:
    first = _create(client, keys, VALID)
    again = _create(client, keys, VALID, name="另一家")
    assert again.status_code == 409
    assert again.json()["existing_id"] == first.json()["id"]


def test_a_contractor_key_sees_its_own_organisation(client: TestClient, keys: Keys) -> None:
    other = _create(client, keys, VALID).json()
    own = client.get("/api/v1/contractors", headers=keys.contractor).json()
    assert [c["id"] for c in own["items"]] == [keys.contractor_id]
    assert (
        client.get(f"/api/v1/contractors/{keys.contractor_id}", headers=keys.contractor).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/contractors/{other['id']}", headers=keys.contractor).status_code == 404
    )
    refused = client.post(
        "/api/v1/contractors", json={"name": "x", "credit_code": VALID}, headers=keys.contractor
    )
    assert refused.status_code == 403


def test_the_credit_code_cannot_be_changed(client: TestClient, keys: Keys) -> None:
    created = _create(client, keys, VALID).json()
    changed = client.patch(
        f"/api/v1/contractors/{created['id']}",
        json={"credit_code": "91350100M000100Y43"},
        headers=keys.admin,
    )
    assert changed.status_code == 422
    renamed = client.patch(
        f"/api/v1/contractors/{created['id']}",
        json={"contact": "李工 13800000000"},
        headers=keys.admin,
    )
    assert renamed.status_code == 200 and renamed.json()["contact"] == "李工 13800000000"
    audit = client.get("/api/v1/audit", params={"entity": "contractor"}, headers=keys.admin).json()
    assert [e["action"] for e in audit["items"]] == ["update", "create"]


def test_the_name_search_takes_percent_and_underscore_as_text_and_ignores_case(
    client: TestClient, keys: Keys
) -> None:
    assert _create(client, keys, VALID, name="100%_Build 宁夏").status_code == 201

    def found(q: str) -> int:
        response = client.get("/api/v1/contractors", params={"q": q}, headers=keys.admin)
        assert response.status_code == 200, response.text
        total: int = response.json()["total"]
        return total

    assert (found("100%_build"), found("build 宁夏"), found("%"), found("_"), found("1_0")) == (
        1,
        1,
        1,
        1,
        0,
    )
