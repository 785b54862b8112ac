"""The HTTP middleware stack, outermost first."""

from __future__ import annotations

from starlette.middleware import Middleware

from app.settings import Settings
from app.web.body_limit import BodySizeLimitMiddleware
from app.web.cors import cors_middleware
from app.web.csrf import CSRFMiddleware
from app.web.headers import SecurityHeadersMiddleware


def middleware(settings: Settings) -> list[Middleware]:
    """Security headers wrap everything (refusals included); CORS answers preflights and
    labels every answer before the size cap and CSRF rule may refuse the request."""
    return [
        Middleware(SecurityHeadersMiddleware, hsts=settings.public_web_url.startswith("https://")),
        cors_middleware(settings.cors_origins),
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        Middleware(CSRFMiddleware),
    ]
