"""Headers on every response: no sniffing, no referrer, no framing, a Content-Security-Policy
that lets an API answer load nothing (pages set their own: the dashboard, /docs, /redoc), and
no caching of anything under /api/ (money, keys) unless the route said otherwise (reports:
`private, no-cache`, revalidated by their ETag). Added by app.middleware as a response starts,
a 500 included."""

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Scope

from app.guard.middleware import API_PREFIX

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
API_CACHE_CONTROL = "no-store"


def add_security_headers(scope: Scope, start: Message) -> None:
    """Adds to an `http.response.start` message the headers its route did not set."""
    start.setdefault("headers", [])
    headers = MutableHeaders(scope=start)
    for name, value in EVERY_RESPONSE.items():
        headers.setdefault(name, value)
    if scope["path"].startswith(API_PREFIX):
        headers.setdefault("Cache-Control", API_CACHE_CONTROL)
