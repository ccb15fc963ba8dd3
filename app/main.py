"""The ASGI application: `app.main:app`."""

import gc
import logging

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.audit.router import router as audit_router
from app.auth.cache import KeyCache
from app.config import Settings, get_settings
from app.contractors.router import router as contractors_router
from app.contracts.router import router as contracts_router
from app.dashboard.router import router as dashboard_router
from app.db import SessionFactory, make_engine
from app.docs.router import router as docs_router
from app.errors import install_handlers, install_problem_schemas
from app.funding.router import router as funding_router
from app.guard.middleware import RequestGuard
from app.guard.openapi import document_guard
from app.health.router import router as health_router
from app.keys.router import me_router
from app.keys.router import router as keys_router
from app.ledger.router import router as ledger_router
from app.middleware import RequestContextMiddleware, RequestIdFilter
from app.milestones.router import router as milestones_router
from app.oc4ids.router import router as oc4ids_router
from app.programmes.router import router as programmes_router
from app.projects.router import router as projects_router
from app.reports.cache import ReportCache
from app.reports.router import budget_router as project_budget_router
from app.reports.router import project_router as project_reports_router
from app.reports.router import router as reports_router
from app.revisions.router import router as revisions_router
from app.sites.router import router as sites_router

DESCRIPTION = """
Tracks a public capital-works programme against its approved budget estimates (概算):
projects and their scope, budget lines and sites; revisions (概算调整); payments (拨付/支付)
and their reversals; contracts, change orders, 竣工验收 and retention (质保金); milestones,
progress and certifications (计量); and reports (portfolio, project, budget, time series,
dues, alerts) in JSON, CSV and XLSX; the programme as an OC4IDS project package.

Money is always an exact decimal string in 元 with two decimals (`"57413600.00"`).
Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json`.
"""

TAGS = [
    {
        "name": "programmes",
        "description": "Plans (e.g. 平罗县教育“十四五”规划) and their plan items (专栏7).",
    },
    {"name": "projects", "description": "The project register: scope, 概算, budget lines, sites."},
    {"name": "sites", "description": "Schools and other sites, found by name or alias (城关六小)."},
    {"name": "revisions", "description": "概算调整: approved revisions of a project's estimate."},
    {
        "name": "ledger",
        "description": "Payments (拨付/支付) and reversals: append-only, exact, idempotent.",
    },
    {
        "name": "funding",
        "description": "Funding sources (资金来源) and each project's funding plan.",
    },
    {"name": "contractors", "description": "Contractors and suppliers (施工单位/供货商)."},
    {
        "name": "contracts",
        "description": "Contracts, change orders, 竣工验收 and retention (质保金).",
    },
    {"name": "milestones", "description": "Milestones, progress, certification (计量)."},
    {
        "name": "reports",
        "description": "Portfolio and project reports, budget position, time series (S-curve), "
        "dues and alerts, as JSON, CSV or XLSX.",
    },
    {
        "name": "open data",
        "description": "The programme published in the Open Contracting for Infrastructure "
        "Data Standard (OC4IDS), for transparency platforms.",
    },
    {"name": "keys", "description": "API keys and roles (admin only). A key is shown once."},
    {"name": "audit", "description": "The hash-chained audit trail of every write (admin only)."},
    {"name": "health", "description": "Liveness and readiness; no key needed."},
]


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger("app")
    root.handlers = [handler]
    root.setLevel(level)
    root.propagate = False


def create_app(
    settings: Settings | None = None, session_factory: SessionFactory | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="capital-tracker",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        # Served by app/docs from a pinned package, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory or SessionFactory(make_engine(settings))
    app.state.report_cache = ReportCache(settings.report_cache_entries)
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    install_handlers(app)
    for router in (
        health_router,
        docs_router,
        dashboard_router,
        programmes_router,
        projects_router,
        revisions_router,
        funding_router,
        ledger_router,
        project_budget_router,
        sites_router,
        contractors_router,
        contracts_router,
        milestones_router,
        reports_router,
        project_reports_router,
        oc4ids_router,
        keys_router,
        me_router,
        audit_router,
    ):
        app.include_router(router)
    install_problem_schemas(app)
    document_guard(app)
    install_middleware(app, settings)
    return app


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost first: the request id and the security headers (and the last line against a
    500); CORS when origins are allowed (a preflight needs no key); the request guard (key,
    rates, body size and time: app/guard) before any route reads a body."""
    body_limits = {str(app.url_path_for("import_disbursements")): settings.import_max_bytes}
    app.add_middleware(RequestGuard, settings=settings, body_limits=body_limits)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
            ],
            expose_headers=[
                "ETag",
                "Retry-After",
                "X-Request-ID",
                "Idempotent-Replayed",
                "Content-Disposition",
            ],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """`app.main:app`, built on first use so that importing this module has no side effects."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = create_app()
        # What the served process has built by now (modules, routes, models, validators)
        # lives as long as it does: leave it out of the garbage collector's full passes,
        # which otherwise walk all of it again while a large report is being computed.
        gc.freeze()
    return _app
