"""The Jinja2 environment: autoescaping, filters, globals, and page-or-fragment rendering."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2_fragments.fastapi import Jinja2Blocks

from app.config import PROJECT_ROOT

templates = Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a full page."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    assert isinstance(response, HTMLResponse)
    return response


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """An error page that says what went wrong."""
    return render(
        request, "error.html", {"status_code": status_code, "message": message}, status_code
    )
