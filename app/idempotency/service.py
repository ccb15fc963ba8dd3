"""Idempotency-Key: a retried POST returns the first response instead of acting twice.

Scope: the caller's API key. The record is written in the same transaction as the entry it
describes, so a crash leaves either both or neither. A retry with the same key and the same
body gets the first status and body (and `Idempotent-Replayed: true`); the same key with
another body is a 422. A retry while the first is still being processed waits for it and
gets its response on SQLite (writes take turns, and the retry's turn comes after the first
has committed); on PostgreSQL it gets a 409 at once (a transaction-scoped advisory lock).
Only successful responses are kept: a refused request changed nothing and may be retried.
Records are kept for IDEMPOTENCY_RETENTION_HOURS (default 72, at least 24).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.audit.models import canonical
from app.auth.actor import Actor
from app.engines import rules
from app.errors import Conflict, DomainError, FieldError
from app.idempotency.dependencies import IdempotencyContext
from app.idempotency.models import IdempotencyRecord
from app.timeutil import utcnow

Done = TypeVar("Done")
# A response as stored and replayed: status, JSON body, Location.
Answer = tuple[int, str, str | None]


class IdempotencyKeyReused(DomainError):
    status, slug, title = (
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with another request",
    )

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.errors = [
            FieldError(
                field="Idempotency-Key", location="header", message=detail, type="value_error"
            )
        ]


class RequestInFlight(Conflict):
    slug, title = (
        "idempotency-in-flight",
        "The first request with this Idempotency-Key is still running",
    )


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    location: str | None
    replayed: bool

    def to_response(self) -> Response:
        headers = {"Location": self.location} if self.location else {}
        if self.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            self.body, status_code=self.status, media_type="application/json", headers=headers
        )


def _claim_key(actor: Actor, key: str) -> int:
    """The caller's key as a 64-bit number, for the engine's claim on it."""
    digest = hashlib.sha256(f"{actor.key_id}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def run(
    *,
    session: Session,
    actor: Actor,
    context: IdempotencyContext | None,
    body: BaseModel,
    act: Callable[[], Done],
    render: Callable[[Done], Answer],
    resource: str | None = None,
) -> StoredResponse:
    """Run `act` once per (caller, key) and `render` its result as the response; replay that
    response to retries. `body` is the request's parsed body (the same key with another body
    is refused). `resource` names what the request acts on (so /projects/3 and /projects/ZL7-1
    are the same request); by default, the path."""
    if context is None or actor.key_id is None:
        return StoredResponse(*render(act()), replayed=False)
    payload = body.model_dump(mode="json")
    request_hash = hashlib.sha256(
        canonical([context.method, resource or context.path, payload]).encode()
    ).hexdigest()
    connection = session.connection()
    if not rules(connection.dialect.name).claim_request(connection, _claim_key(actor, context.key)):
        raise RequestInFlight(
            "a request with this Idempotency-Key is still being processed; retry shortly"
        )
    stored = session.execute(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.api_key_id) == actor.key_id,
            col(IdempotencyRecord.idempotency_key) == context.key,
        )
    ).scalar()
    if stored is not None:
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; "
                "use a new key for a new payment"
            )
        return StoredResponse(
            stored.response_status, stored.response_body, stored.response_location, replayed=True
        )
    status, text_body, location = render(act())
    session.add(
        IdempotencyRecord(
            api_key_id=actor.key_id,
            idempotency_key=context.key,
            request_method=context.method,
            request_path=context.path,
            request_hash=request_hash,
            response_status=status,
            response_body=text_body,
            response_location=location,
        )
    )
    session.flush()
    return StoredResponse(status, text_body, location, replayed=False)


def purge(*, session: Session, retention_hours: int) -> int:
    """Forget records older than the retention period; returns how many went."""
    cutoff = utcnow() - timedelta(hours=retention_hours)
    result = session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
