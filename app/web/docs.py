"""The API reference at /docs: Swagger UI served from static/ (no CDN, no inline script)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import CurrentUser
from app.templating import render

router = APIRouter()


@router.get("/docs")
def api_docs(request: Request, caller: CurrentUser) -> HTMLResponse:
    """Interactive reference of the JSON API, built from /openapi.json."""
    return render(request, "docs.html", {})
