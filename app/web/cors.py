"""CORS for the API, from settings.cors_origins (CORS_ORIGINS; none by default).

With no origins listed, no foreign page may read an answer (and a preflight is refused).
Credentials (cookies, HTTP auth) are allowed only with an explicit list of origins: with
`*` (development only; production refuses it at start-up) a browser never sends them,
because reflecting any origin with credentials would let every site act as the user.
The API itself reads no cookies (it takes `Authorization: Bearer`), so credentials never
grant more than the token a page already holds.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Send

from app.web.csrf import PREFLIGHT_HEADERS

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "X-Request-Id", *PREFLIGHT_HEADERS)
EXPOSED_HEADERS = ("X-Request-Id",)
PREFLIGHT_MAX_AGE_SECONDS = 600


class CORS(CORSMiddleware):
    """Starlette's CORSMiddleware, with its labelling of an answer as a method of its own
    (`label`), which app.web.stack's /graphql layer calls in its single `send`."""

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        if message["type"] == "http.response.start":
            self.label(message, request_headers.get("origin"))
        await send(message)

    def label(self, message: Message, origin: str | None) -> None:
        """The CORS headers of an `http.response.start` message for a request from `origin`
        (None: no Origin header), as Starlette's `CORSMiddleware.send` adds them (a test
        holds the two to the same headers)."""
        raw = message["headers"] = list(message.get("headers", ()))
        if origin is None and b"vary" not in {name for name, _ in raw}:
            raw.append((b"vary", b"Origin"))  # what the last branch below comes to, in one step
            return
        headers = MutableHeaders(raw=raw)
        if origin is not None:
            headers.update(self.simple_headers)
        if origin is not None and (
            (self.allow_all_origins and self.allow_credentials)
            or (not self.allow_all_origins and self.is_allowed_origin(origin=origin))
        ):
            self.allow_explicit_origin(headers, origin)
        else:
            headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """`CORS` configured for `origins` (the CORS_ORIGINS list)."""
    wildcard = "*" in origins
    return Middleware(
        CORS,
        allow_origins=["*"] if wildcard else list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=list(ALLOWED_HEADERS),
        allow_credentials=not wildcard and bool(origins),
        expose_headers=list(EXPOSED_HEADERS),
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
