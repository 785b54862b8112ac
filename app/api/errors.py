"""The two error channels and the masking policy.

- Expected refusals of a command are data: each `Problem` of a `DomainError` becomes a
  `UserError` in the mutation's payload (`user_errors`).
- Everything else the client caused (authentication, bad input, limits, a refused
  subscription, a malformed HTTP request) is a top-level error whose `extensions.code` is
  one of `TopLevelErrorCode`.
- Anything else is a bug: masked for clients as INTERNAL_SERVER_ERROR with the request
  id, logged in full for operators (`is_expected` tells the two apart).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import strawberry
from graphql import GraphQLError

from app.api.enums import UserErrorCode
from app.errors import DomainError


class TopLevelErrorCode(StrEnum):
    """Every `extensions.code` of a top-level error this API answers (GraphQL responses,
    WebSocket errors and HTTP request errors alike)."""

    # who is asking
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # what was asked
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    # limits
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_SIGN_INS = "TOO_MANY_SIGN_INS"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    TIMEOUT = "TIMEOUT"
    # live updates
    LIVE_UPDATES_UNAVAILABLE = "LIVE_UPDATES_UNAVAILABLE"
    SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
    # HTTP request errors (no GraphQL execution at all)
    BAD_REQUEST = "BAD_REQUEST"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    URI_TOO_LONG = "URI_TOO_LONG"
    CSRF_PREFLIGHT_REQUIRED = "CSRF_PREFLIGHT_REQUIRED"
    # a bug, masked
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class TopLevelError(GraphQLError):
    """A top-level error the client caused, with its `extensions.code` (and any other
    extensions, e.g. a cost and its budget)."""

    def __init__(self, message: str, code: TopLevelErrorCode, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})


class Unauthenticated(TopLevelError):
    def __init__(self) -> None:
        super().__init__("Sign in first: send 'Authorization: Bearer <token>'.", TopLevelErrorCode.UNAUTHENTICATED)


class BadUserInput(TopLevelError):
    def __init__(self, message: str) -> None:
        super().__init__(message, TopLevelErrorCode.BAD_USER_INPUT)


# --- DomainError -> userErrors -------------------------------------------------------------


@strawberry.type(description="Why a mutation did not do what was asked. Any entry means nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "maxParticipants"]; null when no single field is.'
    )
    message: str = strawberry.field(description="A sentence to show the user.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")


def user_errors(error: DomainError) -> list[UserError]:
    """One UserError per problem of a refused command."""
    return [UserError(field=list(p.field) if p.field else None, message=p.message, code=p.code) for p in error.problems]


# --- which errors are the client's (the masking policy) -------------------------------------


def is_expected(error: GraphQLError) -> bool:
    """True for errors that describe the request (bad input, limits, authentication,
    domain refusals); False for bugs. Scalars refuse bad input with ValueError, which
    graphql-core keeps as `original_error` of a validation error (no path)."""
    original = error.original_error
    if original is None or isinstance(original, (GraphQLError, DomainError)):
        return True
    return error.path is None and isinstance(original, ValueError)


def code_of(error: GraphQLError) -> str | None:
    """The error's `extensions.code`, if it has one."""
    extensions = error.extensions or {}
    code = extensions.get("code")
    return code if isinstance(code, str) else None


def set_code(error: GraphQLError, code: TopLevelErrorCode, **more: Any) -> None:
    """Give `error` the code `code` unless it has one already."""
    if code_of(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code.value, **more}
