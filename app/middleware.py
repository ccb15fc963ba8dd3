"""Request ids, access to them in logs, the security headers on every response (app/guard),
and the last line of defence against a 500 with a trace."""

import itertools
import json
import logging
import os
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_BASE, PROBLEM_JSON
from app.guard.headers import add_security_headers

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("app.requests")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids: a random prefix per process and a counter (uuid4 per request costs a syscall).
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class RequestContextMiddleware:
    """Tags each request with an id (X-Request-ID) and adds the security headers to its
    response, and turns an unexpected exception into a 500 problem+json that carries the id
    but no stack trace; the trace goes to the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if _SAFE_ID.match(incoming) else f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"
        )
        scope["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
                add_security_headers(scope, message)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = json.dumps(
                {
                    "type": PROBLEM_BASE + "internal-error",
                    "title": "Internal server error",
                    "status": 500,
                    "detail": "The server failed to handle this request; quote the request id.",
                    "instance": scope.get("path"),
                    "request_id": request_id,
                }
            ).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            request_id_var.reset(token)
