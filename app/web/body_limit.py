"""A cap on the size of a request: body bytes (settings.max_body_bytes) and query string.

The body is read here, up to the cap, before the application sees any of it, so an
oversized request (announced by Content-Length or streamed chunked) is answered
413 with a JSON error and never parsed. The query string (GET queries) is held to the
same number: 414 past it. Checks that need only the request's headers and come after
the size cap (the CSRF rule) run in this same layer, on the headers it parsed already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import TopLevelErrorCode
from app.web.negotiation import error_response


def more_body(message: Message) -> bool:
    return bool(message.get("more_body", False))


# A check of a request within the size cap: the refusal to answer with, or None to go on.
RequestCheck = Callable[[Scope, Headers], "Response | None"]


class RequestHeaders(Headers):
    """Starlette's `Headers`, whose `get` looks the name up directly: the inherited one goes
    through `Mapping.get` and a KeyError for each header the request lacks (Origin,
    Accept...). The same answer: the first value under that name, or `default`."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        wanted = key.lower().encode("latin-1")
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        return default


class BodySizeLimitMiddleware:
    """Refuses HTTP requests whose body or query string exceeds `max_bytes`; then refuses
    those one of `checks` answers for (in order, once the body is read)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, checks: Sequence[RequestCheck] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = max(1_000_000, 10 * max_bytes)
        self.checks = tuple(checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replay = await self.admit(scope, receive, send, RequestHeaders(scope=scope))
        if replay is not None:
            await self.app(scope, replay, send)

    async def admit(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> Receive | None:
        """Reads the body of the HTTP request `scope` (whose headers are `headers`) within the
        cap and runs the checks: the `receive` that replays the body to the application, or
        None when the request was answered here (a refusal, sent with `send`) or the client
        went away. app.web.stack's /graphql layer calls this directly."""
        accept = headers.get("accept")

        if len(scope.get("query_string", b"")) > self.max_bytes:
            await error_response(
                f"The query string is larger than {self.max_bytes} bytes: send the operation in a POST body.",
                status_code=414,
                code=TopLevelErrorCode.URI_TOO_LONG,
                accept=accept,
            )(scope, receive, send)
            return None

        declared = headers.get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server rejects a malformed Content-Length itself
            if too_large:
                await self._refuse(scope, receive, send, accept, drain=int(declared) <= self.drain_bytes)
                return None

        # Read the whole body now (it is small by definition), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, accept, drain=more_body(message))
                return None
            chunks.append(chunk)
            if not more_body(message):
                break

        for check in self.checks:
            refusal = check(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return None

        replayed = False
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, accept: str | None, *, drain: bool) -> None:
        if drain and not await self._drained(receive):
            return  # the client went away
        response = error_response(
            f"The request body is larger than the limit of {self.max_bytes} bytes.",
            status_code=413,
            code=TopLevelErrorCode.PAYLOAD_TOO_LARGE,
            accept=accept,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _drained(self, receive: Receive) -> bool:
        """Reads and discards the rest of the body, up to `drain_bytes`; False when the
        client disconnected. A client still sending when the server closes the connection
        gets a reset instead of the 413; reading a moderately oversized body first lets it
        read the clear answer. Beyond `drain_bytes` the connection is just closed."""
        discarded = 0
        while discarded <= self.drain_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            discarded += len(message.get("body", b""))
            if not more_body(message):
                return True
        return True
