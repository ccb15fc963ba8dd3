"""/docs and /redoc render where the network reaches nothing but the app: every request to
another host is blocked (and recorded), and the pages still draw the API's operations."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route

from tests.browser.conftest import LiveServer, screenshot


@pytest.mark.parametrize(
    ("path", "drawn"),
    [("/docs", ".swagger-ui .opblock-summary"), ("/redoc", "[data-section-id^='tag/']")],
)
def test_docs_render_with_every_other_host_blocked(
    browser: Browser, live_server: LiveServer, path: str, drawn: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    app = urlsplit(live_server.base).netloc
    blocked: list[str] = []
    errors: list[str] = []

    def only_the_app(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != app:
            blocked.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", only_the_app)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server.base}{path}")
        page.wait_for_selector(drawn, timeout=30_000)
        assert page.locator(drawn).count() > 10
        assert blocked == [], f"{path} asked other hosts for {blocked}"
        assert errors == []
        screenshot(page, path.strip("/"))
    finally:
        context.close()
