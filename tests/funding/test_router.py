"""Funding sources and a project's funding plan: planned against disbursed per source, a
retired source takes no new money, and no source's name may be taken for another's code."""

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Keys, if_match, payment


def test_standard_funding_sources_are_there(client: TestClient, keys: Keys) -> None:
    names = [s["name"] for s in client.get("/api/v1/funding-sources", headers=keys.viewer).json()]
    assert names[:5] == ["中央预算内投资", "自治区资金", "地方政府专项债券", "县级财政", "自筹"]


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


def test_funding_plan_planned_vs_disbursed(client: TestClient, keys: Keys, project: Any) -> None:
    url = f"/api/v1/projects/{project.id}/funding"
    etag = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).headers["etag"]
    plan = {
        "sources": [
            {"funding_source": "central_budget", "planned": "600000.00"},
            {"funding_source": "县级财政", "planned": "400000.00"},
        ]
    }
    assert client.put(url, json=plan, headers=keys.finance).status_code == 428
    put = client.put(url, json=plan, headers={**keys.finance, "If-Match": etag})
    assert put.status_code == 200, put.text
    assert put.headers["etag"] != etag
    client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1000.00", "V-1", funding_source="中央预算内投资"),
        headers=keys.finance,
    )
    client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "10.00", "V-2", funding_source="self_raised"),
        headers=keys.finance,
    )
    funding = client.get(url, headers=keys.viewer).json()
    assert (funding["planned_total"], funding["unplanned"], funding["disbursed"]) == (
        "1000000.00",
        "0.00",
        "1010.00",
    )
    assert [(s["funding_source"], s["planned"], s["disbursed"]) for s in funding["sources"]] == [
        ("central_budget", "600000.00", "1000.00"),
        ("county", "400000.00", "0.00"),
        ("self_raised", "0.00", "10.00"),
    ]
    read = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).json()
    assert [f["funding_source"] for f in read["funding"]] == [
        "central_budget",
        "county",
        "self_raised",
    ]

    # Retire a source: it takes no new money, but what was paid from it stays.
    retired = client.patch(
        "/api/v1/funding-sources/self_raised", json={"active": False}, headers=keys.admin
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    refused = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "1.00", "V-3", funding_source="自筹"),
        headers=keys.finance,
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "funding_source"


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
        json={"reason": "退回", "reversed_on": "2023-07-01", "voucher_no": "红字-01"},
        headers=keys.finance,
    )
    response = client.put(
        f"/api/v1/projects/{project.id}/funding",
        json={"sources": [{"funding_source": "county", "planned": "1000.00"}]},
        headers={**keys.finance, **if_match(client, keys, f"/api/v1/projects/{project.id}")},
    )
    assert response.status_code == 200
    assert [s["funding_source"] for s in response.json()["sources"]] == ["county", "self_raised"]


def test_a_source_code_is_the_same_however_it_is_typed(
    client: TestClient, keys: Keys, project: Any
) -> None:
    """`County`, `ｃｏｕｎｔｙ` and ` county ` name the source `county`, in a payment, an import,
    a funding plan and the ledger's filter; a name is matched as written, trimmed."""
    for n, typed in enumerate(["County", "ｃｏｕｎｔｙ", " county ", " 县级财政 "], start=1):
        posted = client.post(
            "/api/v1/disbursements",
            json=payment(project.id, "10.00", f"T-{n}", funding_source=typed),
            headers=keys.finance,
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["funding_source"] == "county"
    imported = client.post(
        "/api/v1/disbursements/import",
        content=(
            "project,amount,paid_on,payee,voucher_no,funding_source\r\n"
            f"{project.code},5.00,2023-06-01,甲,T-9,ＣＯＵＮＴＹ\r\n"
        ).encode(),
        headers={**keys.finance, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    listed = client.get(
        "/api/v1/disbursements", params={"funding_source": "COUNTY"}, headers=keys.viewer
    ).json()
    assert (listed["total"], listed["sum"]) == (5, "45.00")
    url = f"/api/v1/projects/{project.id}/funding"
    etag = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).headers["etag"]
    plan = {"sources": [{"funding_source": "Ｃｏｕｎｔｙ", "planned": "100.00"}]}
    put = client.put(url, json=plan, headers={**keys.finance, "If-Match": etag})
    assert put.status_code == 200, put.text
    assert [(s["funding_source"], s["disbursed"]) for s in put.json()["sources"]] == [
        ("county", "45.00")
    ]
    unknown = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "10.00", "T-10", funding_source="县级 财政"),
        headers=keys.finance,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "funding_source"


def test_a_source_name_may_not_read_as_another_sources_code(client: TestClient, keys: Keys) -> None:
    """A payment naming `County` means the code `county`: no other source may be named so."""
    clash = client.post(
        "/api/v1/funding-sources", json={"code": "bond3", "name": " County "}, headers=keys.admin
    )
    assert clash.status_code == 409, clash.text
    named = client.post(
        "/api/v1/funding-sources", json={"code": "bond3", "name": "债券三期"}, headers=keys.admin
    )
    assert named.status_code == 201, named.text
    again = client.post(
        "/api/v1/funding-sources", json={"code": "bond4", "name": " 债券三期"}, headers=keys.admin
    )
    assert again.status_code == 409, again.text
