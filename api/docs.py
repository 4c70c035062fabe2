"""Offline API docs: Swagger UI from assets this app serves itself, never from a CDN.

FastAPI's default /docs page loads Swagger UI from jsDelivr, so on a closed network it is
blank. swagger-ui-dist 5.35.0 (npm, Apache-2.0, licence beside it) is vendored under
static/vendor/swagger-ui; Swagger UI 4 (the `swagger-ui-bundle` wheel) cannot render the
OpenAPI 3.1 schema FastAPI generates. ReDoc is turned off rather than vendored: one
docs page is enough, and Swagger UI is the one that can call the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
SWAGGER_UI = "/static/vendor/swagger-ui"

# persistAuthorization keeps the key entered under "Authorize" across reloads (in the
# browser's localStorage); validatorUrl null stops the badge that calls validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"persistAuthorization": True, "validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Serve static/ and /docs. Create the app with docs_url=None and redoc_url=None."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def read_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
