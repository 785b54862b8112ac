"""The lean path: a query or mutation whose document is known good, run without
Strawberry's per-operation extension machinery.

`schema.execute` makes twelve extension objects per operation, enters and leaves four
hook stacks and builds an ExecutionContext, a middleware manager and two result objects:
about 60% of the server CPU of an anonymous `{ __typename }`, of which graphql-core's own
run of the field is a sixth (docs/performance.md, "The lean path"). For the common
case, a document that parses and validates cleanly, sent with a type it may be sent with
and within every limit, the extensions decide nothing but add their effects: new loaders, the execution timeout, the cost in
`extensions`, masking, one log line and the metrics. `LeanExecutor` does exactly those.

It takes only that case. `prepare` answers None whenever anything could go otherwise
than the plain success path (the document is new to it and does not parse or validate,
it is over a size or token limit, the persisted-query hash is unknown or wrong, the
operation is not there, is a subscription, holds a signIn, costs more than the budget,
tracing is on); the caller then runs the generic path, which answers that case as it
always has. `prepare` does nothing observable: loaders, timers, logs and metrics start in
`execute`, once the operation is sure to run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, execute
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache
from strawberry.http import GraphQLRequestData
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_first_operation, get_operation_type

from app.api.cost import operation_cost
from app.api.errors import TopLevelError, TopLevelErrorCode
from app.api.extensions import ONE_PER_REQUEST_FIELDS, log_operation, mask_unexpected_errors
from app.api.persisted_queries import sha256_of

# Documents the lean path knows parse and validate cleanly, per executor.
MAX_PREPARED = 512

# Operations the lean path ran, process-wide (tests read the difference).
STATS: Counter[str] = Counter()


@dataclass(slots=True)
class _Document:
    """A document that parsed and validated without errors under the schema's limits."""

    document: Any
    # provided operationName -> (the name Strawberry runs it under, its type), for the
    # operations of the document the lean path may run
    operations: dict[str | None, tuple[str | None, OperationType]]


@dataclass(slots=True)
class Plan:
    """One operation the lean path will run: everything `execute` needs, checked."""

    query: str
    document: Any
    operation_name: str | None
    operation_type: OperationType
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None
    cost: int


