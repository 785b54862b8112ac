"""The two error channels: domain problems become `userErrors` data (see
`types.common.user_errors`); authentication and limits are top-level errors with
`extensions.code`; anything else is a bug, masked for clients."""

from __future__ import annotations

from graphql import GraphQLError


class Unauthenticated(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "Sign in first: send 'Authorization: Bearer <token>'.", extensions={"code": "UNAUTHENTICATED"}
        )


class BadUserInput(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})
