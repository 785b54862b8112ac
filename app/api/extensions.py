"""Schema extensions: per-operation loaders, limits, timeout, error codes, masking, request log.

Every limit answers a GraphQL error with `extensions.code` before anything executes
(the timeout, by nature, during execution): DOCUMENT_TOO_LARGE, TOO_MANY_TOKENS,
QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_SIGN_INS, QUERY_TOO_COMPLEX, TIMEOUT, GRAPHQL_PARSE_FAILED,
GRAPHQL_VALIDATION_FAILED (all in `app.api.errors.TopLevelErrorCode`).

Extensions are passed to the schema as classes or factories (one instance per
operation), never as shared instances.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, GraphQLSyntaxError, ValidationContext, visit
from graphql.language import Visitor
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaskErrors, ParserCache, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as create_aliases_validator
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.types.graphql import OperationType  # Strawberry's, not graphql-core's: the context's type

from app import metrics
from app.api.cost import operation_cost
from app.api.errors import TopLevelError, TopLevelErrorCode, code_of, is_expected, set_code

request_logger = logging.getLogger("app.requests")

UNEXPECTED_ERROR = "Unexpected error."


class FreshLoaders(SchemaExtension):
    """New DataLoaders for every operation: a WebSocket context lives for the whole
    connection, and loaders kept that long would serve stale rows. A viewer set by
    `Context.sign_in_as` lasts until the operation ends."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "fresh_loaders"):
            context.fresh_loaders()
        try:
            yield
        finally:
            if hasattr(context, "end_operation"):
                context.end_operation()


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


# --- masking ---------------------------------------------------------------------------------


class MaskUnexpectedErrors(MaskErrors):
    """Bugs reach clients as "Unexpected error." with the request id to quote; operators
    find the full traceback in the log under the same id (see AppSchema.process_errors).
    Expected errors (validation, UNAUTHENTICATED, limits) pass unchanged."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_expected(error), error_message=UNEXPECTED_ERROR)

    def _process_result(self, result: object) -> None:
        # Strawberry's, without its isinstance against a runtime-checkable Protocol, which
        # re-derives the protocol's members on every call (~20 us a request, measured): the
        # same test, "has errors", asked of the attribute directly.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked_error(error, getattr(self.execution_context.context, "request_id", ""))


def masked_error(error: GraphQLError, request_id: str) -> GraphQLError:
    """What a client sees of a bug: "Unexpected error." where it happened, with the
    request id to quote."""
    return GraphQLError(
        message=UNEXPECTED_ERROR,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": TopLevelErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
    )


def mask_unexpected_errors(errors: list[GraphQLError], request_id: str) -> list[GraphQLError]:
    """`errors` with every unexpected one masked (what MaskUnexpectedErrors does to a result)."""
    return [error if is_expected(error) else masked_error(error, request_id) for error in errors]


# --- document limits: size and tokens (parse), depth and aliases (validation) ---------------


class DocumentLimits(SchemaExtension):
    """Refuses a document over `max_bytes` (UTF-8) or `max_tokens` before it is parsed.

    The limits are parse options set as the operation starts, so they hold whatever
    parses the document (Strawberry, or a ParserCache anywhere in the list). The size
    check makes graphql-core's own source-length guard fire, so the refusal travels the
    ordinary parse-error path; `explain_parse_error` (called by the schema's
    process_errors) then gives it our message and code."""

    def __init__(self, *, max_bytes: int, max_tokens: int) -> None:
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens

    def on_operation(self) -> None:
        # A plain function, not a generator: nothing to do when the operation ends, and a
        # generator hook would be held open for a subscription's whole life.
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        query = context.query
        if isinstance(query, str) and len(query) * 4 > self.max_bytes:  # cheap test first
            size = len(query.encode("utf-8", "surrogatepass"))
            if size > self.max_bytes:
                context.parse_options["max_source_length"] = 0
                context._refused_document_size = (size, self.max_bytes)  # type: ignore[attr-defined]


class ValidationRules(AddValidationRules):
    """Strawberry's AddValidationRules with its hook a plain function (the same rules added
    as the operation starts): it has nothing to do when the operation ends, and a generator
    hook would be held open for a subscription's whole life."""

    def on_operation(self) -> None:  # type: ignore[override]
        context = self.execution_context
        context.validation_rules = _combined_rules(context.validation_rules, tuple(self.validation_rules))


@functools.lru_cache(maxsize=16)
def _combined_rules(base: tuple[Any, ...], added: tuple[Any, ...]) -> tuple[Any, ...]:
    """One tuple per (Strawberry's rules, ours), shared by every operation: the execution
    context keeps it for the operation's life, a subscription's included (~300 B each)."""
    return base + added


