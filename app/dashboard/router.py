"""The dashboard at `/`: one page, its script and its stylesheet, all served by the app (no CDN,
no font or chart library fetched from elsewhere). The page holds no data: it reads the public
API with the key the user pastes in, so it sees exactly what that key may see. The words of
the enumerations come from app.labels, written into the page, so the dashboard and the exports
say the same thing."""

import json
from datetime import date
from importlib.resources import files

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from app.auth.dependencies import PublicDep
from app.labels import (
    ALERT_KIND,
    CATEGORY,
    ENTRY_KIND,
    FIGURE,
    FLAG,
    GROUP_HEADING,
    SEVERITY,
    STAGE,
    STATUS,
)
from app.params import TodayDep
from app.routing import FeatureRouter, packaged_file

router = FeatureRouter(dependencies=[PublicDep], include_in_schema=False)

ASSETS_PATH = "/dashboard/assets"
_STATIC = files("app.dashboard") / "static"
ASSET_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The page talks to the app alone; no inline script or style runs (the labels travel as JSON,
# which the browser never executes); it cannot be framed or send its address elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data: blob:; base-uri 'self'; form-action 'none'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_WORDS = {
    "category": CATEGORY,
    "stage": STAGE,
    "status": STATUS,
    "flag": FLAG,
    "alert_kind": ALERT_KIND,
    "severity": SEVERITY,
    "figure": FIGURE,
    "entry_kind": ENTRY_KIND,
    "group_heading": GROUP_HEADING,
}


def _page(root_path: str, today: date) -> str:
    # "</" cannot end the JSON's script element early.
    words = json.dumps(_WORDS, ensure_ascii=False).replace("</", "<\\/")
    return (
        (_STATIC / "index.html")
        .read_text(encoding="utf-8")
        .replace("{{base}}", f"{root_path}/")
        .replace("{{words}}", words)
        .replace("{{today}}", today.isoformat())
    )


@router.get("/")
def dashboard(request: Request, today: TodayDep) -> HTMLResponse:
    """The dashboard: programme overview, project table, project pages, a contractor's own
    contracts and milestones. It carries the service's today, the latest as-of date."""
    page = HTMLResponse(_page(request.scope.get("root_path", ""), today))
    page.headers.update(SECURITY_HEADERS)
    page.headers["Cache-Control"] = "no-cache"
    return page


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    """The dashboard's script or stylesheet."""
    return packaged_file(
        _STATIC,
        name,
        media_types=ASSET_TYPES,
        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS},
    )
