"""Cross-site request forgery protection for every state-changing browser request.

Two checks, both required when a request could ride on a browser's cookies:

1. Fetch metadata: `Sec-Fetch-Site` must be same-origin (or none), and an `Origin` header, when
   sent, must name this host (datasette's approach). This alone stops cross-site forms and
   fetches in every current browser.
2. A token: the `csrf_token` form field or the `X-CSRF-Token` header (HTMX sends it from
   `hx-headers` on <body>) must equal HMAC(secret key, session cookie), or, before sign-in,
   HMAC(secret key, the random `sift_csrf` cookie). Bound to the session, a token cannot be
   planted by a sibling subdomain the way a plain double-submit cookie can.

Requests with no session cookie are exempt when they carry an `Authorization` header (a bearer
token is not sent by browsers on their own) or go to /api/ (no credential at all: the API will
answer 401). A bearer token sent together with a session cookie is checked like a browser.
"""

from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from markupsafe import Markup, escape

from app.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.auth.crypto import same, sign
from app.errors import Forbidden

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _seed(request: Request) -> str:
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
    if seed:
        return seed
    # First visit: the security middleware has just generated the cookie this response sets.
    return str(request.scope.get("state", {}).get("csrf_seed", ""))


def csrf_token(request: Request) -> str:
    """The CSRF token forms and HTMX requests must send back with this browser's cookies."""
    secret = request.app.state.settings.resolved_secret_key()
    return sign(secret, "csrf", _seed(request))


def csrf_input(request: Request) -> Markup:
    """The hidden form field carrying the CSRF token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token(request))
    )


# The request whose page is being rendered: `{{ csrf_field() }}` lives in an imported macro,
# which Jinja gives no access to the page's context.
_rendering: ContextVar[Request | None] = ContextVar("sift_rendering_request", default=None)


def template_context(request: Request) -> dict[str, Any]:
    """Context processor: who is signed in (a `Viewer`: username, role) and the CSRF token."""
    _rendering.set(request)
    return {
        "current_user": getattr(request.state, "viewer", None),
        "csrf_token": csrf_token(request),
    }


def rendering_csrf_input() -> Markup:
    """The hidden CSRF field for the page being rendered (the `csrf_input()` template global)."""
    request = _rendering.get()
    if request is None:
        raise RuntimeError("csrf_input() used outside the rendering of a request's page")
    return csrf_input(request)


def is_cross_site(request: Request) -> bool:
    """True when fetch metadata or the Origin header says another site sent the request."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host") or request.url.netloc
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


def needs_csrf_check(request: Request) -> bool:
    """True for a state-changing request that could ride on the browser's cookies."""
    if request.method in SAFE_METHODS:
        return False
    if SESSION_COOKIE in request.cookies:
        return True
    return not ("authorization" in request.headers or request.url.path.startswith("/api/"))


async def _supplied_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: refuse a forged state-changing request with 403 before any work."""
    if not needs_csrf_check(request):
        return
    if is_cross_site(request):
        raise Forbidden("cross-site request refused")
    supplied = await _supplied_token(request)
    if not supplied or not same(supplied, csrf_token(request)):
        raise Forbidden(
            "the form's security token is missing or out of date; reload the page and try again"
        )
