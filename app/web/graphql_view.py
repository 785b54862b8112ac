"""The Strawberry ASGI view, made to follow the GraphQL over HTTP specification.

Strawberry 0.341 answers every result as `application/json` with status 200 and its
request errors as `text/plain`. This view adds what the spec asks for:

- content negotiation (`app.web.negotiation`): `application/graphql-response+json` when
  the client accepts it, where a response without `data` (the document failed to parse
  or validate, or the variables failed to coerce) is a 400;
- request errors as GraphQL-shaped JSON bodies with `extensions.code`, never text;
- a mutation (or subscription) sent over GET is a 405 with `Allow: POST`;
- a non-string `operationName` is a 400 (Strawberry passes it on unchecked);
- the GraphiQL page served from the app's own assets (`app.web.graphiql`).
"""

from __future__ import annotations

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from app.web import graphiql
from app.web.negotiation import GRAPHQL_RESPONSE_JSON, error_response, response_media_type

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
        status_code = exc.status_code
        if request.method == "GET" and isinstance(exc.__cause__, InvalidOperationTypeError):
            # The spec: a mutation over GET MUST get 405; POST is the way.
            status_code = 405
            headers["Allow"] = "POST"
        return error_response(
            exc.reason,
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