class LeanExecutor:
    """Runs prepared operations of one schema as its extensions (`schema_extensions`) would."""

    def __init__(self, schema: Any) -> None:
        extensions = schema.app_extensions
        settings = extensions.settings
        self.schema = schema
        self.documents = extensions.documents
        self.max_bytes = settings.max_document_bytes
        self.max_tokens = settings.max_tokens
        self.max_cost = settings.max_query_cost
        self.max_page_size = settings.max_page_size
        self.timeout_seconds = settings.request_timeout_seconds
        # The rules Strawberry's ExecutionContext starts with, then AddValidationRules',
        # then DisableIntrospection's: the same tuple, so the same validation cache entry.
        rules = (*specified_rules, *extensions.limit_rules)
        if settings.is_production:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        self.validation_rules = rules
        # SharedParserCache's and ValidationCache's caches (shared per maxsize).
        from app.api.schema import DOCUMENT_CACHE_SIZE  # noqa: PLC0415 - app.api.schema imports this module

        self._parse = _get_parse_cache(DOCUMENT_CACHE_SIZE)
        self._validate = _get_validate_cache(DOCUMENT_CACHE_SIZE)
        self._prepared: dict[str, _Document] = {}
        self._execute_kwargs = execution_context_class_kwargs(schema.execution_context_class)
        # The schema's extensions (ParserCache, ...) decide for themselves only when it
        # carries exactly the list schema_extensions made; tracing wraps every operation.
        self.enabled = (
            schema.extensions == tuple(extensions)
            and not schema.directives
            and not settings.otel_exporter_otlp_endpoint
            and schema.config.enable_experimental_incremental_execution is False
        )

    # --- deciding (nothing observable) ----------------------------------------------------

    def prepare(self, data: GraphQLRequestData) -> Plan | None:
        """The plan for this POSTed operation, or None: the generic path answers it."""
        if not self.enabled:
            return None
        query = data.query
        extensions = data.extensions
        if extensions:
            persisted = extensions.get("persistedQuery")
            if persisted is not None:
                query = self._persisted(query, persisted)
        if not query:
            return None
        known = self._prepared.get(query) or self._prepare_document(query)
        if known is None:
            return None
        provided = data.operation_name
        operation = known.operations.get(provided)
        if operation is None:
            operation = self._operation(known.document, provided)
            if operation is None:
                return None
            # Only names the document holds are kept: a client's made-up names grow nothing.
            known.operations[provided] = operation
        name, operation_type = operation
        variables = data.variables
        try:
            cost = operation_cost(
                self.schema._schema,
                known.document,
                name,
                variables if isinstance(variables, dict) else None,
                max_page_size=self.max_page_size,
            )
        except Exception:  # noqa: BLE001 - the generic path reports it
            return None
        if cost > self.max_cost:
            return None
        return Plan(query, known.document, name, operation_type, variables, extensions, cost)

    def _persisted(self, query: str | None, persisted: object) -> str | None:
        """PersistedQueries' answer when it lets the operation through with nothing to
        remember: the document a known hash stands for, or a query matching its known hash.
        None for everything else (it refuses, or it will store the document)."""
        if self.documents.max_documents == 0 or not isinstance(persisted, dict):
            return None
        sha = persisted.get("sha256Hash")
        if persisted.get("version", 1) != 1 or not isinstance(sha, str) or len(sha) != 64:
            return None
        sha = sha.lower()
        if query:
            if sha256_of(query) != sha or self.documents.get(sha) is None:
                return None
            return query
        return self.documents.get(sha)

    def _prepare_document(self, query: str) -> _Document | None:
        """Parse and validate `query` as the generic path would (same caches, same
        options, same rules); None unless both succeed within the limits."""
        if len(query) * 4 > self.max_bytes and len(query.encode("utf-8", "surrogatepass")) > self.max_bytes:
            return None
        if any(name in query for name in ONE_PER_REQUEST_FIELDS):
            return None  # OneSignInPerRequest counts them: left to the generic path
        try:
            document = self._parse(query, max_tokens=self.max_tokens)
            if self._validate(self.schema._schema, document, self.validation_rules):
                return None
        except Exception:  # noqa: BLE001 - the generic path reports it
            return None
        if len(self._prepared) >= MAX_PREPARED:
            del self._prepared[next(iter(self._prepared))]  # the oldest
        known = self._prepared[query] = _Document(document, {})
        return known

    @staticmethod
    def _operation(document: Any, provided: str | None) -> tuple[str | None, OperationType] | None:
        """(name, type) as Strawberry's ExecutionContext derives them; None when there is
        no such operation or it is a subscription (WebSocket only)."""
        name = provided
        if name is None:
            first = get_first_operation(document)
            name = first.name.value if isinstance(first, OperationDefinitionNode) and first.name else None
        try:
            operation_type = get_operation_type(document, name)
        except RuntimeError:
            return None
        if operation_type not in (OperationType.QUERY, OperationType.MUTATION):
            return None
        return name, operation_type

    # --- running ---------------------------------------------------------------------------

    async def execute(self, plan: Plan, context: Any, root_value: Any = None) -> ExecutionResult:
        """Run `plan` with the effects of the schema's extensions, in their order: new
        loaders, the timeout, errors processed (logged) then masked, loaders' end, the log
        line and metrics; the result carries the cost as QueryCostLimit reports it."""
        started = time.perf_counter()
        fresh_loaders = getattr(context, "fresh_loaders", None)
        if fresh_loaders is not None:
            fresh_loaders()
        result: Any = None
        failure: BaseException | None = None
        try:
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    result = await await_maybe(
                        execute(
                            self.schema._schema,
                            plan.document,
                            root_value=root_value,
                            middleware=None,
                            variable_values=plan.variables,
                            operation_name=plan.operation_name,
                            context_value=context,
                            is_awaitable=optimized_is_awaitable,
                            operation_extensions=plan.extensions,
                            **self._execute_kwargs,
                        )
                    )
            except TimeoutError:
                raise TopLevelError(
                    f"The operation took longer than {self.timeout_seconds:g} seconds and was stopped. "
                    "Try again later, or ask for less.",
                    TopLevelErrorCode.TIMEOUT,
                ) from None
            if result.errors:
                self.schema._process_errors(result.errors, self._execution_context(plan, context))
                result.errors = mask_unexpected_errors(result.errors, getattr(context, "request_id", ""))
        except BaseException as error:
            failure = error
            result = None
            if not isinstance(error, Exception):
                raise
        finally:
            end_operation = getattr(context, "end_operation", None)
            if end_operation is not None:
                end_operation()
            log_operation(
                started,
                failure,
                operation_name=plan.operation_name,
                operation_type=plan.operation_type.value,
                result=result,
                pre_execution_errors=None,
                request_id=getattr(context, "request_id", None),
            )
        cost = {"cost": {"requested": plan.cost, "limit": self.max_cost}}
        if failure is not None:
            # As schema.execute answers an exception out of its extensions: processed
            # (logged when unexpected), not masked.
            errors = [failure if isinstance(failure, GraphQLError) else GraphQLError(str(failure), original_error=failure)]
            self.schema._process_errors(errors, self._execution_context(plan, context))
            return ExecutionResult(data=None, errors=errors, extensions=cost)
        return ExecutionResult(data=result.data, errors=result.errors, extensions=cost)

    def _execution_context(self, plan: Plan, context: Any) -> ExecutionContext:
        """Strawberry's view of the operation, for `process_errors` (errors only)."""
        execution_context = ExecutionContext(
            query=plan.query,
            schema=self.schema,
            allowed_operations=(plan.operation_type,),
            context=context,
            variables=plan.variables,
            provided_operation_name=plan.operation_name,
            operation_extensions=plan.extensions,
        )
        execution_context.parse_options["max_tokens"] = self.max_tokens
        execution_context.graphql_document = plan.document
        return execution_context


def lean_executor(schema: Any) -> LeanExecutor | None:
    """The schema's lean executor (made once), or None when it was not built from
    `schema_extensions` (a test's own list, caches added): the generic path then."""
    lean = getattr(schema, "lean", None)
    if lean is None and getattr(schema, "app_extensions", None) is not None:
        lean = schema.lean = LeanExecutor(schema)
    return lean if lean is not None and lean.enabled else None
