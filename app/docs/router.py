"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with every script,
stylesheet and icon they load served by the app itself from a pinned package
(fastapi-offline): the pages work where the network reaches nothing but the service."""

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.auth.dependencies import PublicDep
from app.routing import FeatureRouter, packaged_file

router = FeatureRouter(dependencies=[PublicDep], include_in_schema=False)

ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = files("fastapi_offline") / "static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# The browser loads scripts, styles, images and fonts from the app alone (ReDoc's sidebar would
# otherwise fetch its vendor's logo from a CDN), runs no inline script but the page's own
# (by its hash), and the page can't be framed. Both pages inject their styles at run time.
_POLICY = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Swagger UI's online validator badge would send the document to a third party.
_SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def _app_path(request: Request, path: str) -> str:
    """A path of this app as the browser reaches it (behind a proxy's root_path too)."""
    return f"{request.scope.get('root_path', '')}{path}"


def _only_the_app(page: HTMLResponse) -> HTMLResponse:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode("utf-8"))
    )
    page.headers["Content-Security-Policy"] = _POLICY.format(hashes=hashes)
    return page


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API documentation (Swagger UI)."""
    return _only_the_app(
        get_swagger_ui_html(
            openapi_url=_app_path(request, request.app.openapi_url),
            title=f"{request.app.title} – API",
            swagger_js_url=_app_path(request, f"{ASSETS_PATH}/swagger-ui-bundle.js"),
            swagger_css_url=_app_path(request, f"{ASSETS_PATH}/swagger-ui.css"),
            swagger_favicon_url=_app_path(request, f"{ASSETS_PATH}/favicon.png"),
            oauth2_redirect_url=None,
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """The API reference (ReDoc), without web fonts from elsewhere."""
    return _only_the_app(
        get_redoc_html(
            openapi_url=_app_path(request, request.app.openapi_url),
            title=f"{request.app.title} – API reference",
            redoc_js_url=_app_path(request, f"{ASSETS_PATH}/redoc.standalone.js"),
            redoc_favicon_url=_app_path(request, f"{ASSETS_PATH}/favicon.png"),
            with_google_fonts=False,
        )
    )


# ReDoc's sidebar shows its vendor's logo from a CDN, which the page's policy blocks (and the
# browser reports as an error): the bundle is served with the app's own icon in its place.
_REDOC_LOGO = (b"https://cdn.redoc.ly/redoc/logo-mini.svg", ASSETS_PATH.encode() + b"/favicon.png")


def _without_vendor_logo(content: bytes) -> bytes:
    return content.replace(*_REDOC_LOGO)


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    """A script, stylesheet or icon of the documentation pages."""
    return packaged_file(
        _ASSETS_DIR,
        name,
        media_types=ASSET_TYPES,
        headers={"Cache-Control": "public, max-age=86400"},
        transform=_without_vendor_logo if name == "redoc.standalone.js" else lambda c: c,
    )
