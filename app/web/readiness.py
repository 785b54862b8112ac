"""GET /readyz: may this replica take traffic now? (For load balancers; /healthz is liveness.)"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.connection import connections

from app.db import pending_migrations

logger = logging.getLogger(__name__)
CHECK_SECONDS = 5.0  # bound on the database's answer: a load balancer's probe times out too


async def readiness_problems(settings, broker) -> dict[str, str]:
    """What stops this process from serving, by check (`database`, `migrations`, `redis`);
    empty when it is ready."""
    problems: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            pending = await pending_migrations(connections.get("default"))
        if pending:
            problems["migrations"] = f"not applied: {', '.join(pending)} (run `python -m app migrate`)"
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        # The answer is public: the kind of failure only; the log line has the details.
        problems["database"] = f"unreachable ({type(error).__name__})"
        logger.warning("readiness: database check failed: %s", error)
    if settings.redis_url and not broker.describe().get("connected"):
        problems["redis"] = "not connected"
    return problems


async def readyz(request: Request) -> Response:
    """200 `{"status": "ready"}` when the database answers, every committed migration is
    applied, and Redis (when configured) is connected; otherwise 503 with the reasons."""
    problems = await readiness_problems(request.app.state.settings, request.app.state.broker)
    if problems:
        logger.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
