"""One session per request, owning its transaction: requests never see each other's work
before it commits, and a failed request leaves nothing behind."""

import threading
import time
import uuid
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.auth.dependencies import AdminDep
from app.auth.models import Role
from app.db import SessionDep
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


def test_the_route_ends_the_transaction_in_the_endpoints_thread(
    committed_app: FastAPI, engine: Engine
) -> None:
    """A sync endpoint that returns a finished Response is committed in its own worker thread
    (no second trip through the pool); one that raises is rolled back there; one that returns
    a model is committed by the session dependency once the model has been serialised."""
    from fastapi import APIRouter, Response
    from sqlalchemy import event

    from app.routing import ExactRoute

    app = committed_app
    router = APIRouter(route_class=ExactRoute)
    # Set in the endpoint: seen by the commit only if it runs in the same worker-thread call.
    endpoint_call: ContextVar[str | None] = ContextVar("endpoint_call", default=None)
    commits: dict[str, str | None] = {}

    def write(session: Session, name: str) -> None:
        session.add(Site(region=REGION, name=name, kind="other"))
        session.flush()
        endpoint_call.set(name)

        @event.listens_for(session, "after_commit")
        def committed(_: Session) -> None:
            commits[name] = endpoint_call.get()

    @router.post("/api/v1/test-uow/response/{name}")
    def as_response(name: str, session: SessionDep, actor: AdminDep) -> Response:
        write(session, name)
        return Response(status_code=201)

    @router.post("/api/v1/test-uow/model/{name}")
    def as_model(name: str, session: SessionDep, actor: AdminDep) -> dict[str, str]:
        write(session, name)
        return {"name": name}

    @router.post("/api/v1/test-uow/fail/{name}")
    def failing(name: str, session: SessionDep, actor: AdminDep) -> Response:
        write(session, name)
        raise Conflict("this request fails after writing")

    app.include_router(router)
    with Session(engine) as s:
        _, key = make_key(s, Role.admin)
        s.commit()
    headers = {"Authorization": f"Bearer {key}"}
    client = TestClient(app)
    tag = uuid.uuid4().hex[:6]
    assert client.post(f"/api/v1/test-uow/response/r-{tag}", headers=headers).status_code == 201
    assert client.post(f"/api/v1/test-uow/model/m-{tag}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/test-uow/fail/f-{tag}", headers=headers).status_code == 409
    assert commits == {f"r-{tag}": f"r-{tag}", f"m-{tag}": None}
    with Session(engine) as s:
        stored = set(s.exec(select(Site.name).where(col(Site.region) == REGION)))
    assert stored == {f"r-{tag}", f"m-{tag}"}
