"""The GraphQL schema: the three roots, assembled from the domains' fields, with scalars
and extensions, built from settings."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import DisableIntrospection, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.api import node as node_fields
from app.api.accounts import mutations as accounts_mutations
from app.api.accounts import queries as accounts_queries
from app.api.accounts.types import Program, User
from app.api.errors import TopLevelErrorCode, is_expected, set_code
from app.api.execution import AppExecutionContext
from app.api.extension_hooks import CachedHooksRunner
from app.api.extensions import (
    DocumentLimits,
    ExecutionTimeout,
    FreshLoaders,
    MaskUnexpectedErrors,
    OneSignInPerRequest,
    QueryCostLimit,
    RequestLog,
    SharedParserCache,
    ValidationErrorCodes,
    ValidationRules,
    explain_parse_error,
    factory,
    validation_limit_rules,
)
from app.api.group_sessions import mutations as group_sessions_mutations
from app.api.group_sessions import queries as group_sessions_queries
from app.api.group_sessions import subscriptions as group_sessions_subscriptions
from app.api.group_sessions.types import GroupSession, Registration
from app.api.persisted_queries import DocumentStore, PersistedQueries
from app.api.scalars import DateTime, LocalDateTime, LocalDateTimeValue
from app.settings import Settings

# Parsed and validated documents kept per process: clients send a handful of distinct
# documents, so parsing and validating each once saves most of the per-request overhead.
DOCUMENT_CACHE_SIZE = 512


logger = logging.getLogger("app.errors")


# The roots list the fields in the contract's order; each field's resolver lives with its
# domain (app.api.accounts, app.api.group_sessions) or, for Node, in app.api.node.


@strawberry.type(description="Entry points for reading.")
class Query:
    node = node_fields.node
    nodes = node_fields.nodes
    viewer = accounts_queries.viewer
    dashboard = group_sessions_queries.dashboard
    profile = accounts_queries.profile
    group_session = group_sessions_queries.group_session
    program = accounts_queries.program


@strawberry.type(description="Entry points for changing things.")
class Mutation:
    sign_in = accounts_mutations.sign_in
    update_viewer = accounts_mutations.update_viewer
    sign_out = accounts_mutations.sign_out
    reset_calendar_feed_url = accounts_mutations.reset_calendar_feed_url
    create_group_session = group_sessions_mutations.create_group_session
    update_group_session = group_sessions_mutations.update_group_session
    cancel_group_session = group_sessions_mutations.cancel_group_session
    join_group_session = group_sessions_mutations.join_group_session
    leave_group_session = group_sessions_mutations.leave_group_session
    respond_to_invitation = group_sessions_mutations.respond_to_invitation


@strawberry.type(description="Live updates over WebSocket (graphql-transport-ws).")
class Subscription:
    registration_events = group_sessions_subscriptions.registration_events
    group_session_updated = group_sessions_subscriptions.group_session_updated


# Node types no root field names directly, listed so `Query.node` can return them.
NODE_TYPES = [User, Program, GroupSession, Registration]

# graphql-core adds "Did you mean 'x'?" for fields, arguments, types, enum
# values and input fields alike; Strawberry's disable_field_suggestions removes only the
# first kind.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class AppSchema(strawberry.Schema):
    """Strawberry's schema with our error policy: bugs are logged in full with the
    request id (clients see them masked, see MaskUnexpectedErrors); client errors are not
    logged as errors; in production no message suggests names from the schema. Extension
    hooks are looked up once per class."""

    def __init__(self, *args: Any, extensions: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, extensions=extensions, **kwargs)
        # Made on first use by the HTTP view (app.api.lean.lean_executor).
        self.app_extensions = extensions if isinstance(extensions, AppExtensions) else None
        self.lean: Any = None

    def create_extensions_runner(self, execution_context: ExecutionContext, extensions: list[Any]) -> CachedHooksRunner:
        """Strawberry's runner, with each extension class's hooks looked up once
        (app.api.extension_hooks), not per operation."""
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        hide_suggestions = self.config.disable_field_suggestions
        context = execution_context.context if execution_context else None
        for error in errors:
            if isinstance(error, GraphQLSyntaxError):
                explain_parse_error(error, execution_context)
            if hide_suggestions and "Did you mean" in error.message:
                error.message = _SUGGESTION.sub("", error.message)
            if is_expected(error):
                if error.path is None:
                    # variables that do not fit their types, found as execution starts
                    set_code(error, TopLevelErrorCode.BAD_USER_INPUT)
                continue
            logger.error(
                "unexpected error at %s: %s",
                ".".join(str(p) for p in error.path or ()) or "-",
                error.message,
                exc_info=error.original_error,
                extra={"request_id": getattr(context, "request_id", None)},
            )


class AppExtensions(list):
    """The list `schema_extensions` makes, with what it was made from: a schema given this
    very list (not a copy with more) can run the lean path (app.api.lean), which does what
    these extensions do for a document that parsed and validated cleanly."""

    def __init__(self, items: list[Any], *, settings: Settings, documents: DocumentStore, limit_rules: list[Any]) -> None:
        super().__init__(items)
        self.settings = settings
        self.documents = documents
        self.limit_rules = limit_rules


def schema_extensions(settings: Settings) -> AppExtensions:
    """The extensions `settings` asks for, as classes or factories (never instances).

    A ParserCache or ValidationCache may be added anywhere in the list: the limits are
    parse options and validation rules fixed per schema, so they hold with caches and do
    not defeat them."""
    limit_rules = validation_limit_rules(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases)
    documents = DocumentStore(settings.persisted_queries_max)
    extensions: list[Any] = [
        lambda: PersistedQueries(documents),  # first: the others see the document it resolves
        # Syntax errors still reach WebSocket clients (the stock ParserCache loses them there);
        # a thousand sockets subscribing with one document share one parsed AST.
        lambda: SharedParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        RequestLog,
        FreshLoaders,
        factory(DocumentLimits, max_bytes=settings.max_document_bytes, max_tokens=settings.max_tokens),
        factory(ValidationRules, validation_rules=limit_rules),
        ValidationErrorCodes,
        OneSignInPerRequest,  # before anything executes: no signIn of a refused request is counted
        factory(QueryCostLimit, max_cost=settings.max_query_cost, max_page_size=settings.max_page_size),
        factory(ExecutionTimeout, seconds=settings.request_timeout_seconds),
        MaskUnexpectedErrors,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    if settings.otel_exporter_otlp_endpoint:
        from app.tracing import OperationSpan  # only then: without tracing, no OpenTelemetry import

        extensions.insert(0, OperationSpan)
    return AppExtensions(extensions, settings=settings, documents=documents, limit_rules=limit_rules)


def schema_config(settings: Settings) -> StrawberryConfig:
    """Scalars, suggestions (off in production) and batching (off when max_batch_operations is 0)."""
    return StrawberryConfig(
        scalar_map={datetime: DateTime, LocalDateTimeValue: LocalDateTime},
        disable_field_suggestions=settings.is_production,
        batching_config={"max_operations": settings.max_batch_operations} if settings.max_batch_operations else None,
    )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the extensions `settings` asks for (limits, production hardening)."""
    settings = settings or Settings()
    return AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=schema_extensions(settings),
        config=schema_config(settings),
        # Basic leaves read directly (execution.py); one execution per distinct
        # subscription result, not per subscriber (live_execution.py).
        execution_context_class=AppExecutionContext,
    )


def export_sdl() -> str:
    """The SDL clients see: what `python -m app export-schema` prints and schema.graphql holds."""
    return build_schema().as_str() + "\n"
