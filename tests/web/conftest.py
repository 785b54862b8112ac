"""Fixtures for the HTTP/browser tests: the app served by a real uvicorn on a free port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from tests.servers import serve_in_process


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
    """serve(app) runs `app` (already started) under uvicorn on 127.0.0.1, as `python -m app
    serve` would for the app's settings (tests/servers.py), and returns its base URL."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(application: Starlette) -> str:
            return await stack.enter_async_context(serve_in_process(application))

        yield start
