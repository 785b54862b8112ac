"""The GraphQL schema: roots, scalars and extensions, built from settings."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig

from app.api.extensions import FreshLoaders, MaskUnexpectedErrors, SharedParserCache
from app.api.live_execution import SharedEventExecutionContext
from app.api.mutations import Mutation
from app.api.queries import Query
from app.api.scalars import DateTime
from app.api.subscriptions import Subscription
from app.api.types.nodes import GroupSession, Program, Registration, User
from app.settings import Settings


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the extensions `settings` asks for (limits, production hardening)."""
    settings = settings or Settings()
    # Parser and validation caches: a thousand sockets subscribing with the same document
    # share one parsed AST (kept alive for the life of each subscription) and validate once.
    extensions: list = [
        FreshLoaders,
        MaskUnexpectedErrors,
        lambda: SharedParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Program, GroupSession, Registration],
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DateTime}),
        # One execution per distinct subscription result, not per subscriber (live_execution.py).
        execution_context_class=SharedEventExecutionContext,
    )


def export_sdl() -> str:
    """The SDL clients see: what `python -m app export-schema` prints and schema.graphql holds."""
    return build_schema().as_str() + "\n"
