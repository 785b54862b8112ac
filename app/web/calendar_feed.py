"""GET /calendar/<token>.ics: a user's private calendar feed (app.calendars.feed).

Unknown, malformed and revoked tokens all get the same 404. Calendar apps poll, so answers
carry an ETag (a hash of the body) and a matching If-None-Match gets 304 without a body.
Fetches are counted per feed token and per client address (CALENDAR_FEED_REQUESTS_PER_MINUTE;
ten times that per address, which may be a whole office behind one proxy): beyond, 429
with Retry-After, before the database is asked anything.
"""

from __future__ import annotations

import hashlib
import math

from starlette.requests import Request
from starlette.responses import Response

from app.accounts.rate_limit import InMemoryAttemptCounter, StoreFull, client_key
from app.calendars import feed
from app.clock import Clock
from app.settings import Settings

WINDOW_SECONDS = 60
MAX_COUNTERS = 100_000


class CalendarFeedEndpoint:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.counter = InMemoryAttemptCounter(max_keys=MAX_COUNTERS)

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        response = await self.respond(request)
        await response(scope, receive, send)

    async def _limited(self, key: str, limit: int) -> Response | None:
        try:
            count, retry_after = await self.counter.hit(key, WINDOW_SECONDS)
        except StoreFull as full:
            count, retry_after = limit + 1, full.retry_after
        if count > limit:
            return Response(
                "Too many requests for this calendar feed; try again later.\n",
                status_code=429,
                media_type="text/plain",
                headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            )
        return None

    async def respond(self, request: Request) -> Response:
        name = request.path_params.get("name", "")
        token = name[: -len(".ics")] if name.endswith(".ics") else ""
        per_feed = self.settings.calendar_feed_requests_per_minute
        client = request.client.host if request.client else None
        refused = await self._limited(f"address:{client_key(client)}", per_feed * 10)
        if refused is None and token:
            refused = await self._limited(f"feed:{feed.token_hash(token)}", per_feed)
        if refused is not None:
            return refused
        user_id = await feed.user_for_token(token) if token else None
        if user_id is None:
            return Response("No such calendar feed.\n", status_code=404, media_type="text/plain")
        body = await feed.build_feed(user_id, self.settings, self.clock())
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {
            "ETag": etag,
            # The link is a secret: no shared caches, and no Referer when opened from a browser.
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        }
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        if request.method == "HEAD":
            return Response(status_code=200, media_type="text/calendar; charset=utf-8", headers=headers)
        return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
