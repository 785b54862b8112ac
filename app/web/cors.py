"""CORS for the API, from settings.cors_origins (CORS_ORIGINS; none by default).

With no origins listed, no foreign page may read an answer (and a preflight is refused).
Credentials (cookies, HTTP auth) are allowed only with an explicit list of origins: with
`*` (development only; production refuses it at start-up) a browser never sends them,
because reflecting any origin with credentials would let every site act as the user.
The API itself reads no cookies (it takes `Authorization: Bearer`), so credentials never
grant more than the token a page already holds.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.web.csrf import PREFLIGHT_HEADERS

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "X-Request-Id", *PREFLIGHT_HEADERS)
EXPOSED_HEADERS = ("X-Request-Id",)
PREFLIGHT_MAX_AGE_SECONDS = 600


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """Starlette's CORSMiddleware configured for `origins` (the CORS_ORIGINS list)."""
    wildcard = "*" in origins
    return Middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=list(ALLOWED_HEADERS),
        allow_credentials=not wildcard and bool(origins),
        expose_headers=list(EXPOSED_HEADERS),
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
