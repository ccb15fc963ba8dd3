"""One session per request, owning its transaction: requests never see each other's work
before it commits, and a failed request leaves nothing behind."""

import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.auth.dependencies import AdminDep
from app.auth.models import Role
from app.db import SessionDep, SessionFactory
from app.errors import Conflict
from app.sites.models import Site
from tests.factories import make_key

REGION = "isolation-probe"


def test_concurrent_requests_never_share_a_transaction(
    committed_app: FastAPI, engine: Engine
) -> None:
    app = committed_app

    @app.post("/api/v1/test-probe/{outcome}/{name}")
    def probe(outcome: str, name: str, session: SessionDep, actor: AdminDep) -> dict[str, object]:
        session.add(Site(region=REGION, name=name, kind="other"))
        session.flush()
        time.sleep(0.05)
        seen = list(session.exec(select(Site.name).where(Site.region == REGION)))
        if outcome == "fail":
            raise Conflict("this request fails after writing")
        return {"seen": seen, "session": id(session)}

    with Session(engine) as s:
        _, key = make_key(s, Role.admin)
        s.commit()
    headers = {"Authorization": f"Bearer {key}"}
    results: dict[str, tuple[int, Any]] = {}

    def call(outcome: str, name: str) -> None:
        response = TestClient(app).post(f"/api/v1/test-probe/{outcome}/{name}", headers=headers)
        results[name] = (response.status_code, response.json())

    names = [
        ("ok" if i % 2 else "fail", f"{'ok' if i % 2 else 'fail'}-{uuid.uuid4().hex[:6]}")
        for i in range(12)
    ]
    threads = [threading.Thread(target=call, args=n) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    ok = {n for outcome, n in names if outcome == "ok"}
    assert {n for n, (status, _) in results.items() if status == 200} == ok
    assert all(status == 409 for n, (status, _) in results.items() if n not in ok)
    for name in ok:
        seen = set(results[name][1]["seen"])
        assert name in seen  # its own uncommitted row
        assert not any(s.startswith("fail-") for s in seen)  # never another's uncommitted row
    with Session(engine) as s:
        stored = set(s.exec(select(Site.name).where(col(Site.region) == REGION)))
    assert stored == ok


def test_a_snapshot_lookup_reads_as_of_its_first_statement(engine: Engine) -> None:
    """What a streamed export relies on to read names and entries in separate statements: a
    row committed after its first read is not seen by the later ones."""
    factory = SessionFactory(engine)
    region = f"snapshot-probe-{uuid.uuid4().hex[:8]}"
    in_region = select(func.count()).select_from(Site).where(col(Site.region) == region)
    with factory.lookup(snapshot=True) as connection:
        assert connection.execute(in_region).scalar_one() == 0
        with Session(engine) as other:
            other.add(Site(region=region, name="新校区（测试）", kind="other"))
            other.commit()
        assert connection.execute(in_region).scalar_one() == 0
    with factory.lookup() as connection:
        assert connection.execute(in_region).scalar_one() == 1
