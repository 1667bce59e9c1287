"""The OpenAPI docs page at /docs, served without any CDN.

With Swagger UI's files in `static/vendor/` (fetched from npm by `scripts/fetch_server_assets.sh`,
which `make serve` runs) /docs is Swagger UI loading them locally; without them it is a plain
server-rendered reference of every endpoint, built from the same OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
router = APIRouter(include_in_schema=False)
_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def swagger_available() -> bool:
    """Whether Swagger UI's files are installed locally."""
    return (VENDOR / "swagger-ui-bundle.js").is_file() and (VENDOR / "swagger-ui.css").is_file()


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> Response:
    """Swagger UI from local files, or the plain reference page."""
    if swagger_available():
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="DeepHealth API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
    spec = request.app.openapi()
    endpoints = [
        {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
         "doc": op.get("description", ""), "tags": ", ".join(op.get("tags", []))}
        for path, ops in spec.get("paths", {}).items()
        for method, op in ops.items()
    ]  # fmt: skip
    return _templates.TemplateResponse(
        request, "api_docs.html", {"endpoints": endpoints, "user": None, "csrf": ""}
    )
