"""`/docs`: Swagger UI from linli's own files (the `swagger-ui-bundle` package).

FastAPI's default page loads Swagger UI's script and styles from a CDN; a community's
network often reaches no internet, and a page of the API should not tell a third party
who reads it. The page and its assets come from this server only.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS: Final = "/docs"
ASSETS: Final = "/docs/assets"


def install(app: FastAPI) -> None:
    """Add `/docs` and its assets to `app` (whose own docs_url is None)."""

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # Swagger UI would otherwise show a badge from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
