"""Input the service reads one way only: a JSON object naming a key twice, a header sent
twice, `If-Match: *` and a path id that is not plain digits are refused, never guessed at."""

import json

from fastapi.testclient import TestClient

from app.projects.models import Project
from tests.factories import Keys, payment

JSON = {"Content-Type": "application/json"}


def _ledger_total(client: TestClient, keys: Keys, project_id: int | None) -> int:
    listing = client.get(
        "/api/v1/disbursements", params={"project_id": project_id}, headers=keys.viewer
    )
    assert listing.status_code == 200, listing.text
    total: int = listing.json()["total"]
    return total


def _etag(client: TestClient, keys: Keys, project: Project) -> str:
    etag: str = client.get(f"/api/v1/projects/{project.id}", headers=keys.viewer).headers["ETag"]
    return etag


def test_an_amount_sent_twice_in_one_body_pays_nothing(
    client: TestClient, keys: Keys, project: Project
) -> None:
    body = json.dumps(payment(project.id, "1.00", "DUP-1"), ensure_ascii=False)
    for twice in (
        body[:-1] + ', "amount": "900000000.00"}',
        # The same key, written with an escape: one name once decoded.
        body[:-1] + ', "\\u0061mount": "900000000.00"}',
    ):
        response = client.post(
            "/api/v1/disbursements", content=twice.encode(), headers={**keys.finance, **JSON}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert [(e["field"], e["location"]) for e in problem["errors"]] == [("amount", "body")]
        assert 'duplicate key "amount"' in problem["errors"][0]["message"]
        assert "amount" in problem["detail"]
    assert _ledger_total(client, keys, project.id) == 0


def test_a_key_twice_in_a_nested_object_is_named_by_its_path(
    client: TestClient, keys: Keys, project: Project
) -> None:
    before = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer)
    body = (
        '{"sources": [{"funding_source": "county", "planned": "10.00"},'
        ' {"funding_source": "county", "planned": "1.00", "planned": "2.00"}]}'
    )
    response = client.put(
        f"/api/v1/projects/{project.id}/funding",
        content=body,
        headers={**keys.finance, **JSON, "If-Match": _etag(client, keys, project)},
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["sources.1.planned"]
    after = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer)
    assert after.json() == before.json()


def test_the_same_key_in_two_objects_is_not_a_duplicate(
    client: TestClient, keys: Keys, project: Project
) -> None:
    body = (
        '{"sources": [{"funding_source": "county", "planned": "10.00"},'
        ' {"funding_source": "central_budget", "planned": "2.00"}]}'
    )
    response = client.put(
        f"/api/v1/projects/{project.id}/funding",
        content=body,
        headers={**keys.finance, **JSON, "If-Match": _etag(client, keys, project)},
    )
    assert response.status_code == 200, response.text
    plan = client.get(f"/api/v1/projects/{project.id}/funding", headers=keys.viewer).json()
    assert {(s["funding_source"], s["planned"]) for s in plan["sources"]} >= {
        ("county", "10.00"),
        ("central_budget", "2.00"),
    }


def test_two_authorization_headers_are_refused_naming_the_header(
    client: TestClient, keys: Keys
) -> None:
    admin = keys.admin["Authorization"]
    for second in (admin, keys.viewer["Authorization"], "Bearer unknown"):
        response = client.get(
            "/api/v1/programmes", headers=[("Authorization", admin), ("Authorization", second)]
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert [(e["field"], e["location"]) for e in problem["errors"]] == [
            ("Authorization", "header")
        ]
        assert "once" in problem["detail"]
    assert client.get("/api/v1/programmes", headers=[("Authorization", admin)]).status_code == 200


def test_two_idempotency_keys_post_nothing(
    client: TestClient, keys: Keys, project: Project
) -> None:
    response = client.post(
        "/api/v1/disbursements",
        json=payment(project.id, "100.00", "IDEM-TWICE"),
        headers=[
            *keys.finance.items(),
            ("Idempotency-Key", "first-key"),
            ("Idempotency-Key", "second-key"),
        ],
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
    assert _ledger_total(client, keys, project.id) == 0


def test_the_repeated_header_refusal_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/disbursements"]["post"]
    assert "400" in operation["responses"]
