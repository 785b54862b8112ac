"""The GraphQL schema: roots, scalars and extensions, built from settings."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from app.api.extensions import FreshLoaders, MaskUnexpectedErrors
from app.api.persisted_queries import DocumentStore, PersistedQueries
from app.api.mutations import Mutation
from app.api.queries import Query
from app.api.scalars import DateTime
from app.api.subscriptions import Subscription
from app.api.types.nodes import GroupSession, Program, Registration, User
from app.settings import Settings

# Parsed and validated documents kept per process: clients send a handful of distinct
# documents, so parsing and validating each once saves most of the per-request overhead.
DOCUMENT_CACHE_SIZE = 512


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the extensions `settings` asks for (limits, production hardening)."""
    settings = settings or Settings()
    documents = DocumentStore(settings.persisted_queries_max)
    extensions: list = [
        lambda: PersistedQueries(documents),  # first: the others see the document it resolves
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        FreshLoaders,
        MaskUnexpectedErrors,
    ]
    return strawberry.Schema(
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
