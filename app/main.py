"""create_app(settings) -> the Starlette application. No module-level app state."""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET
from tortoise.connection import connections
from tortoise.contrib.starlette import RegisterTortoise

from app.accounts.rate_limit import SignInLimiter, limiter_from_settings
from app.accounts.services import user_for_token, viewer_for_token
from app.api.context import Context
from app.api.schema import build_schema
from app.api.websocket import LiveTransportWSHandler
from app.db import tortoise_config
from app.group_sessions.events import Effects
from app.handlers import build_handlers
from app.live.broker import Broker, InMemoryBroker
from app.live.redis_broker import RedisBroker
from app.notifications.worker import OutboxWorker
from app.settings import Settings
from app.web import graphiql, middleware
from app.web.graphql_view import GraphQLOverHTTP

logger = logging.getLogger(__name__)

# A client's X-Request-Id is reused only when it is a plain token: it goes into logs.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is safe to log, else a new one."""
    return header if header and _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex


def bearer_token(value: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' value; None for anything else."""
    if not value or not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GraphQLApp(GraphQLOverHTTP):
    """Strawberry's ASGI view (made to follow GraphQL over HTTP, see app.web), with our
    context, authentication and WebSocket sign-in."""

    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(
        self, *, settings: Settings, effects: Effects, broker: Broker, sign_in_limiter: SignInLimiter | None = None
    ) -> None:
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
        # create_app passes the limiter it closes at shutdown; a bare view counts in memory
        self.sign_in_limiter = sign_in_limiter or limiter_from_settings(settings.with_(redis_url=None))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        viewer = token = roles = None
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
            token=token if viewer else None,
            request_id=request_id_from(request.headers.get("x-request-id")),
            sign_in_limiter=self.sign_in_limiter,
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
        context.token = token
        context.fresh_loaders()
        return UNSET  # a connection_ack without payload


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


def make_broker(settings: Settings) -> Broker:
    """Redis pub/sub when REDIS_URL is set (several processes act as one), else in-process."""
    if settings.redis_url:
        return RedisBroker(
            settings.redis_url,
            prefix=settings.redis_key_prefix,
            queue_size=settings.ws_subscriber_queue_size,
        )
    return InMemoryBroker(queue_size=settings.ws_subscriber_queue_size)


def create_app(settings: Settings, *, broker: Broker | None = None) -> Starlette:
    """Build the whole application from `settings`: routes, broker, effects, lifespan."""
    broker = broker or make_broker(settings)
    outbox_worker = OutboxWorker(settings) if settings.outbox_worker_in_serve else None
    effects = build_handlers(settings, broker, outbox_worker)
    sign_in_limiter = limiter_from_settings(settings)
    graphql = GraphQLApp(settings=settings, effects=effects, broker=broker, sign_in_limiter=sign_in_limiter)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            await broker.start()
            if outbox_worker is not None:
                outbox_worker.start()
            try:
                yield
            finally:
                if outbox_worker is not None:
                    await outbox_worker.stop()
                await broker.stop()
                await sign_in_limiter.close()

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
    ]
    if graphql.graphql_ide:
        routes.append(graphiql.assets_route())
    app = Starlette(routes=routes, middleware=middleware(settings), lifespan=lifespan)
    app.state.settings = settings
    app.state.effects = effects
    app.state.broker = broker
    app.state.sign_in_limiter = sign_in_limiter
    app.state.outbox_worker = outbox_worker
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory used by `python -m app serve` (settings from the environment)."""
    app = create_app(Settings.from_env())
    # Everything built so far (modules, schema, ORM metadata) lives as long as the process:
    # take it out of the garbage collector's full passes, which otherwise walk it again and
    # again while a thousand subscribers are being served (measured: ~35% of the time spent
    # per delivered event, see README, "Live updates").
    gc.freeze()
    return app