def explain_parse_error(error: GraphQLSyntaxError, context: Any) -> None:
    """Our message and code for a parse error (DOCUMENT_TOO_LARGE, TOO_MANY_TOKENS or
    GRAPHQL_PARSE_FAILED)."""
    if code_of(error) is not None:
        return
    refused_size = getattr(context, "_refused_document_size", None)
    max_tokens = (getattr(context, "parse_options", None) or {}).get("max_tokens")
    if refused_size is not None:
        size, max_bytes = refused_size
        error.message = f"The document is {size:,} bytes; at most {max_bytes:,} are accepted. Send a smaller query."
        set_code(error, TopLevelErrorCode.DOCUMENT_TOO_LARGE)
    elif max_tokens and f"more than {max_tokens} tokens" in error.message:
        error.message = (
            f"The document has more than {max_tokens:,} tokens (names, punctuation, values); send a smaller query."
        )
        set_code(error, TopLevelErrorCode.TOO_MANY_TOKENS)
    else:
        set_code(error, TopLevelErrorCode.GRAPHQL_PARSE_FAILED)


class _CodedContext:
    """A ValidationContext whose reported errors carry `extensions.code` (the stock
    limiters report bare messages)."""

    def __init__(self, context: ValidationContext, code: TopLevelErrorCode) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        set_code(error, self._code)
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _coded(rule: type[ASTValidationRule], code: TopLevelErrorCode) -> type[ASTValidationRule]:
    class CodedRule(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodedContext(context, code))  # type: ignore[arg-type]

    CodedRule.__name__ = f"{rule.__name__}_{code.value}"
    return CodedRule


def _ignore_introspection(context: IgnoreContext) -> bool:
    # GraphiQL's introspection query nests ofType about 9 levels deep; introspection
    # is off in production, so its depth is not held against development tools.
    return context.field_name.startswith("__")


