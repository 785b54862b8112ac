"""The GraphQL schema: roots, scalars and extensions, built from settings."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.schema.config import StrawberryConfig

from app.api.extensions import FreshLoaders, MaskUnexpectedErrors
from app.api.mutations import Mutation
from app.api.queries import Query
from app.api.scalars import DateTime
from app.api.subscriptions import Subscription
from app.api.types.nodes import GroupSession, Program, Registration, User
from app.settings import Settings


class AppSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Strawberry logs every error with a traceback, expected ones included (a missing
        token, a bad cursor). Unexpected errors are logged by MaskUnexpectedErrors, with
        the request id the client sees; the rest is the client's business, not the log's."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the extensions `settings` asks for (limits, production hardening)."""
    settings = settings or Settings()
    extensions: list = [FreshLoaders, MaskUnexpectedErrors]
    return AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Program, GroupSession, Registration],
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DateTime}),
    )


def export_sdl() -> str:
    """The SDL clients see: what `python -m app export-schema` prints and schema.graphql holds."""
    return build_schema().as_str() + "\n"
