"""The dashboard at `/` (one HTML page and its script) and the API's page at `/docs` (Swagger UI
from the swagger-ui-bundle-v2 package), served by the API itself.

Plain HTML and inline SVG drawn by a small script (static/dashboard.js), no framework and no CDN:
the page must work where the service runs without internet, and it reads everything through the
API's own endpoints (with the bearer token its user types, kept in the tab's sessionStorage).
docs/decisions/0009-forecast-api.md says why not Streamlit.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

_STATIC = resources.files("energy_assets.serving") / "static"
SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


def _swagger_folder():  # -> Traversable
    import swagger_ui_bundle

    return resources.files(swagger_ui_bundle) / "vendor" / f"swagger-ui-{_swagger_version()}"


def _swagger_version() -> str:
    from importlib.metadata import version

    return version("swagger-ui-bundle-v2")


def add_dashboard(app: FastAPI) -> None:
    page = (_STATIC / "dashboard.html").read_bytes()
    script = (_STATIC / "dashboard.js").read_bytes()

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/static/dashboard.js", include_in_schema=False)
    def dashboard_script() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} · docs",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="",
        )

    @app.get("/static/swagger/{name}", include_in_schema=False)
    def swagger_file(name: str) -> Response:
        if name not in SWAGGER_FILES:  # a fixed set: no path from the request reaches the disk
            return Response(status_code=404)
        body = (_swagger_folder() / name).read_bytes()
        return Response(body, media_type=f"{SWAGGER_FILES[name]}; charset=utf-8")
