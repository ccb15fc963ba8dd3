"""The Idempotency-Key header of a POST that must not act twice."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from app.params import check_sent_once

KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


@dataclass(frozen=True)
class IdempotencyContext:
    key: str
    method: str
    path: str


async def idempotency_context(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=KEY_PATTERN,
            description="Any unique string (a UUID); a retry with the same key returns the "
            "first response",
        ),
    ] = None,
) -> IdempotencyContext | None:
    check_sent_once(request, "Idempotency-Key")  # two keys: which one guards the retry?
    if idempotency_key is None:
        return None
    return IdempotencyContext(key=idempotency_key, method=request.method, path=request.url.path)


IdempotencyDep = Annotated[IdempotencyContext | None, Depends(idempotency_context)]
