"""Fixtures for the HTTP/browser tests: the app served by a real uvicorn on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from app.main import create_app


@pytest.fixture
async def make_app(settings) -> AsyncIterator[Callable[..., Awaitable[Starlette]]]:
    """Builds (and starts) an app with some settings changed: make_app(cors_origins=(...))."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**changes: object) -> Starlette:
            application = create_app(settings.with_(**changes))
            await stack.enter_async_context(application.router.lifespan_context(application))
            return application

        yield make


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[Starlette], httpx.AsyncClient]]:
    """client_for(app): an httpx client talking to `app` in-process."""
    async with contextlib.AsyncExitStack() as stack:

        def make(application: Starlette) -> httpx.AsyncClient:
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")
            stack.push_async_callback(client.aclose)
            return client

        yield make


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Starlette], Awaitable[str]]]:
    """serve(app) runs `app` (already started) under uvicorn on 127.0.0.1 and returns its base URL.

    The socket listens before uvicorn starts, so a client may connect at once (its connection
    waits in the backlog): no polling for readiness."""
    servers: list[tuple[uvicorn.Server, asyncio.Task]] = []

    async def start(application: Starlette) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        config = uvicorn.Config(application, lifespan="off", log_level="warning")
        server = uvicorn.Server(config)
        servers.append((server, asyncio.create_task(server.serve(sockets=[sock]))))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
