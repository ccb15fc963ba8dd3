"""The dashboard page and its assets are the app's own: the page holds no data (anyone may load
it; the API answers only to a key), names no other host, runs no inline script, and carries the
enumerations' Chinese words from the same table the exports use."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from app.labels import CATEGORY, FLAG, STATUS
from tests.factories import Keys


def test_the_page_is_served_with_a_policy_that_allows_only_the_app(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: blob:; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
    )
    assert page.headers["referrer-policy"] == "no-referrer"
    assert re.findall(r"https?://", page.text) == []
    # The only inline script is data, which a browser never runs.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [attrs for attrs, body in scripts if body.strip()] == [
        ' type="application/json" id="ctk-words"'
    ]
    words = json.loads(scripts[0][1])
    assert words["category"] == CATEGORY and words["status"] == STATUS
    assert words["flag"] == FLAG
    assert '<base href="/">' in page.text
    # The service's today (Asia/Shanghai), the latest date the as-of field takes.
    assert re.search(r'<body data-today="\d{4}-\d{2}-\d{2}">', page.text)


@pytest.mark.parametrize(
    ("name", "media"), [("app.js", "text/javascript"), ("app.css", "text/css")]
)
def test_the_assets_come_from_the_app_and_name_no_other_host(
    client: TestClient, name: str, media: str
) -> None:
    asset = client.get(f"/dashboard/assets/{name}")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith(media)
    # The SVG namespace is a name, not a request.
    hosts = set(re.findall(r"https?://[^\s'\"`)]+", asset.text)) - {"http://www.w3.org/2000/svg"}
    assert hosts == set()


@pytest.mark.parametrize("name", ["index.html", "secrets.js", "router.py", "..%2Frouter.py"])
def test_only_the_listed_assets_are_served(client: TestClient, name: str) -> None:
    missing = client.get(f"/dashboard/assets/{name}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_page_holds_no_data_the_api_answers_only_to_a_key(
    client: TestClient, keys: Keys, zl7: None
) -> None:
    page = client.get("/").text
    assert "ZL7" not in page and "454004000" not in page
    assert client.get("/api/v1/reports/portfolio").status_code == 401
    assert client.get("/api/v1/reports/portfolio", headers=keys.viewer).status_code == 200
