"""create_app(settings) -> the Starlette application. No module-level app state."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from tortoise.contrib.starlette import RegisterTortoise

from app.accounts.services import user_for_token, viewer_for_token
from app.api.context import Context
from app.api.schema import build_schema
from app.db import tortoise_config
from app.group_sessions.events import Effects
from app.live.broker import Broker, InMemoryBroker
from app.live.publisher import make_publisher
from app.settings import Settings

logger = logging.getLogger(__name__)


def bearer_token(value: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' value; None for anything else."""
    if not value or not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view, with our context, authentication and WebSocket sign-in."""

    def __init__(self, *, settings: Settings, effects: Effects, broker: Broker) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide=None if settings.is_production else "graphiql",
            connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.effects = effects
        self.broker = broker

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        viewer = roles = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            found = await viewer_for_token(token) if token else None
            if found is not None:
                viewer, roles = found
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            effects=self.effects,
            broker=self.broker,
            viewer=viewer,
            viewer_roles=roles,
            request_id=request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex,
        )

    async def on_ws_connect(self, context: Context):
        """Sign in from the connection_init payload; a missing or bad token closes with 4403."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        raw = params.get("authorization") or params.get("Authorization")
        token = bearer_token(raw) if isinstance(raw, str) else None
        viewer = await user_for_token(token) if token else None
        if viewer is None:
            raise ConnectionRejectionError({"message": "Sign in: send {\"authorization\": \"Bearer <token>\"}."})
        context.viewer = viewer
        context.fresh_loaders()
        return None


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings, *, broker: Broker | None = None) -> Starlette:
    """Build the whole application from `settings`: routes, broker, effects, lifespan."""
    broker = broker or InMemoryBroker(queue_size=settings.ws_subscriber_queue_size)
    effects = Effects()
    effects.after_commit.append(make_publisher(broker))
    graphql = GraphQLApp(settings=settings, effects=effects, broker=broker)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            await broker.start()
            try:
                yield
            finally:
                await broker.stop()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.effects = effects
    app.state.broker = broker
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory used by `python -m app serve` (settings from the environment)."""
    return create_app(Settings.from_env())
