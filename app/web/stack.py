"""The HTTP middleware stack, outermost first; and the same stack in one layer, for /graphql."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.settings import Settings
from app.web.body_limit import BodySizeLimitMiddleware, RequestHeaders
from app.web.cors import CORS, cors_middleware
from app.web.csrf import csrf_refusal
from app.web.headers import SecurityHeadersMiddleware


def middleware(settings: Settings) -> list[Middleware]:
    """Security headers wrap everything (refusals included), and once a request is
    answered the database pool's gauges are sampled (a few attribute reads, so every
    worker's share of the sum stays current); CORS answers preflights and labels every
    answer before the size cap and then the CSRF rule may refuse the request. Three
    layers: each check that needs only the headers shares a layer with its neighbour
    (every layer costs each request a call, a closure and a parse of the headers)."""
    return [
        Middleware(
            SecurityHeadersMiddleware,
            hsts=settings.public_web_url.startswith("https://"),
            after_request=metrics.sample_pool_after_request,
        ),
        cors_middleware(settings.cors_origins),
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, checks=(csrf_refusal,)),
    ]


class DirectStack:
    """What Starlette's full stack does to an HTTP request for one route's endpoint, in one
    layer: for the GraphQL view, which App (app.main) hands its HTTP requests to directly.

    The layers of `middleware(settings)` are built as the full stack builds them, but
    called as methods here: one parse of the request's headers, one `send` wrapper that
    adds the CORS then the security headers to the answer (as the two layers' wrappers
    did, in that order), one frame around the endpoint instead of ten. What the rest of
    the stack does is done here too, for Starlette's defaults (no exception handlers, no
    debug): a `starlette.exceptions.HTTPException` from the endpoint is answered as plain
    text with its status and headers (the exception middleware), and any other exception
    gets the plain-text 500 when nothing was sent yet and goes on to the server, which
    logs it (the error middleware). Not for CORS preflights (OPTIONS): the full stack
    answers those."""

    def __init__(self, endpoint: ASGIApp, layers: list[Middleware]) -> None:
        built = [cls(endpoint, *args, **kwargs) for cls, args, kwargs in layers]
        if [type(layer) for layer in built] != [SecurityHeadersMiddleware, CORS, BodySizeLimitMiddleware]:
            raise TypeError(f"DirectStack applies security headers, CORS and the body limit, not {built}")
        self.endpoint = endpoint
        self.security, self.cors, self.limit = built

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        try:
            headers = RequestHeaders(scope=scope)
            origin = headers.get("origin")

            async def send_labelled(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    self.cors.label(message, origin)
                    self.security.label(message)
                    started = True
                await send(message)

            try:
                replay = await self.limit.admit(scope, receive, send_labelled, headers)
                if replay is not None:
                    try:
                        await self.endpoint(scope, replay, send_labelled)
                    except HTTPException as exc:
                        if started:
                            raise RuntimeError("Caught handled exception, but response already started.") from exc
                        await http_exception_response(exc)(scope, replay, send_labelled)
                        exc.__traceback__ = None  # as Starlette does: instances may be reused
            finally:
                if self.security.after_request is not None:
                    self.security.after_request()
        except Exception:
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise


def http_exception_response(exc: HTTPException) -> Response:
    """Starlette's default answer to an HTTPException (its exception middleware's)."""
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
