"""/ui: the dashboard, a static page whose script calls the API with the key the user enters."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from api.docs import STATIC_DIR

router = APIRouter(include_in_schema=False)

# Everything the page needs comes from this origin: the browser itself refuses any CDN. blob: images
# are the ones the page fetched itself with the key (the error-surface PNG).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get("/ui")
def read_dashboard() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "ui" / "index.html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"},
    )


@router.get("/ui/")
def redirect_dashboard() -> RedirectResponse:
    return RedirectResponse("/ui")
