"""GET /metrics for Prometheus, protected: never public by default.

- METRICS_TOKEN set: `/metrics` answers a request carrying `Authorization: Bearer <token>`;
  a missing or wrong token is a 401 (compared in constant time).
- METRICS_PORT set: `/metrics` is also served, without a token, on that port of 127.0.0.1
  (`metrics_server`), for a scraper on the same host.
- Neither: `/metrics` does not exist (404), as any unknown path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app import metrics
from app.web.graphql_view import bearer_token


async def _exposition(request: Request) -> Response:
    body, content_type = await metrics.exposition(request.app.state.clock)
    return Response(body, media_type=content_type.split(";")[0], headers={"content-type": content_type})


def token_route(token: str) -> Route:
    """`/metrics` behind the bearer `token`."""
    expected = token.encode()

    async def metrics_endpoint(request: Request) -> Response:
        given = bearer_token(request.headers.get("authorization")) or ""
        # compare_digest: the time taken says nothing about how much of the token matched
        if not hmac.compare_digest(given.encode(), expected):
            return PlainTextResponse(
                "Metrics need the bearer token (METRICS_TOKEN).", status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return await _exposition(request)

    return Route("/metrics", metrics_endpoint, methods=["GET"])


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the main one (it runs inside its loop)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


@contextlib.asynccontextmanager
async def metrics_server(port: int, clock) -> AsyncIterator[None]:
    """Serve `/metrics` without a token on 127.0.0.1:`port` while the block runs. Several
    workers bind it together (SO_REUSEPORT); any of them reports for all."""
    app = Starlette(routes=[Route("/metrics", _exposition, methods=["GET"])])
    app.state.clock = clock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    server = _QuietServer(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics-server")
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()
