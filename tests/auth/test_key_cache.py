"""The key cache: a key found valid is trusted for API_KEY_CACHE_SECONDS without a lookup.
A revocation through the API takes effect at once in the process that made it; one made
elsewhere (the command line, another worker) within the cache's seconds."""

import time

from fastapi.testclient import TestClient
from sqlalchemy import Connection, update
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.cache import KeyCache
from app.auth.models import ApiKey, Role
from app.config import Settings
from app.db import SessionFactory
from app.main import create_app
from app.timeutil import utcnow
from tests.factories import Keys


def _revoke_elsewhere(session: Session, key_id: int) -> None:
    """As `python -m app keys revoke` does from another process: straight in the database."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))  # type: ignore[arg-type]
    session.commit()


def _use_then_revoke_elsewhere(client: TestClient, session: Session, keys: Keys) -> None:
    """The viewer key works (and is now in the cache, if there is one); then it is revoked
    outside the server."""
    assert client.get("/api/v1/projects", headers=keys.viewer).status_code == 200
    _revoke_elsewhere(session, keys.ids["viewer"])


def _client(settings: Settings, connection: Connection, seconds: int) -> TestClient:
    app = create_app(
        settings.model_copy(update={"api_key_cache_seconds": seconds}),
        SessionFactory(connection, join_savepoint=True),
    )
    return TestClient(app, raise_server_exceptions=False)


def test_a_revocation_made_elsewhere_takes_effect_when_the_cache_expires(
    settings: Settings, connection: Connection, session: Session, keys: Keys
) -> None:
    with _client(settings, connection, seconds=1) as client:
        _use_then_revoke_elsewhere(client, session, keys)
        # Still trusted from the cache: found valid less than a second ago.
        assert client.get("/api/v1/projects", headers=keys.viewer).status_code == 200
        time.sleep(1.05)
        refused = client.get("/api/v1/projects", headers=keys.viewer)
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]


def test_without_the_cache_a_revocation_made_elsewhere_takes_effect_at_once(
    settings: Settings, connection: Connection, session: Session, keys: Keys
) -> None:
    with _client(settings, connection, seconds=0) as client:
        _use_then_revoke_elsewhere(client, session, keys)
        assert client.get("/api/v1/projects", headers=keys.viewer).status_code == 401


def test_a_revocation_through_the_api_takes_effect_at_once_despite_the_cache(
    settings: Settings, connection: Connection, keys: Keys
) -> None:
    with _client(settings, connection, seconds=300) as client:
        assert client.get("/api/v1/projects", headers=keys.finance).status_code == 200
        assert client.get("/api/v1/projects", headers=keys.viewer).status_code == 200
        revoked = client.delete(f"/api/v1/keys/{keys.ids['finance']}", headers=keys.admin)
        assert revoked.status_code == 200
        assert client.get("/api/v1/projects", headers=keys.finance).status_code == 401
        # The other keys are looked up again, and still work.
        assert client.get("/api/v1/projects", headers=keys.viewer).status_code == 200


def test_a_refused_revocation_leaves_the_key_working(
    settings: Settings, connection: Connection, keys: Keys
) -> None:
    with _client(settings, connection, seconds=300) as client:
        assert client.get("/api/v1/projects", headers=keys.finance).status_code == 200
        # The finance role may not revoke keys: nothing was committed, the key still works.
        refused = client.delete(f"/api/v1/keys/{keys.ids['finance']}", headers=keys.finance)
        assert refused.status_code == 403
        assert client.get("/api/v1/projects", headers=keys.finance).status_code == 200


def test_a_lookup_that_began_before_a_revocation_is_not_kept() -> None:
    """A request that read the key just before a revocation committed must not put it back in
    the cache after the revocation emptied it."""
    cache = KeyCache(300)
    actor = Actor(key_id=7, name="财务（测试）", role=Role.finance)
    began = cache.epoch
    cache.forget_all()  # the revocation commits while the lookup is under way
    cache.put("digest-of-key-7", actor, epoch=began)
    assert cache.get("digest-of-key-7") is None
    cache.put("digest-of-key-7", actor, epoch=cache.epoch)
    assert cache.get("digest-of-key-7") == actor


def test_the_cache_keeps_nothing_when_off() -> None:
    cache = KeyCache(0)
    cache.put("digest", Actor(key_id=1, name="x", role=Role.viewer), epoch=cache.epoch)
    assert cache.get("digest") is None
