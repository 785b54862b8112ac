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
from starlette.responses import Response
from starlette.types import Scope

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


def csrf_refusal(scope: Scope, headers: Headers) -> Response | None:
    """The 400 (CSRF_PREFLIGHT_REQUIRED) for a simple cross-site-able POST, else None.
    A check of `BodySizeLimitMiddleware` (app.web.stack): it runs there, after the size cap."""
    if scope["type"] != "http" or not needs_preflight_header(scope["method"], headers):
        return None
    return error_response(
        MESSAGE, status_code=400, code=TopLevelErrorCode.CSRF_PREFLIGHT_REQUIRED, accept=headers.get("accept")
    )