def validation_limit_rules(*, max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """Query depth (Strawberry's QueryDepthLimiter rule, depth counted from 0) and alias
    count (MaxAliasesLimiter's rule), with codes QUERY_TOO_DEEP and TOO_MANY_ALIASES.

    Build them once per schema and add them with `ValidationRules`: the stock
    limiters make new rule classes per instance, which would defeat a ValidationCache
    (its key includes the rule classes)."""
    return [
        _coded(create_depth_validator(max_depth, _ignore_introspection, None), TopLevelErrorCode.QUERY_TOO_DEEP),
        _coded(create_aliases_validator(max_aliases), TopLevelErrorCode.TOO_MANY_ALIASES),
    ]


class ValidationErrorCodes(SchemaExtension):
    """Every validation error without a code gets GRAPHQL_VALIDATION_FAILED, except a
    literal a scalar refused (a DateTime out of range, without an offset...): that is
    BAD_USER_INPUT, as the same value sent in a variable is."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            refused_by_scalar = isinstance(error.original_error, ValueError)
            set_code(
                error,
                TopLevelErrorCode.BAD_USER_INPUT if refused_by_scalar else TopLevelErrorCode.GRAPHQL_VALIDATION_FAILED,
            )


# --- cost and time ------------------------------------------------------------------------


class QueryCostLimit(SchemaExtension):
    """Refuses an operation whose static cost (see app.api.cost) is over the budget.
    Runs as execution starts, once variables are known, so `first: $n` counts as sent.

    A query or mutation that runs reports its cost in the response, as Shopify's API does:
    `extensions.cost = {requested, limit}`, so a client sees how close a page is to the
    limit (a refused one carries `cost` and `maxCost` in its error instead)."""

    def __init__(self, *, max_cost: int, max_page_size: int) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            variables = context.variables if isinstance(context.variables, dict) else None
            cost = operation_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                variables,
                max_page_size=self.max_page_size,
            )
            if cost > self.max_cost:
                raise TopLevelError(
                    f"This query would cost {cost:,} points; at most {self.max_cost:,} are allowed. "
                    "Ask for fewer items (a smaller `first`) or fewer nested fields.",
                    TopLevelErrorCode.QUERY_TOO_COMPLEX,
                    cost=cost,
                    maxCost=self.max_cost,
                )
            self.cost = cost
        yield

    def get_results(self) -> dict[str, Any]:
        # Subscriptions are left out: their events would each repeat the same figure.
        if self.cost is None or self._operation_type() not in ("query", "mutation"):
            return {}
        return {"cost": {"requested": self.cost, "limit": self.max_cost}}

    def _operation_type(self) -> str | None:
        """"query", "mutation" or "subscription" (Strawberry's OperationType's value)."""
        try:
            return self.execution_context.operation_type.value
        except Exception:  # noqa: BLE001 - no operation to name (a document that did not resolve)
            return None


# Mutations that each count as one attempt against a limit: a request carries one at most.
ONE_PER_REQUEST_FIELDS = frozenset({"signIn"})


class _FieldCounter(Visitor):
    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names
        self.count = 0

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in self.names:
            self.count += 1


def count_fields(document: DocumentNode, names: frozenset[str]) -> int:
    """How many fields named one of `names` the document holds, in every operation and
    fragment. Fields with one response key are merged and run once, so this bounds how
    many times they can run, whatever aliases, fragments and operations are used."""
    counter = _FieldCounter(names)
    visit(document, counter)
    return counter.count


class OneSignInPerRequest(SchemaExtension):
    """Refuses (TOO_MANY_SIGN_INS) a document holding more than one signIn field (aliases,
    fragments, several operations), and a signIn in a batch of several operations (the
    view sets `context.operations_in_request`), before execution: no attempt is counted,
    so one request is at most one sign-in attempt."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        # A field's name is in the text as written: without it there is nothing to count.
        query = context.query or ""
        if context.graphql_document is not None and any(name in query for name in ONE_PER_REQUEST_FIELDS):
            found = count_fields(context.graphql_document, ONE_PER_REQUEST_FIELDS)
            batched = getattr(context.context, "operations_in_request", 1) > 1
            if found > 1 or (found and batched):
                raise TopLevelError(
                    "A request may carry one signIn: no aliases, fragments, operations or batch "
                    "entries with another. Send each sign-in as a request of its own.",
                    TopLevelErrorCode.TOO_MANY_SIGN_INS,
                )
        yield


class ExecutionTimeout(SchemaExtension):
    """Stops a query or mutation that runs longer than `seconds` and answers TIMEOUT.
    Subscriptions are long-lived by design and are not timed."""

    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds

    async def on_execute(self) -> AsyncIterator[None]:
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        try:
            async with asyncio.timeout(self.seconds):
                yield
        except TimeoutError:
            raise TopLevelError(
                f"The operation took longer than {self.seconds:g} seconds and was stopped. "
                "Try again later, or ask for less.",
                TopLevelErrorCode.TIMEOUT,
            ) from None


# --- one log line per operation ------------------------------------------------------------


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class RequestLog(SchemaExtension):
    """Logs one line per operation on `app.requests`: request id, operation name and type,
    duration, outcome and error codes (JSON in production, see app.logging_config)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as error:
            failure = error
            raise
        finally:
            self._log(started, failure)

    def _log(self, started: float, failure: BaseException | None) -> None:
        context = self.execution_context
        try:
            operation_type = context.operation_type.value if context.graphql_document is not None else None
        except Exception:  # noqa: BLE001 - no operation of that name in the document
            operation_type = None
        log_operation(
            started,
            failure,
            operation_name=context.operation_name,
            operation_type=operation_type,
            result=context.result,
            pre_execution_errors=context.pre_execution_errors,
            request_id=getattr(context.context, "request_id", None),
        )


def log_operation(
    started: float,
    failure: BaseException | None,
    *,
    operation_name: str | None,
    operation_type: str | None,
    result: Any,
    pre_execution_errors: list[GraphQLError] | None,
    request_id: str | None,
) -> None:
    """RequestLog's line and metrics for one operation that began at `started`
    (`time.perf_counter()`): `result` is what it answered (None when `failure` escaped)."""
    metric_name = operation_name
    if operation_name is not None and not _NAME.fullmatch(str(operation_name)):
        operation_name = repr(str(operation_name)[:100])  # a client's operationName: no line breaks in logs
    errors = list(getattr(result, "errors", None) or pre_execution_errors or ())
    if isinstance(failure, GraphQLError):
        errors.append(failure)
    codes = sorted(
        {code_of(e) or (TopLevelErrorCode.INTERNAL_SERVER_ERROR.value if not is_expected(e) else "ERROR") for e in errors}
    )
    if failure is not None and not isinstance(failure, GraphQLError):
        codes.append(type(failure).__name__)
    outcome = "ok" if not errors and failure is None else "error"
    seconds = time.perf_counter() - started
    duration_ms = round(seconds * 1000, 2)
    metrics.record_operation(
        metric_name,
        (codes[0] if codes else "error") if outcome == "error" else _data_outcome(result),
        seconds,
        codes,
    )
    request_logger.info(
        "%s %s %s %.2fms %s",
        operation_type or "-",
        operation_name or "-",
        outcome,
        duration_ms,
        ",".join(codes) or "-",
        extra={
            "request_id": request_id,
            "operation_name": operation_name,
            "operation_type": operation_type,
            "duration_ms": duration_ms,
            "outcome": outcome,
            "error_count": len(errors) + (1 if failure is not None and not errors else 0),
            "error_codes": codes,
        },
    )


def _data_outcome(result: Any) -> str:
    """"userErrors" when a top-level field's payload carries user errors, else "ok"."""
    data = getattr(result, "data", None)
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("userErrors"):
                return "userErrors"
    return "ok"


def factory(extension: type[SchemaExtension], **kwargs: Any) -> Callable[[], SchemaExtension]:
    """A zero-argument factory, so each operation gets its own extension instance."""

    def make() -> SchemaExtension:
        return extension(**kwargs)

    make.__name__ = extension.__name__
    return make
