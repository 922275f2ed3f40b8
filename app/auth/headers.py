"""Response headers every answer carries (CSP and friends), and safe download headers."""

import re
import unicodedata
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.cookies import CSRF_COOKIE
from app.auth.crypto import new_token

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and gives a new browser its CSRF cookie.

    Pure ASGI (not BaseHTTPMiddleware) so streamed exports pass through untouched.
    """

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.https or scope.get("scheme") == "https"
        seed = None if _has_csrf_cookie(scope) else new_token()
        if seed is not None:
            scope.setdefault("state", {})["csrf_seed"] = seed

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                if secure and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if seed is not None:
                    cookie = f"{CSRF_COOKIE}={seed}; Path=/; HttpOnly; SameSite=Lax"
                    headers.append(
                        (b"set-cookie", (cookie + ("; Secure" if secure else "")).encode())
                    )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_csrf_cookie(scope: Scope) -> bool:
    return any(
        name == b"cookie" and CSRF_COOKIE in cookie_parser(value.decode("latin-1"))
        for name, value in scope.get("headers", [])
    )


_UNSAFE_FILENAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;%]+')


def safe_filename(filename: str, default: str = "download") -> str:
    """A file name with no path, control, quote or shell-special characters, at most 150 long."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME_CHARS.sub("_", name).strip(" .")
    return name[:150] or default


def attachment_headers(filename: str) -> dict[str, str]:
    """Headers that make the browser download the response as `filename`, never render it.

    return StreamingResponse(lines, media_type="application/x-ndjson",
                             headers=attachment_headers(f"{dataset.slug}-train.jsonl"))
    """
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return {"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"}
