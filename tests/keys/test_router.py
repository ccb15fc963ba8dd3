"""API keys: issued once in plain text and stored hashed; a contractor key is bound to an
existing contractor."""

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.models import ApiKey
from app.auth.service import hash_key
from tests.factories import Keys


def test_key_is_shown_once_and_stored_hashed(
    client: TestClient, keys: Keys, session: Session
) -> None:
    created = client.post(
        "/api/v1/keys", json={"name": "计财股 张会计", "role": "finance"}, headers=keys.admin
    )
    assert created.status_code == 201
    body = created.json()
    plaintext = body["key"]
    assert plaintext.startswith("ctk_fin_") and body["prefix"] in plaintext
    assert created.headers["cache-control"] == "no-store"
    listed = client.get("/api/v1/keys", headers=keys.admin).json()
    assert all("key" not in k for k in listed)
    assert plaintext not in client.get("/api/v1/keys", headers=keys.admin).text
    stored = session.get(ApiKey, body["id"])
    assert stored is not None and stored.key_hash == hash_key(plaintext)
    assert plaintext not in repr(stored.model_dump())
    assert (
        client.get("/api/v1/projects", headers={"Authorization": f"Bearer {plaintext}"}).status_code
        == 200
    )


def test_contractor_key_needs_an_existing_contractor(client: TestClient, keys: Keys) -> None:
    missing = client.post(
        "/api/v1/keys", json={"name": "c", "role": "contractor"}, headers=keys.admin
    )
    assert missing.status_code == 422
    unknown = client.post(
        "/api/v1/keys",
        json={"name": "c", "role": "contractor", "contractor_id": 999999},
        headers=keys.admin,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "contractor_id"
    bound = client.post(
        "/api/v1/keys",
        json={"name": "c", "role": "contractor", "contractor_id": keys.contractor_id},
        headers=keys.admin,
    )
    assert bound.status_code == 201 and bound.json()["contractor_id"] == keys.contractor_id


def test_a_key_tells_who_it_is_and_never_itself(client: TestClient, keys: Keys) -> None:
    for role in ("admin", "finance", "viewer", "contractor"):
        me = client.get("/api/v1/me", headers=keys.for_role(role))
        assert me.status_code == 200
        body = me.json()
        assert body["role"] == role and body["key_id"] == keys.ids[role]
        assert body["contractor_id"] == (keys.contractor_id if role == "contractor" else None)
        assert "key" not in body and keys.for_role(role)["Authorization"][7:] not in me.text
    assert client.get("/api/v1/me").status_code == 401
