"""The browser cookies Sift sets: names and attributes in one place."""

from fastapi import Request, Response

SESSION_COOKIE = "sift_session"
# A random value for visitors without a session: the CSRF token of the sign-in and setup forms
# is derived from it (once signed in, from the session cookie).
CSRF_COOKIE = "sift_csrf"


def secure_cookies(request: Request) -> bool:
    """True when cookies must carry Secure: settings.https, or the request came over HTTPS."""
    return bool(request.app.state.settings.https) or request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """Give the browser its session token: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Make the browser forget its session token."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )
