"""Browser tests: a live server (its own SQLite file, the 专栏7 seed and the demo activity)
driven by headless Chromium, Debian's /usr/bin/chromium, through Playwright. Every page records
its requests and console: a request to any host but the app's, or a console error, fails the
test that caused it. Screenshots go to $SCREENSHOT_DIR (default build/screenshots).

They run on the SQLite pass only: the dashboard reads the same API the rest of the suite tests
on both engines. Without Chromium they are skipped, unless REQUIRE_BROWSER=1 (CI)."""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.live import app_cli, new_key, serving

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "build" / "screenshots"))


def _why_not() -> str | None:
    """Why the browser tests cannot run here, if they cannot."""
    if (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"):
        return "browser tests run on the SQLite pass only (the API they read is tested on both)"
    if os.environ.get("REQUIRE_BROWSER") != "1" and not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_not()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class LiveServer:
    base: str
    admin_key: str
    contractor_key: str
    contractor_name: str

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'dashboard.sqlite'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_URL", None)
    app_cli(env, "migrate")
    app_cli(env, "seed")
    app_cli(env, "demo")
    admin_key = new_key(env, "admin", "浏览器测试")
    with (folder / "serve.log").open("w") as log, serving(env, log=log) as base:
        with httpx.Client(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin_key}"}
        ) as admin:
            # The demo's contractor with the fewest projects: its key must see only those.
            contracts = admin.get("/contracts", params={"limit": 500}).json()["items"]
            projects_of: dict[int, set[int]] = {}
            for contract in contracts:
                projects_of.setdefault(contract["contractor_id"], set()).add(contract["project_id"])
            contractor_id = min(projects_of, key=lambda c: (len(projects_of[c]), c))
            contractor = admin.get(f"/contractors/{contractor_id}").json()
            key = admin.post(
                "/keys",
                json={
                    "name": "承包单位（示例）",
                    "role": "contractor",
                    "contractor_id": contractor_id,
                },
            ).json()["key"]
        yield LiveServer(base, admin_key, key, contractor["name"])


@dataclass
class Watched:
    """A page and what it did: every URL it requested, every console error."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# Package scope: Playwright's sync API runs an event loop in this thread while the browser is
# open; it must end before the rest of the suite (which starts loops of its own) runs.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def watch(browser: Browser, *, width: int = 1280, height: int = 900) -> Watched:
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True, locale="zh-CN"
    )
    page = context.new_page()
    watched = Watched(page)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on(
        "console",
        lambda message: watched.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


def assert_only_the_app(watched: Watched, base: str) -> None:
    """The page asked nothing of any host but the app, and logged no error."""
    app = urlsplit(base).netloc
    elsewhere = [
        url
        for url in watched.requests
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != app
    ]
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"
    assert watched.errors == [], f"console errors: {watched.errors}"
    assert all(urlsplit(url).scheme in ("http", "blob", "data") for url in watched.requests), (
        watched.requests
    )
    assert not any(re.search(r"ctk_\w+", url) for url in watched.requests), "a key in a URL"


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Watched]:
    watched = watch(browser)
    yield watched
    assert_only_the_app(watched, live_server.base)
    watched.page.context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
