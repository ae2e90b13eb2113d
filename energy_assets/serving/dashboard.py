"""The dashboard at `/`: one HTML page and its script, served by the API itself.

Plain HTML and inline SVG drawn by a small script (static/dashboard.js), no framework and no CDN:
the page must work where the service runs without internet, and it reads everything through the
API's own endpoints (with the bearer token its user types, kept in the tab's sessionStorage).
docs/decisions/0009-forecast-api.md says why not Streamlit.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

_STATIC = resources.files("energy_assets.serving") / "static"


def add_dashboard(app: FastAPI) -> None:
    page = (_STATIC / "dashboard.html").read_bytes()
    script = (_STATIC / "dashboard.js").read_bytes()

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/static/dashboard.js", include_in_schema=False)
    def dashboard_script() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")
