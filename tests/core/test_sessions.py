"""One session per request, owning its transaction: requests never see each other's work
before it commits, and a failed request leaves nothing behind."""

import threading
import time
import uuid
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Response
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, func
from sqlmodel import Session, col, select

from app.auth.dependencies import AdminDep
from app.auth.models import Role
from app.db import SessionDep, SessionFactory
from app.errors import Conflict
from app.exports.batches import driver_batches
from app.money import MoneyType, fen
from app.routing import ExactRoute
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


def test_driver_batches_bind_parameters_as_sqlalchemy_does(connection: Connection) -> None:
    """Money and dates in the WHERE clause go through their column types' bind processing;
    the rows come back as the driver gives them, a batch at a time."""
    table = sa.Table(
        "batch_probe", sa.MetaData(), sa.Column("amount", MoneyType()), sa.Column("on", sa.Date())
    )
    savepoint = connection.begin_nested()
    try:
        table.create(connection)
        connection.execute(
            table.insert(),
            [{"amount": Decimal(n) / 4, "on": date(2023, 1, n)} for n in range(1, 9)],
        )
        query = (
            sa.select(fen(table.c.amount), table.c.on)
            .where(table.c.amount >= Decimal("0.75"), table.c.on <= date(2023, 1, 7))
            .order_by(table.c.amount.desc())
        )
        batches = list(driver_batches(connection, query, size=2))
        assert [len(batch) for batch in batches] == [2, 2, 1]
        assert [(fen, str(on)) for batch in batches for fen, on in batch] == [
            (175, "2023-01-07"),
            (150, "2023-01-06"),
            (125, "2023-01-05"),
            (100, "2023-01-04"),
            (75, "2023-01-03"),
        ]
    finally:
        savepoint.rollback()


def test_the_route_ends_the_transaction_in_the_endpoints_thread(
    committed_app: FastAPI, engine: Engine
) -> None:
    """A sync endpoint that returns a finished Response is committed in its own worker thread
    (no second trip through the pool); one that raises is rolled back there; one that returns
    a model is committed by the session dependency once the model has been serialised."""
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
