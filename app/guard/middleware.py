"""The request guard: an ASGI middleware in front of every /api/ route.

FastAPI reads and parses a body before it resolves a route's dependencies, so the key check
of app.auth would come after a 50 MB body was in memory. The guard asks the same question
(`authenticate_connection`, looked up once per request) before the body is read, and only
then lets the app read it, counting its bytes and timing it.
"""

import asyncio
import math
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.dependencies import authenticate_connection
from app.config import Settings
from app.errors import KeyInAddress, PayloadTooLarge, TooManyRequests

API_PREFIX = "/api/"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Query parameters that carry a key in the address, where proxies, access logs and browser
# history keep it: refused, and the value never logged.
KEY_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token"})
REDACTED = "REDACTED"


class RateLimits:
    """Writes per key and failed authentications per address, counted in this worker process
    (moving windows in memory: `serve --workers N` admits N times each limit)."""

    def __init__(self, *, writes: str, auth_failures: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.writes = parse(writes)
        self.auth_failures = parse(auth_failures)

    def refuse_if_over(self, item: RateLimitItem, who: str, *, what: str) -> None:
        """429 if `who` has used up `item` already (nothing counted)."""
        if not self._limiter.test(item, who):
            raise self._too_many(item, who, what)

    def hit(self, item: RateLimitItem, who: str, *, what: str) -> None:
        """Count one against `item` for `who`; 429 if that is one too many."""
        if not self._limiter.hit(item, who):
            raise self._too_many(item, who, what)

    def count(self, item: RateLimitItem, who: str) -> None:
        """Count one against `item` for `who`, already answered."""
        self._limiter.hit(item, who)

    def _too_many(self, item: RateLimitItem, who: str, what: str) -> TooManyRequests:
        reset = self._limiter.get_window_stats(item, who).reset_time
        seconds = max(1, math.ceil(reset - time.time()))
        return TooManyRequests(
            f"Too many {what} ({item}); try again in {seconds} seconds.", retry_after=seconds
        )


def _key_in_query(scope: Scope, key_prefix: str) -> bool:
    """Whether the query string carries a key; if so, its values are replaced in the scope,
    so the server's access log (which prints the scope's query) never shows them."""
    raw = scope.get("query_string", b"").decode("latin-1")
    if not raw:
        return False
    pairs = parse_qsl(raw, keep_blank_values=True)
    found = False
    kept = []
    for name, value in pairs:
        if name.lower() in KEY_PARAMETERS or value.startswith(f"{key_prefix}_"):
            found = True
            value = REDACTED
        kept.append((name, value))
    if found:
        scope["query_string"] = urlencode(kept).encode("latin-1")
    return found


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers") or ():
        if name == wanted:
            return bytes(value)
    return None


async def _answer_as_the_app_would(
    exc: Exception, scope: Scope, receive: Receive, send: Send
) -> None:
    """The response the app's exception handlers give `exc` (app/errors.py): the guard's 401
    is the route's 401, a database that can't be reached the same 503."""
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers:
            response = await handlers[kind](Request(scope), exc)
            await response(scope, receive, send)
            return
    raise exc


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class RequestGuard:
    """For /api/ requests, before any byte of a body is read: a key in the query string is a
    400 (and redacted from the log); an address over its failed-authentication limit is a
    429; a request that carries a key or a body is authenticated here (no or an unknown key
    is the 401 of app.auth), and a write over its key's limit is a 429; a declared body over
    the limit is a 413. Then the app reads the body through a `receive` that refuses it (413)
    once it passes the limit, and (408) if it has not all come within the read timeout.
    Every 401 answered under /api/, here or by a route, counts against the address."""

    def __init__(self, app: ASGIApp, *, settings: Settings, body_limits: Mapping[str, int]) -> None:
        self.app = app
        self.key_prefix = settings.key_prefix
        self.max_body_bytes = settings.max_body_bytes
        # Paths with a limit of their own (the CSV import's IMPORT_MAX_BYTES).
        self.body_limits = dict(body_limits)
        self.read_timeout = settings.body_read_timeout_seconds
        self.rates = RateLimits(
            writes=settings.write_rate_limit, auth_failures=settings.auth_failure_rate_limit
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        started = asyncio.get_running_loop().time()
        client = scope.get("client")
        address = client[0] if client else "-"
        rates = self.rates

        async def counting_failures(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                rates.count(rates.auth_failures, address)
            await send(message)

        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        body = _has_body(scope)
        try:
            if _key_in_query(scope, self.key_prefix):
                raise KeyInAddress(
                    "Send the API key in the `Authorization: Bearer <key>` header, never in "
                    "the address: addresses are kept in logs and browser history. Treat a key "
                    "sent this way as exposed, and revoke it."
                )
            rates.refuse_if_over(rates.auth_failures, address, what="failed authentications")
            if body or _header(scope, b"authorization") is not None:
                actor = await authenticate_connection(HTTPConnection(scope))
                if scope["method"] in WRITES:
                    rates.hit(rates.writes, f"key-{actor.key_id}", what="writes with this key")
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(_too_large(limit))
        except Exception as exc:
            await _answer_as_the_app_would(exc, scope, receive, counting_failures)
            return
        if body:
            receive = self._guarded(receive, limit=limit, deadline=started + self.read_timeout)
        await self.app(scope, receive, counting_failures)

    def _guarded(self, receive: Receive, *, limit: int, deadline: float) -> Receive:
        received = 0
        complete = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(remaining, 0.001))
            except TimeoutError:
                raise HTTPException(
                    408, f"The request body did not arrive within {self.read_timeout:g} seconds."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
                complete = not message.get("more_body", False)
            return message

        return guarded_receive


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."
