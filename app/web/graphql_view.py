"""The Strawberry ASGI view, made to follow the GraphQL over HTTP specification.

Strawberry 0.341 answers every result as `application/json` with status 200 and its
request errors as `text/plain`. This view adds what the spec asks for:

- content negotiation (`app.web.negotiation`): `application/graphql-response+json` when
  the client accepts it, where a response without `data` (the document failed to parse
  or validate, or the variables failed to coerce) is a 400;
- request errors as GraphQL-shaped JSON bodies with `extensions.code`, never text;
- a mutation sent over GET is a 405 with `Allow: POST`; a subscription over HTTP is a 400
  (subscriptions are WebSocket only: Strawberry would run one as a query and fail);
- a non-string `operationName` is a 400 (Strawberry passes it on unchecked);
- the GraphiQL page served from the app's own assets (`app.web.graphiql`).
"""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.web import graphiql
from app.web.negotiation import GRAPHQL_RESPONSE_JSON, error_response, response_media_type

SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "Subscriptions are served over WebSocket at this path (graphql-transport-ws), not over plain HTTP."
)
_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


class GraphQLOverHTTP(GraphQL):
    """Strawberry's `GraphQL` view with spec-conforming media types, statuses and errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = self._request_error(request, exc)
        await response(scope, receive, send)

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
            code=_ERROR_CODES.get(status_code, "BAD_REQUEST"),
            accept=request.headers.get("accept"),
            headers=headers,
        )

    async def get_sub_response(self, request: Request) -> Response:
        sub_response = await super().get_sub_response(request)
        # The negotiated type travels on the sub-response: `create_response` gets no request.
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

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

    async def parse_http_body(self, request):  # type: ignore[override]
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, (str, type(None))):
                raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        return data

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
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or "application/json"
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
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
