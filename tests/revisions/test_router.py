"""概算调整 replace the estimate from their approval date; the budget as of any date is exact;
a retried revision is recorded once, whether the project is named by id or by code."""

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Keys, if_match, payment


def _revise(client: TestClient, keys: Keys, project: Any, estimate: str, on: str, doc: str) -> Any:
    response = client.post(
        f"/api/v1/projects/{project.id}/revisions",
        json={
            "new_estimate": estimate,
            "approved_on": on,
            "document_no": doc,
            "reason": "材料价格上涨",
        },
        headers=keys.finance,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _budget(client: TestClient, keys: Keys, project: Any, as_of: str | None = None) -> Any:
    params = {"as_of": as_of} if as_of else {}
    return client.get(
        f"/api/v1/projects/{project.id}/budget", params=params, headers=keys.viewer
    ).json()


def test_a_revision_replaces_the_estimate(client: TestClient, keys: Keys, project: Any) -> None:
    first = _revise(client, keys, project, "1200000.00", "2023-03-01", "发改〔2023〕1号")
    assert (first["previous_estimate"], first["revised_estimate"]) == ("1000000.00", "1200000.00")
    second = _revise(client, keys, project, "1100000.00", "2023-09-01", "发改〔2023〕9号")
    # Not 1000000 + 1200000 + 1100000: the latest approved figure replaces the others.
    assert second["revised_estimate"] == "1100000.00"
    read = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).json()
    assert (read["original_estimate"], read["revised_estimate"]) == ("1000000.00", "1100000.00")
    history = client.get(f"/api/v1/projects/{project.id}/revisions", headers=keys.viewer).json()
    assert [(r["document_no"], r["new_estimate"]) for r in history] == [
        ("发改〔2023〕1号", "1200000.00"),
        ("发改〔2023〕9号", "1100000.00"),
    ]


def test_a_back_dated_revision_does_not_override_a_later_one(
    client: TestClient, keys: Keys, project: Any
) -> None:
    _revise(client, keys, project, "1500000.00", "2023-09-01", "B")
    late_entry = _revise(client, keys, project, "1300000.00", "2023-05-01", "A")
    assert late_entry["revised_estimate"] == "1500000.00"
    assert any("approved later" in w for w in late_entry["warnings"])
    assert _budget(client, keys, project, "2023-06-30")["revised_estimate"] == "1300000.00"


def test_budget_as_of_dates(client: TestClient, keys: Keys, project: Any) -> None:
    def pay(amount: str, voucher: str, on: str) -> Any:
        return client.post(
            "/api/v1/disbursements",
            json=payment(project.id, amount, voucher, paid_on=on),
            headers=keys.finance,
        ).json()

    p1 = pay("400000.00", "V-1", "2023-02-10")
    pay("300000.00", "V-2", "2023-04-10")
    _revise(client, keys, project, "1200000.00", "2023-03-01", "发改〔2023〕1号")
    client.post(
        f"/api/v1/disbursements/{p1['id']}/reversals",
        json={
            "amount": "50000.00",
            "reason": "扣回",
            "reversed_on": "2023-05-01",
            "voucher_no": "红字-01",
        },
        headers=keys.finance,
    )
    expected = {
        "2023-01-31": ("1000000.00", "0.00", "1000000.00", None, 0, 0),
        "2023-02-10": ("1000000.00", "400000.00", "600000.00", "0.4000", 1, 0),
        "2023-03-01": ("1200000.00", "400000.00", "800000.00", "0.3333", 1, 0),
        "2023-04-30": ("1200000.00", "700000.00", "500000.00", "0.5833", 2, 0),
        "2023-05-01": ("1200000.00", "650000.00", "550000.00", "0.5417", 2, 1),
    }
    for as_of, (revised, disbursed, remaining, completion, payments, reversals) in expected.items():
        budget = _budget(client, keys, project, as_of)
        got = (
            budget["revised_estimate"],
            budget["disbursed"],
            budget["remaining"],
            budget["financial_completion"] if budget["disbursed"] != "0.00" else None,
            budget["payments"],
            budget["reversals"],
        )
        assert got == (revised, disbursed, remaining, completion, payments, reversals), as_of
    today = _budget(client, keys, project)
    assert (today["revised_estimate"], today["disbursed"]) == ("1200000.00", "650000.00")


def test_zero_estimate_gives_null_completion(client: TestClient, keys: Keys, project: Any) -> None:
    _revise(client, keys, project, "0.00", "2023-03-01", "撤销")
    budget = _budget(client, keys, project)
    assert budget["financial_completion"] is None and budget["revised_estimate"] == "0.00"


def test_original_estimate_locks_once_financial(
    client: TestClient, keys: Keys, project: Any
) -> None:
    url = f"/api/v1/projects/{project.id}"
    before = client.patch(
        url,
        json={"original_estimate": "900000.00"},
        headers={**keys.admin, **if_match(client, keys, url)},
    )
    assert before.status_code == 200 and before.json()["revised_estimate"] == "900000.00"
    _revise(client, keys, project, "950000.00", "2023-03-01", "D-1")
    locked = client.patch(
        url,
        json={"original_estimate": "800000.00"},
        headers={**keys.admin, **if_match(client, keys, url)},
    )
    assert locked.status_code == 409
    other_field = client.patch(
        url,
        json={"status": "implementation"},
        headers={**keys.admin, **if_match(client, keys, url)},
    )
    assert other_field.status_code == 200
    assert other_field.json()["revised_estimate"] == "950000.00"


def test_project_with_payments_cannot_be_deleted(
    client: TestClient, keys: Keys, project: Any
) -> None:
    client.post(
        "/api/v1/disbursements", json=payment(project.id, "1.00", "V-1"), headers=keys.finance
    )
    refused = client.delete(f"/api/v1/projects/{project.id}", headers=keys.admin)
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    assert client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).status_code == 200


def test_revision_rules(client: TestClient, keys: Keys, project: Any) -> None:
    url = f"/api/v1/projects/{project.id}/revisions"
    body = {
        "new_estimate": "1.00",
        "approved_on": "2023-01-01",
        "document_no": "X-1",
        "reason": "r",
    }
    assert client.post(url, json=body, headers=keys.viewer).status_code == 403
    assert client.post(url, json=body, headers=keys.finance).status_code == 201
    assert client.post(url, json=body, headers=keys.finance).status_code == 409
    future = client.post(
        url, json={**body, "document_no": "X-2", "approved_on": "2999-01-01"}, headers=keys.finance
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "approved_on"
    below = client.post(url, json={**body, "document_no": "X-3"}, headers=keys.finance)
    assert below.status_code == 201
    for method in ("PATCH", "DELETE", "PUT"):
        assert client.request(method, url, headers=keys.admin).status_code == 405


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
