"""Schema extensions: per-operation loaders and masking of unexpected errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension

from app.errors import DomainError

logger = logging.getLogger("app.errors")


class FreshLoaders(SchemaExtension):
    """New DataLoaders for every operation: a WebSocket context lives for the whole
    connection, and loaders kept that long would serve stale rows."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "fresh_loaders"):
            context.fresh_loaders()
        yield


class SharedParserCache(ParserCache):
    """Strawberry's ParserCache (identical documents share one parsed AST: a thousand
    subscriptions with the same text hold one tree, not a thousand), except that a document
    that does not parse is left to Strawberry's own parse step. In 0.341 ParserCache raises
    the syntax error from its hook, outside Strawberry's error handling: over a WebSocket
    the operation dies and the client is never told (instead of a 4400 close)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            pass  # parsed again below by Strawberry, which reports the error properly
        yield


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, (GraphQLError, DomainError))


class MaskUnexpectedErrors(MaskErrors):
    """Bugs reach clients as "Unexpected error." with the request id to quote; operators
    find the full traceback in the log under the same id. Expected errors (validation,
    UNAUTHENTICATED, limits) pass unchanged."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not _is_expected(error), error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "")
        logger.error(
            "unexpected error (request id %s) at %s",
            request_id,
            error.path,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
