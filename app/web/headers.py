"""Security headers on every HTTP response.

The API answers JSON only, so its policy allows nothing at all: no scripts, no frames, no
embedding. The GraphiQL page and its assets carry their own, wider policy
(`IDE_CONTENT_SECURITY_POLICY`): scripts and workers from this origin only, never inline
or eval; inline styles are allowed because the editor (Monaco) and React set them.
A header a response already carries is left alone, so a route can give its own.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

IDE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def security_headers(*, hsts: bool) -> dict[str, str]:
    """The headers every response gets unless it sets them itself."""
    headers = {
        "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        # Answers hold one member's data: no shared or browser cache keeps them.
        "Cache-Control": "no-store",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


class SecurityHeadersMiddleware:
    """Adds `security_headers()` to each HTTP response that lacks them; then, once the
    request is answered, calls `after_request` (the outermost layer does the pool sampling
    too, instead of a layer of its own per request)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False, after_request: Callable[[], None] | None = None) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts)
        # Encoded once: each response then costs one pass over its own headers.
        self.raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        self.after_request = after_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.label(message)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if self.after_request is not None:
                self.after_request()

    def label(self, message: Message) -> None:
        """Adds the headers an `http.response.start` message lacks (app.web.stack's /graphql
        layer calls this in its own `send`)."""
        headers = message["headers"] = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        headers.extend([item for item in self.raw if item[0] not in present])
