"""Domain errors, and how they become JSON for /api or a page for the web."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException


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


def install_error_handlers(app: FastAPI) -> None:
    """Turn domain and validation errors into 4xx responses, JSON or HTML by path."""

    @app.exception_handler(SiftError)
    async def _sift_error(request: Request, exc: SiftError) -> Response:
        return _error_response(request, exc.status_code, exc.message)

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
