"""Domain errors and their rendering as application/problem+json (RFC 9457).

Services raise these; one set of handlers renders them. Nothing here knows about routes.
"""

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
# FieldError.type of a query parameter the route does not read (app/routing.py).
UNKNOWN_PARAMETER = "unknown_parameter"
log = logging.getLogger("app.errors")


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    location: str
    message: str
    type: str
    row: int | None = Field(default=None, description="For a CSV import: the spreadsheet row")


class Problem(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    # Response headers the error carries (Retry-After).
    headers: dict[str, str] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "The resource has changed"


class InvalidInput(DomainError):
    """422 for input that passed schema validation but breaks a rule about one field."""

    status, slug, title = 422, "validation-error", "Invalid input"

    def __init__(self, detail: str, *, field: str, location: str = "body") -> None:
        super().__init__(detail)
        self.errors = [
            FieldError(field=field, location=location, message=detail, type="value_error")
        ]


class RepeatedHeader(DomainError):
    """400 for a header that must come once (Authorization, Idempotency-Key) sent twice: which
    copy counts is not for the service, or a proxy in front of it, to guess."""

    status, slug, title = 400, "repeated-header", "Header sent more than once"

    def __init__(self, header: str, *, count: int) -> None:
        detail = f"Send the {header} header once; it was sent {count} times."
        super().__init__(detail)
        self.errors = [
            FieldError(field=header, location="header", message=detail, type="repeated_header")
        ]


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class KeyInAddress(DomainError):
    """400: an API key sent in the query string (app/guard), where logs keep it."""

    status, slug, title = 400, "key-in-address", "API key in the address"


class TooManyRequests(DomainError):
    """429: a rate limit (app/guard); `Retry-After` says in how many seconds to try again."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class RowErrors(DomainError):
    """422 for a file: every bad row and field, and nothing written."""

    status, slug, title = 422, "validation-error", "Invalid rows"

    def __init__(self, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.errors = errors


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "If-Match with an ETag required"


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request.scope.get("request_id"),
    }
    if errors is not None:
        body["errors"] = [e.model_dump(exclude_none=True) for e in errors]
    if extra:
        # An extra member never replaces a standard one (RFC 9457: "status" is the HTTP code).
        body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location_and_field(loc: tuple[Any, ...]) -> tuple[str, str]:
    if not loc:
        return "body", ""
    location = str(loc[0])
    rest = [str(p) for p in loc[1:]]
    if location not in ("body", "query", "path", "header", "cookie"):
        return "body", ".".join(str(p) for p in loc)
    return location, ".".join(rest) if rest else location


def validation_errors(raw: list[dict[str, Any]] | Any) -> list[FieldError]:
    out = []
    for err in raw:
        location, field = _location_and_field(tuple(err.get("loc", ())))
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            field, message = "body", f"malformed JSON: {err.get('ctx', {}).get('error', 'invalid')}"
        out.append(
            FieldError(field=field, location=location, message=message, type=str(err.get("type")))
        )
    return out


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    408: ("request-timeout", "Request body too slow"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def _unreachable(exc: DBAPIError) -> bool:
    """The database can't be reached: the connection was lost, or none could be opened."""
    if exc.connection_invalidated:
        return True
    # psycopg: an OperationalError without a SQLSTATE never got an answer from the server.
    return isinstance(exc.orig, psycopg.OperationalError) and exc.orig.sqlstate is None


def _unique_violation(exc: DBAPIError) -> bool:
    """A unique index refused the row: another request wrote the same key at the same moment,
    after this one's check found it free (the check itself answers the common case)."""
    if isinstance(exc.orig, psycopg.Error):
        return exc.orig.sqlstate == "23505"
    return isinstance(exc.orig, sqlite3.IntegrityError) and "UNIQUE" in str(exc.orig)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = dict(exc.headers)
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            errors=getattr(exc, "errors", None),
            extra=exc.extra,
            headers=headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        names = ", ".join(sorted({e.field for e in errors}))
        unknown = all(e.type == UNKNOWN_PARAMETER for e in errors)
        said = "Unknown query parameter" if unknown else "Invalid value for"
        return problem_response(
            request,
            status=422,
            slug="validation-error",
            title="Invalid input",
            detail=f"{said}: {names}",
            errors=errors,
        )

    @app.exception_handler(DBAPIError)
    async def on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if _unique_violation(exc):
            log.warning("unique violation on %s %s: %s", request.method, request.url.path, exc.orig)
            return problem_response(
                request,
                status=409,
                slug="conflict",
                title="Conflict with the current state",
                detail="Another request recorded the same code or number at the same moment; "
                "read the current state before trying again.",
            )
        if not _unreachable(exc):
            raise exc  # a 500 (middleware): not the client's doing, nor a lost connection
        log.warning("database unreachable on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            status=503,
            slug="database-unavailable",
            title="Database unavailable",
            detail="The database could not be reached (a restart, or it is down). Retry the "
            "request: a payment retried with the same Idempotency-Key (or voucher number) is "
            "never posted twice.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            request,
            status=exc.status_code,
            slug=slug,
            title=title,
            detail=detail,
            headers=dict(exc.headers) if exc.headers else None,
        )


class PreconditionFailedProblem(Problem):
    """A 412: the resource changed since the client read it."""

    current_etag: str = Field(
        description="The resource's ETag now: read it again, or send this in If-Match",
        examples=['"contract-7-v3"'],
    )


_COMPONENTS = "#/components/schemas/"
# The problem schemas problem_responses() has named, by name: the OpenAPI components they need.
_PROBLEM_SCHEMAS: dict[str, type[Problem]] = {"Problem": Problem}
_PROBLEM_DESCRIPTIONS = {
    400: "Bad request: a header that must come once (Authorization, Idempotency-Key) sent "
    "twice, or an API key in the address (send it in the Authorization header)",
    401: "No API key, or a revoked or unknown one",
    403: "The key's role may not do this",
    404: "Not found, or not visible to this key",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag; `current_etag` is the one to send",
    408: "The request body did not all arrive within the read timeout",
    413: "The request body is larger than allowed",
    429: "Too many writes with this key, or failed authentications from this address; "
    "`Retry-After` says when to try again",
    422: "Invalid input; `errors` names each field",
    428: "If-Match required, naming an ETag (`*` names none)",
}


def problem_responses(
    *statuses: int, schemas: dict[int, type[Problem]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route's documented errors: each an application/problem+json
    body, the Problem schema or (`schemas`, and 412's current_etag) one with its extra members.
    A route that takes a key (401) may also answer 400: its Authorization header sent twice."""
    if 401 in statuses and 400 not in statuses:
        statuses = (400, *statuses)
    chosen: dict[int, type[Problem]] = {412: PreconditionFailedProblem, **(schemas or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = chosen.get(status, Problem)
        _PROBLEM_SCHEMAS[model.__name__] = model
        responses[status] = {
            "description": _PROBLEM_DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"{_COMPONENTS}{model.__name__}"}}},
        }
    return responses


def install_problem_schemas(app: FastAPI) -> None:
    """Adds the problem schemas the routes' responses refer to to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            _, defs = models_json_schema(
                [(model, "serialization") for model in _PROBLEM_SCHEMAS.values()],
                ref_template=_COMPONENTS + "{model}",
            )
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in defs.get("$defs", {}).items():
                components.setdefault(name, schema)
        return build()  # FastAPI's own cache, completed above

    app.openapi = openapi  # type: ignore[method-assign]
