"""GET /healthz, for load balancers and orchestrators."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.connection import connections

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """200 once the app serves and its database answers; 503 otherwise (for load balancers).
    `live` tells whether live updates flow (false during a Redis outage, which does not
    make the process unhealthy) and how many subscriptions this process holds."""
    live = request.app.state.broker.describe()
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("health check failed: %s", error)
        return JSONResponse({"status": "unavailable", "database": "unreachable", "live": live}, status_code=503)
    return JSONResponse({"status": "ok", "live": live})
