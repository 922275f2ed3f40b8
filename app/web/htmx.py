"""Every decision that depends on HTMX request headers lives here, and nowhere else."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.templating import render, render_block

# A page and its fragment share a URL, so caches must key on the headers that choose between them.
VARY = "HX-Request, HX-History-Restore-Request"


def is_fragment_request(request: Request) -> bool:
    """True for an HTMX swap; false for a normal visit or HTMX restoring history (a full page)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true"
    )


def _vary(response: Response) -> Response:
    existing = response.headers.get("Vary")
    response.headers["Vary"] = f"{existing}, {VARY}" if existing else VARY
    return response


def render_page_or_fragment(
    request: Request,
    template: str,
    block: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """The whole page, or only its named `block` when HTMX asks for a swap."""
    if is_fragment_request(request):
        response = render_block(request, template, block, context, status_code)
    else:
        response = render(request, template, context, status_code)
    _vary(response)
    return response


def redirect(request: Request, url: str) -> Response:
    """Send the browser to `url`: HX-Redirect for HTMX (a full navigation), else 303 See Other."""
    if is_fragment_request(request):
        return _vary(Response(status_code=200, headers={"HX-Redirect": url}))
    return _vary(RedirectResponse(url, status_code=303))
