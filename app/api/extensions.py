"""Schema extensions: per-operation loaders and masking of unexpected errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

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
