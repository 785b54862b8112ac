"""create_app(settings) -> the Starlette application. No module-level app state."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise.contrib.starlette import RegisterTortoise

from app import metrics
from app.accounts.rate_limit import limiter_from_settings
from app.clock import Clock, utcnow
from app.db import database_config
from app.handlers import build_handlers
from app.jobs.runner import JobRunner
from app.jobs.table import build_job_handlers
from app.live.broker import Broker, InMemoryBroker
from app.live.redis_broker import RedisBroker
from app.live.revocation_watch import RevocationWatch
from app.notifications.worker import OutboxWorker
from app.settings import Settings
from app.web import graphiql
from app.web.calendar_feed import CalendarFeedEndpoint
from app.web.graphql_view import GraphQLView
from app.web import metrics as metrics_web
from app.web.health import healthz
from app.web.readiness import readyz
from app.web.stack import DirectStack, middleware


def make_broker(settings: Settings) -> Broker:
    """Redis pub/sub when REDIS_URL is set (several processes act as one), else in-process."""
    if settings.redis_url:
        return RedisBroker(
            settings.redis_url,
            prefix=settings.redis_key_prefix,
            queue_size=settings.ws_subscriber_queue_size,
        )
    return InMemoryBroker(queue_size=settings.ws_subscriber_queue_size)


GRAPHQL_PATH = "/graphql"
# Net allocations between two young garbage-collection passes in a serving process (see
# `app_from_env`); CPython's default is 700.
GC_YOUNG_THRESHOLD = 10_000


class App(Starlette):
    """Starlette, with requests to /graphql handed straight to the GraphQL view.

    Each layer of Starlette's stack (the error middleware, the app's three middlewares, the
    exception middleware with its wrapper and connection object, the router and the route)
    costs each request a coroutine frame, and most a `send` wrapper.

    WebSockets go to `websocket_endpoint`, the view itself. Each of those frames would stay
    for as long as a socket is open: ~2 KB per idle subscriber, and none of them acts on
    this socket (the middlewares pass non-HTTP scopes through unchanged, the route has no
    parameters, no exception handler is registered for WebSockets, the view answers its own
    refusals).

    HTTP requests with a method the route serves go to `http_endpoint`: the view behind
    app.web.stack.DirectStack, which does in one layer what the stack does (headers, CORS,
    body limit and CSRF, the answer to an exception); the scope gets the keys the router
    would set. Other methods (CORS preflights, 405s) take the stack.

    With tracing on, the whole stack stays (no endpoints given), so its middleware sees
    every request and socket."""

    def __init__(
        self,
        *args: Any,
        websocket_endpoint: ASGIApp | None = None,
        http_endpoint: ASGIApp | None = None,
        graphql_route: Route | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if http_endpoint is not None and (graphql_route is None or self.exception_handlers or self.debug):
            # DirectStack answers exceptions as Starlette does by default, and sets the route's keys.
            raise ValueError("http_endpoint needs the /graphql route, and Starlette's default error handling")
        self.websocket_endpoint = websocket_endpoint
        self.http_endpoint = http_endpoint
        self.graphql_route = graphql_route
        # The methods the route serves (Starlette adds HEAD to GET); None would be every method.
        self.http_methods = frozenset((graphql_route.methods or ()) if graphql_route is not None else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if (
                self.http_endpoint is not None
                and scope["method"] in self.http_methods
                and get_route_path(scope) == GRAPHQL_PATH
            ):
                scope["app"] = self
                scope.setdefault("router", self.router)  # what Router and Route would set
                scope["endpoint"] = self.graphql_route.endpoint
                scope["path_params"] = {}
                await self.http_endpoint(scope, receive, send)
                return
        elif kind == "websocket" and self.websocket_endpoint is not None and get_route_path(scope) == GRAPHQL_PATH:
            scope["app"] = self
            await self.websocket_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, broker: Broker | None = None, clock: Clock = utcnow) -> Starlette:
    """Build the whole application from `settings`: routes, broker, effects, lifespan.
    `clock` is what token expiry is judged by (tests move it forward)."""
    broker = broker or make_broker(settings)
    tracing_middleware = []
    if settings.otel_exporter_otlp_endpoint:
        from app import tracing  # only then: without tracing, nothing of OpenTelemetry is imported

        tracing.configure(settings)
        tracing_middleware = [tracing.middleware()]
    metrics.configure(max_operation_names=settings.metrics_max_operation_names)
    outbox_worker = OutboxWorker(settings) if settings.outbox_worker_in_serve else None
    effects = build_handlers(settings, broker, outbox_worker)
    # Timed jobs run wherever mail is delivered: inside serve, or in `python -m app worker`.
    job_runner = (
        JobRunner(settings, build_job_handlers(settings), effects) if settings.outbox_worker_in_serve else None
    )
    sign_in_limiter = limiter_from_settings(settings)
    revocation_watch = RevocationWatch(broker.fanout, interval=settings.revocation_poll_interval.total_seconds())
    graphql = GraphQLView(
        settings=settings, effects=effects, broker=broker, sign_in_limiter=sign_in_limiter, clock=clock
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(RegisterTortoise(app, config=database_config(settings)))
            if settings.metrics_port:
                await stack.enter_async_context(metrics_web.metrics_server(settings.metrics_port, clock))
            await broker.start()
            await revocation_watch.start()
            await graphql.socket_limits.start()
            if outbox_worker is not None:
                outbox_worker.start()
            if job_runner is not None:
                job_runner.start()
            try:
                yield
            finally:
                # Shutdown (uvicorn has stopped accepting, closed the WebSockets with 1012
                # and let in-flight requests finish within SHUTDOWN_GRACE): the job runner
                # finishes the job in hand and releases its other claims; the outbox worker
                # sends its message in flight and releases the rest of its batch.
                if job_runner is not None:
                    await job_runner.stop()
                if outbox_worker is not None:
                    await outbox_worker.stop(timeout=float(settings.smtp_timeout_seconds * 2 + 5))
                await revocation_watch.stop()
                await graphql.socket_limits.stop()
                await broker.stop()
                await sign_in_limiter.close()
                metrics.mark_this_process_dead()

    graphql_route = Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"])
    routes = [
        graphql_route,
        WebSocketRoute(GRAPHQL_PATH, graphql),  # what App serves directly, unless tracing is on
        Route("/healthz", healthz),
        Route("/calendar/{name}", CalendarFeedEndpoint(settings, clock), methods=["GET", "HEAD"]),
        Route("/readyz", readyz),
    ]
    if settings.metrics_token:
        routes.append(metrics_web.token_route(settings.metrics_token))
    if graphql.graphql_ide:
        routes.append(graphiql.assets_route())
    layers = middleware(settings)
    app = App(
        routes=routes,
        middleware=[*tracing_middleware, *layers],
        lifespan=lifespan,
        websocket_endpoint=None if tracing_middleware else graphql,
        http_endpoint=None if tracing_middleware else DirectStack(graphql, layers),
        graphql_route=graphql_route,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.effects = effects
    app.state.broker = broker
    app.state.sign_in_limiter = sign_in_limiter
    app.state.socket_limits = graphql.socket_limits
    app.state.outbox_worker = outbox_worker
    app.state.revocation_watch = revocation_watch
    app.state.job_runner = job_runner
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory used by `python -m app serve` (settings from the environment)."""
    app = create_app(Settings.from_env())
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """Set up the garbage collector for a serving process, once its app is built."""
    # Everything built so far (modules, schema, ORM metadata) lives as long as the process:
    # take it out of the garbage collector's full passes, which otherwise walk it again and
    # again while a thousand subscribers are being served (measured: ~35% of the time spent
    # per delivered event, see docs/live.md).
    gc.freeze()
    # A young pass every 700 net allocations (CPython's default) comes several times per
    # request here: a read keeps its rows and response objects until it answers (a
    # Dashboard page ~15,000 objects), so each pass walks live objects and promotes them,
    # and middle and full passes walk them again. An operation leaves no cyclic garbage
    # (tests/api/test_no_reference_cycles.py), so there is little for the collector to
    # find: a young pass every GC_YOUNG_THRESHOLD net allocations is enough.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
