"""Domain errors, and how they become JSON for /api or a page for the web."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import is_transient


class SiftError(Exception):
    """Base of every error a client can cause; carries its HTTP status."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SiftError):
    """A field the client sent is not acceptable."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SiftError):
    """No such object, or not one the caller may see (the two are not told apart)."""

    status_code = 404


class Conflict(SiftError):
    """The request clashes with what is stored (a taken slug, a stale version)."""

    status_code = 409


class Forbidden(SiftError):
    """The caller is known but may not do this."""

    status_code = 403


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, message: str, detail: object = None) -> Response:
    if _wants_json(request):
        body: dict[str, object] = {"error": message}
        if detail is not None:
            body["detail"] = detail
        return JSONResponse(body, status_code=status)
    from app.templating import render_error

    return render_error(request, status, message)


class RejectNulBytes:
    """Refuse a URL holding a NUL byte before any route sees it: no database stores one, and
    Postgres refuses to compare against one (a 500 otherwise)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                request = Request(scope)
                response = _error_response(request, 400, "the URL contains a NUL byte (%00)")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Turn domain and validation errors into 4xx responses, JSON or HTML by path."""

    @app.exception_handler(SiftError)
    async def _sift_error(request: Request, exc: SiftError) -> Response:
        return _error_response(request, exc.status_code, exc.message)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> Response:
        # Checks in the services run first; this is a concurrent request that got there first
        # (two creations of one slug, say): a conflict, not a server error.
        return _error_response(
            request, 409, "this clashes with something stored meanwhile; reload and try again"
        )

    @app.exception_handler(OperationalError)
    async def _operational_error(request: Request, exc: OperationalError) -> Response:
        if not is_transient(exc):
            raise exc
        response = _error_response(request, 503, "the database is busy; try again in a moment")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        if "NUL" not in str(exc.orig):
            raise exc
        message = "a text field contains a NUL byte (\\u0000), which cannot be stored"
        return _error_response(request, 422, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return _error_response(request, 422, message, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error_response(request, exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response
