"""The GraphQL endpoint: Strawberry's ASGI view with our context, authentication and
WebSocket sign-in, made to follow the GraphQL over HTTP specification.

Who is asking: a bearer token in the Authorization header (HTTP), or in the
connection_init payload (WebSocket: checked in `on_ws_connect`, then again before each
operation, on the user's "access changed" signal and at the token's expiry, see
app.api.websocket). Tokens expire (`TOKEN_TTL`, `TOKEN_IDLE_TTL`) by the view's clock.
Every request gets a request id (the client's X-Request-Id when it is safe to log).

Strawberry 0.341 answers every result as `application/json` with status 200 and its
request errors as `text/plain`. This view adds what the spec asks for:

- content negotiation (`app.web.negotiation`): `application/graphql-response+json` when
  the client accepts it, where a response without `data` (the document failed to parse
  or validate, or the variables failed to coerce) is a 400;
- request errors as GraphQL-shaped JSON bodies with `extensions.code`, never text;
- a mutation sent over GET is a 405 with `Allow: POST`; a subscription over HTTP is a 400
  (subscriptions are WebSocket only: Strawberry would run one as a query and fail);
- a body that is not an operation object (or a batch of them), strict JSON nested at most
  32 levels, and each operation's members of the right JSON types, or a 400
  (`app.web.request_body`; Strawberry answers 500 to `null`, `[1]` or deep nesting);
- the GraphiQL page served from the app's own assets (`app.web.graphiql`).
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from app.accounts.rate_limit import SignInLimiter, limiter_from_settings
from app.accounts.services import SignedIn, TokenLifetime, viewer_for_token
from app.api import lean
from app.api.context import Context
from app.api.errors import TopLevelErrorCode
from app.api.lean import lean_executor
from app.api.schema import build_schema
from app.api.socket_limits import TOO_MANY_FROM_ADDRESS_CLOSE_CODE, TOO_MANY_FROM_ADDRESS_REASON, SocketLimits
from app.api.websocket import LiveTransportWSHandler
from app.clock import Clock, utcnow
from app.group_sessions.events import Effects
from app.live.broker import Broker
from app.settings import Settings
from app.web import graphiql, request_body
from app.web.negotiation import GRAPHQL_RESPONSE_JSON, encode_json, error_response, response_media_type

SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "Subscriptions are served over WebSocket at this path (graphql-transport-ws), not over plain HTTP."
)
_ERROR_CODES = {
    400: TopLevelErrorCode.BAD_REQUEST,
    404: TopLevelErrorCode.NOT_FOUND,
    405: TopLevelErrorCode.METHOD_NOT_ALLOWED,
    413: TopLevelErrorCode.PAYLOAD_TOO_LARGE,
}

# Strawberry's parser goes through email.message for each request; clients send a handful
# of distinct Content-Type values.
_content_type = functools.lru_cache(maxsize=256)(parse_content_type)

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


class Answer(Response):
    """A Starlette `Response` given its encoded body and raw headers: what `Response(body,
    media_type=...)` would hold, without rendering the body and building the headers again
    (sent the same way, by `Response.__call__`)."""

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]], *, media_type: str) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


class GraphQLView(GraphQL):
    """Strawberry's `GraphQL` view with our context, authentication and WebSocket sign-in,
    and spec-conforming media types, statuses and errors."""

    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(
        self,
        *,
        settings: Settings,
        effects: Effects,
        broker: Broker,
        sign_in_limiter: SignInLimiter | None = None,
        clock: Clock = utcnow,
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
        self.clock = clock
        self.token_lifetime = TokenLifetime.of(settings)
        self.broker = broker
        # create_app passes the limiter it closes at shutdown; a bare view counts in memory
        self.sign_in_limiter = sign_in_limiter or limiter_from_settings(settings.with_(redis_url=None))
        # Across processes when REDIS_URL is set (its heartbeat runs in create_app's lifespan).
        self.socket_limits = SocketLimits.from_settings(settings)

    # --- who is asking ---------------------------------------------------------------------

    async def signed_in_by(self, token: str | None, *, record_use: bool = True) -> SignedIn | None:
        """Who `token` signs in now (by this view's clock and token lifetimes), or None."""
        if not token:
            return None
        return await viewer_for_token(token, lifetime=self.token_lifetime, now=self.clock(), record_use=record_use)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        found = None
        token = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            found = await self.signed_in_by(token)
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            effects=self.effects,
            broker=self.broker,
            viewer=found.user if found else None,
            viewer_roles=found.roles if found else None,
            token=token if found else None,
            request_id=request_id_from(request.headers.get("x-request-id")),
            sign_in_limiter=self.sign_in_limiter,
            clock=self.clock,
        )

    async def on_ws_connect(self, context: Context):
        """Sign in from the connection_init payload; a missing, bad or expired token closes
        with 4403."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        raw = params.get("authorization") or params.get("Authorization")
        token = bearer_token(raw) if isinstance(raw, str) else None
        found = await self.signed_in_by(token)
        if found is None:
            raise ConnectionRejectionError({"message": "Sign in: send {\"authorization\": \"Bearer <token>\"}."})
        context.viewer = found.user
        context.viewer_roles = found.roles
        context.token = token
        context.token_expires_at = found.expires_at
        context.fresh_loaders()
        return UNSET  # a connection_ack without payload

    # --- open sockets ----------------------------------------------------------------------

    async def serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's WebSocket handling, counted against the client address's and (at
        connection_init, see LiveTransportWSHandler) the user's open sockets; released
        however the connection ends."""
        websocket = WebSocket(scope, receive=receive, send=send)
        socket = await self.socket_limits.open(websocket.client.host if websocket.client else None)
        if socket is None:
            # Accepted only to say why: a handshake refused with HTTP 403 reaches browsers as 1006.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # the client left already
                await websocket.accept(subprotocol=await self.pick_websocket_subprotocol(websocket))
                await websocket.close(code=TOO_MANY_FROM_ADDRESS_CLOSE_CODE, reason=TOO_MANY_FROM_ADDRESS_REASON)
            return
        websocket.state.open_socket = socket  # the handler finds it through the scope
        try:
            await super().__call__(scope, receive, send)
        finally:
            socket.close()

    # --- GraphQL over HTTP -----------------------------------------------------------------

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        if scope["type"] == "websocket":
            # serve_websocket's own awaitable: no frame of this one kept for the socket's life.
            return self.serve_websocket(scope, receive, send)
        return self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run_lean(request)
            if response is None:
                response = await self.run(request)
        except HTTPException as exc:
            response = self._request_error(request, exc)
        await response(scope, receive, send)

    async def run_lean(self, request: Request) -> Response | None:
        """The answer to a JSON POST of one operation the lean path takes (app.api.lean:
        a known-good document within every limit), or None: `run` answers it then, and
        nothing observable has happened yet. The same steps as `run` otherwise: the
        sub-response and the context (signing in), then the result processed and
        answered by this view's own `process_result` and `create_response`. The checks
        made before the view (size cap, CSRF) are middleware and hold for both paths."""
        if request.method != "POST":
            return None
        executor = lean_executor(self.schema)
        if executor is None:
            return None
        content_type, _ = _content_type(request.headers.get("content-type") or "")
        if "application/json" not in content_type:
            return None
        try:
            body = request_body.decode_json(await request.body())
            if not isinstance(body, dict):
                return None  # a batch or not an operation: `run` answers
            plan = executor.prepare(request_body.operation_in(body))
        except HTTPException:
            return None  # `run` refuses it the same way, once the context is made as always
        if plan is None:
            return None
        lean.STATS["lean"] += 1
        root_value = await self.get_root_value(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        result = await executor.execute(plan, context, root_value)
        return self.create_response(await self.process_result(request, result), sub_response)

    def _request_error(self, request: Request, exc: HTTPException) -> Response:
        headers: dict[str, str] = {}
        status_code, message = exc.status_code, exc.reason
        refused = exc.__cause__
        if isinstance(refused, InvalidOperationTypeError):
            if refused.operation_type == OperationType.SUBSCRIPTION:
                message = SUBSCRIPTIONS_OVER_WEBSOCKET
            elif request.method == "GET":
                # The spec: a mutation over GET MUST get 405; POST is the way.
                status_code = 405
                headers["Allow"] = "POST"
        return error_response(
            message,
            status_code=status_code,
            code=_ERROR_CODES.get(status_code, TopLevelErrorCode.BAD_REQUEST),
            accept=request.headers.get("accept"),
            headers=headers,
        )

    async def get_sub_response(self, request: Request) -> Response:
        # Strawberry's: a Response without status or headers, for resolvers to set (made
        # here as an `Answer`: the same state, without building headers to delete one).
        # The negotiated type travels on it: `create_response` gets no request.
        sub_response = Answer(b"", [], media_type=response_media_type(request.headers.get("accept")))
        sub_response.status_code = None  # type: ignore[assignment]
        return sub_response

    async def execute_operation(  # noqa: PLR0917 (Strawberry's signature)
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Any,
        root_value: Any,
        sub_response: Response,
    ) -> Any:
        """Strawberry's; the context learns how many operations the request carries (a batch
        shares one context), so OneSignInPerRequest can refuse a signIn in a batch."""
        if isinstance(request_data, list):
            context.operations_in_request = len(request_data)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def execute_single(  # noqa: PLR0917 (Strawberry's signature)
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, less subscriptions: it lets them through plain HTTP (for streaming
        transports this app does not enable), where the subscription field then runs as if
        it were a query and fails as an unexpected error. Subscriptions are WebSocket only."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e

    def encode_json(self, data: object) -> str:
        """WebSocket messages (Strawberry's `send_json`): orjson's JSON as text, because
        bytes would go out as binary frames, which graphql-transport-ws clients refuse.
        HTTP bodies skip the round trip through `str` (see `create_response`)."""
        return encode_json(data).decode()

    def parse_json(self, data: str | bytes) -> Any:
        """HTTP only (Strawberry's multipart path; ours call request_body directly):
        strict JSON, bounded nesting. WebSocket messages go through `decode_json`,
        left as Strawberry has it."""
        return request_body.decode_json(data)

    async def parse_http_body(  # type: ignore[override]
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The operation(s) of a GET or JSON POST, each member checked for its type
        (`app.web.request_body`): a body Strawberry would crash on is a 400 here.
        Other content types go to Strawberry, which refuses them."""
        if request.method == "GET":
            return request_body.operation_in_query(request.query_params)
        content_type, _ = _content_type(request.content_type or "")
        if "application/json" in content_type:
            return request_body.operations_in(
                request_body.decode_json(await request.get_body()),
                max_batch_operations=self.settings.max_batch_operations or None,
            )
        return await super().parse_http_body(request)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response_data = await super().process_result(request, result)
        if (
            response_media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE_JSON
            and result.data is None
            and result.errors
            and all(error.path is None for error in result.errors)
        ):
            # A request error (parse, validation, variable coercion, a limit): execution
            # never began, so the GraphQL spec leaves `data` out. Under the legacy
            # application/json type Strawberry's `"data": null` stays, for old clients.
            response_data.pop("data", None)
        return response_data

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        # Strawberry's, with the body encoded by orjson straight to UTF-8 bytes.
        media_type = sub_response.media_type or "application/json"
        content_type = f"{media_type}; charset=utf-8"
        body = encode_json(response_data)
        # The headers `Response(body, media_type=content_type)` makes, then the sub-response's
        # (a resolver may have set some: its `headers` edit this same list).
        raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", content_type.encode("latin-1")),
        ]
        if sub_response.raw_headers:
            raw_headers.extend([item for item in sub_response.raw_headers if item[0] != b"content-type"])
        response = Answer(body, raw_headers, media_type=content_type)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and not sub_response.status_code
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            # No `data`: a request error (see process_result). The spec: 4xx, here 400.
            response.status_code = 400
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page_response(endpoint=request.url.path)
