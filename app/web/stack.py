"""The HTTP middleware stack, outermost first."""

from __future__ import annotations

from starlette.middleware import Middleware

from app import metrics
from app.settings import Settings
from app.web.body_limit import BodySizeLimitMiddleware
from app.web.cors import cors_middleware
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
            after_request=metrics.sample_pool,
        ),
        cors_middleware(settings.cors_origins),
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, checks=(csrf_refusal,)),
    ]
