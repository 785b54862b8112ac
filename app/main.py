"""create_app(settings) -> the Starlette application. No module-level app state."""

from __future__ import annotations

import contextlib
import gc
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
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET
from tortoise.contrib.starlette import RegisterTortoise

from app.accounts.services import user_for_token
from app.api.context import Context
from app.api.schema import build_schema
from app.api.websocket import LiveTransportWSHandler
from app.db import tortoise_config
from app.group_sessions.events import Effects
from app.live.broker import Broker, InMemoryBroker
from app.live.publisher import make_publisher
from app.live.redis_broker import RedisBroker
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

    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(self, *, settings: Settings, effects: Effects, broker: Broker) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide=None if settings.is_production else "graphiql",
            # Only graphql-transport-ws: the legacy subscriptions-transport-ws protocol is
            # unmaintained; a client asking only for it is closed with 4406.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.effects = effects
        self.broker = broker

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        viewer = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            viewer = await user_for_token(token) if token else None
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            effects=self.effects,
            broker=self.broker,
            viewer=viewer,
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
        return UNSET  # a connection_ack without payload


async def healthz(request: Request) -> Response:
    """200 while the process serves HTTP. `live` tells whether live updates flow (false
    during a Redis outage, which does not make the process unhealthy) and how many
    subscriptions this process holds."""
    return JSONResponse({"status": "ok", "live": request.app.state.broker.describe()})


def make_broker(settings: Settings) -> Broker:
    """Redis pub/sub when REDIS_URL is set (several processes act as one), else in-process."""
    if settings.redis_url:
        return RedisBroker(
            settings.redis_url,
            prefix=settings.redis_channel_prefix,
            queue_size=settings.ws_subscriber_queue_size,
        )
    return InMemoryBroker(queue_size=settings.ws_subscriber_queue_size)


def create_app(settings: Settings, *, broker: Broker | None = None) -> Starlette:
    """Build the whole application from `settings`: routes, broker, effects, lifespan."""
    broker = broker or make_broker(settings)
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
    app = create_app(Settings.from_env())
    # Everything built so far (modules, schema, ORM metadata) lives as long as the process:
    # take it out of the garbage collector's full passes, which otherwise walk it again and
    # again while a thousand subscribers are being served (measured: ~35% of the time spent
    # per delivered event, see docs/live.md).
    gc.freeze()
    return app
