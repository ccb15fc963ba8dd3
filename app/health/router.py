from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.auth.dependencies import PublicDep
from app.db import SessionFactory
from app.migrate import head_revision
from app.routing import FeatureRouter

router = FeatureRouter(tags=["health"], dependencies=[PublicDep])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    """Answers 200 while the process runs; needs no key and does not touch the database."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database answers and its schema is at the code's migration head",
    responses={503: {"model": Health, "description": "Not ready"}},
)
def readyz(request: Request) -> Health | JSONResponse:
    """200 when the database answers and its schema is at the migration head this code expects; 503
    (with the reason) otherwise, e.g. before `python -m app migrate`. Needs no key."""
    factory: SessionFactory = request.app.state.session_factory
    try:
        with factory.begin(write=False) as session:
            current = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # any database failure means "not ready", never a crash
        return JSONResponse(
            {"status": "unavailable", "detail": type(exc).__name__}, status_code=503
        )
    if current != head_revision():
        detail = f"schema at {current}, code expects {head_revision()}; run `python -m app migrate`"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    return Health(status="ok")
