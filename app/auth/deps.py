"""FastAPI dependencies: who is calling, and what they may do.

How to protect a route
----------------------
A route about one dataset takes `CurrentUser` and asks the datasets service for the dataset
with the action it is about to perform; that call answers 404 when the caller may not see the
dataset (so nothing is revealed and nothing changes) and 403 when they see it but their role
or token scope does not allow the action::

    from app.auth.deps import CurrentUser
    from app.auth.permissions import Action
    from app.services import datasets
    from app.services.audit import record_audit

    @router.post("/datasets/{slug}/examples:bulk")
    def push_examples(slug: str, body: BulkIn, session: SessionDep, caller: CurrentUser) -> Out:
        dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
        ...
        record_audit(session, caller, "import", f"dataset:{dataset.slug}", {"created": n})
        session.commit()

A route not about one dataset states its action with `require`::

    @router.get("/imports/new")
    def import_page(request: Request, caller: Annotated[Caller, require(Action.import_)]): ...

- `CurrentUser`: the `Caller` (user, and API token if any) of a signed-in browser (session
  cookie) or of `Authorization: Bearer <token>`; anonymous requests get 401 under /api/ and a
  redirect to the sign-in page (the setup page before the first account exists) elsewhere.
- `OptionalUser`: the same, or None for an anonymous visitor.
- `require(action)`: a `CurrentUser` whose role and token scopes allow `action`, else 403.
- `AdminUser`: `require(Action.admin)` (never satisfied by an API token).

CSRF is enforced app-wide (`app.auth.csrf`), not per route: browser forms include
`{{ csrf_field() }}` and HTMX sends the header set on <body>.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.auth.cookies import SESSION_COOKIE
from app.auth.headers import SecurityHeadersMiddleware
from app.auth.permissions import Action, Caller, Viewer, ensure
from app.config import Settings
from app.db import SessionDep
from app.errors import SiftError
from app.services import accounts, tokens


class LoginRequired(SiftError):
    """No valid session or token: 401 for the API, the sign-in page for a browser."""

    status_code = 401

    def __init__(self, message: str, setup: bool = False) -> None:
        super().__init__(message)
        self.setup = setup


def _authenticate(request: Request, session: SessionDep) -> Caller | None:
    if hasattr(request.state, "caller"):
        cached: Caller | None = request.state.caller
        return cached
    caller: Caller | None = None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise LoginRequired("send the API token as 'Authorization: Bearer <token>'")
        token = tokens.resolve_token(session, secret.strip())
        if token is None:
            raise LoginRequired("the API token is unknown, revoked or expired")
        if tokens.note_use(session, token, f"{request.method} {request.url.path}"):
            # Usage bookkeeping is its own unit of work, committed before the route runs so
            # read-only requests record it too (never after the response: see STYLE.md).
            session.commit()
        caller = Caller(token.user, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        login = accounts.resolve_session(session, cookie) if cookie else None
        if login is not None:
            caller = Caller(login.user)
    request.state.caller = caller
    request.state.viewer = Viewer.of(caller) if caller is not None else None
    return caller


def optional_user(request: Request, session: SessionDep) -> Caller | None:
    """The caller, or None for an anonymous visitor."""
    return _authenticate(request, session)


def current_user(request: Request, session: SessionDep) -> Caller:
    """The caller; LoginRequired (401 / sign-in page) when anonymous."""
    caller = _authenticate(request, session)
    if caller is None:
        raise LoginRequired("sign in first", setup=accounts.needs_setup(session))
    return caller


OptionalUser = Annotated[Caller | None, Depends(optional_user)]
CurrentUser = Annotated[Caller, Depends(current_user)]


def require(action: Action) -> Any:
    """A dependency giving the caller if their role and token allow `action`, else 403."""

    def allowed_caller(caller: CurrentUser) -> Caller:
        ensure(caller, action)
        return caller

    return Depends(allowed_caller)


AdminUser = Annotated[Caller, require(Action.admin)]


def login_url(request: Request) -> str:
    """The sign-in page, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here})


def install_security(app: FastAPI, settings: Settings) -> None:
    """Security headers and CSRF cookie on every response; 401 as JSON or a sign-in redirect."""
    app.add_middleware(SecurityHeadersMiddleware, https=settings.https)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": exc.message},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="sift"'},
            )
        from app.web import htmx

        return htmx.redirect(request, "/setup" if exc.setup else login_url(request))
