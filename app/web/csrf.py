"""Cross-site request forgery: refuse the POSTs a foreign page can send without asking.

A browser sends a cross-origin POST without a CORS preflight when its Content-Type is one
of the "simple" ones (text/plain, application/x-www-form-urlencoded, multipart/form-data)
or absent, and it carries no custom header. Such a request reaches the server even though
the page cannot read the answer, so a mutation in it would run. As Apollo Server does,
a POST like that is refused unless it carries a non-empty header from
`PREFLIGHT_HEADERS`, which no foreign page can set without a preflight that CORS then
decides. JSON POSTs (what every GraphQL client sends) always trigger the preflight and
pass. GET is not checked: it carries queries only (mutations over GET are a 405).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import TopLevelErrorCode
from app.web.negotiation import error_response

SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight", "graphql-require-preflight")

MESSAGE = (
    "This request has been blocked as a possible cross-site request forgery (CSRF). "
    "Send it with Content-Type: application/json, or add a non-empty header "
    f"{', '.join(PREFLIGHT_HEADERS)}."
)


def needs_preflight_header(method: str, headers: Headers) -> bool:
    """True when a browser could have sent this request cross-site without a preflight."""
    if method != "POST":
        return False
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and content_type not in SIMPLE_CONTENT_TYPES:
        return False
    return not any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS)


class CSRFMiddleware:
    """Answers 400 (CSRF_PREFLIGHT_REQUIRED) to simple cross-site-able POSTs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            if needs_preflight_header(scope["method"], headers):
                response = error_response(
                    MESSAGE, status_code=400, code=TopLevelErrorCode.CSRF_PREFLIGHT_REQUIRED, accept=headers.get("accept")
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
