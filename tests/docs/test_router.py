"""/docs and /redoc work where the network reaches nothing but the app: each page names only
the app's own paths, and the app serves every script, stylesheet and icon they load."""

import re

import pytest
from fastapi.testclient import TestClient

# src= and href= in the page, and the document the page's script loads (url: / spec-url=).
REFERENCES = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*'([^']+)'""")
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_render_with_the_network_to_everything_but_the_app_blocked(
    client: TestClient, page: str
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # The browser is told to fetch nothing from elsewhere (ReDoc's vendor logo included).
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "img-src 'self' data:" in policy
    html = response.text
    assert re.findall(r"https?://", html) == []  # no host but the app's: no CDN, no web fonts
    references = {a or b for a, b in REFERENCES.findall(html)}
    assert "/openapi.json" in references
    assert len(references) >= 3  # the document, the script, and the stylesheet or icon
    for path in references:
        assert path.startswith("/") and not path.startswith("//"), path
        asset = client.get(path)
        assert asset.status_code == 200, path
        suffix = path[path.rindex(".") :]
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), path
        assert asset.content


def test_swagger_ui_reads_the_openapi_version_the_app_writes(client: TestClient) -> None:
    """Swagger UI before 5 refuses an OpenAPI 3.1 document ("Unable to render this
    definition"): the bundle served is 5 or later."""
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle)
    assert version is not None and int(version.group(1)) >= 5


def test_an_unknown_asset_is_a_problem_404(client: TestClient) -> None:
    response = client.get("/docs/assets/swagger-initializer.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "swagger-initializer.js" in response.json()["detail"]
