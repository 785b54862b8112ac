"""Executing one subscription event once for every subscriber who would get the same answer.

graphql-core runs the selection set of a subscription once per subscriber and event. A
thousand sockets of one host watching one session would each execute the same document
with the same variables over the same event: the same result, computed a thousand times
(about 0.3 ms each here). Subscription resolvers yield `SharedEvent`s instead: one
object per published message and process, carrying a small result cache. The execution
context below looks results up by (operation, variables, viewer) and computes each
distinct one once; every subscriber still gets its own `next` message.

The key holds everything a result may depend on: the document's operation (one object
per distinct text, thanks to the parser cache), the coerced variables and the viewer.
The context's loaders read the database as of the first execution, which is the same
instant for everyone, not a later one.

On a WebSocket, an event is first offered to `deliver`, which skips the per-result path of
graphql-core and Strawberry (the subscription's response stream, a per-event executor,
extension hooks, an ExecutionResult, a message dict and its JSON, per subscriber): it runs
the compiled plan (app.api.compiled) on the event, encodes `{"data": ...}` once per key,
and sends it from the subscriber's own task (so frames keep their order on the socket).
It only answers when that gives the same frame as the standard path: a result with
errors, or a plan that bails, goes the standard way (graphql-core, masking, Strawberry's
error handling), for that key and event.

Distinct viewers usually get the same answer too: a thousand members watching a session
fall into a few classes (registered or not, the host...). An event may say what its
answer can depend on about a viewer (`SharedEvent.viewer_state`, for a simple selection of
fields known to depend on no more): subscribers with equal states then share one
execution and one encoded payload, keyed by that state instead of the viewer. That
execution reads the clock once for all of them: everyone sees the event as of one instant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import orjson
from graphql import FieldNode, OperationType
from graphql.pyutils import is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.api import compiled

# The executor graphql-core built for the subscription running in this task (set as the
# subscribe resolver is called): `deliver` executes events on its copies. Each operation
# runs in a task of its own, with its own copy of the context.
_SUBSCRIPTION: ContextVar[Any] = ContextVar("live_subscription_executor", default=None)
_MISSING = object()


class SharedEvent:
    """A subscription event shared by every local subscriber of one message.

    `prepare(context)` runs before each actual execution (not for subscribers served from
    the cache) and returns the context that execution runs with: the subscriber's, with
    fresh loaders primed with what the message carries.
    """

    __slots__ = ("payloads", "prepare", "results", "value", "viewer_state")

    def __init__(
        self,
        value: Any,
        prepare: Callable[[Any], Any] | None = None,
        viewer_state: Callable[[Any, Any, frozenset[str]], Any] | None = None,
    ) -> None:
        self.value = value
        self.prepare = prepare
        # viewer_state(value, the subscriber's context (not prepared), field names selected on
        # value): what an answer can depend on about the viewer (hashable), or None (see the
        # module docstring). Asked for every subscriber: it must not make a context of its own.
        self.viewer_state = viewer_state
        # key -> graphql-core's result (standard path)
        self.results: dict[tuple, Any] = {}
        # key -> the encoded `next` payload (str), None (take the standard path), or a future of either
        self.payloads: dict[tuple, Any] = {}


class _SharedRun:
    """Stands in for graphql-core's per-event executor: runs it once per key."""

    __slots__ = ("build", "event", "key")

    def __init__(self, build: Callable[[], Any], event: SharedEvent, key: tuple) -> None:
        self.build, self.event, self.key = build, event, key

    def execute_operation(self, *args: Any) -> Any:
        found = self.event.results.get(self.key)
        if found is None:
            executor = self.build()
            if self.event.prepare is not None:
                executor.context_value = self.event.prepare(executor.context_value)
            result = executor.execute_operation(*args)
            # A task, so every subscriber can await the one execution; shielded below, so
            # one subscriber going away does not cancel it for the others.
            found = asyncio.ensure_future(result) if is_awaitable(result) else result
            self.event.results[self.key] = found
        return asyncio.shield(found) if isinstance(found, asyncio.Future) else found


class SharedEventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, executing a `SharedEvent` once per distinct key."""

    _event_key: tuple | None = None
    _per_event = False
    _selected: Any = False  # not looked at yet

    def selected_field_names(self) -> frozenset[str] | None:
        """The names of the fields selected on the subscription field's value, when the
        selection is that simple: one root field, each subfield a plain field without
        arguments, directives, aliases or subselection; else None."""
        if self._selected is False:
            self._selected = _simple_selection(self.operation)
        return self._selected

    def event_key(self, event: SharedEvent) -> tuple:
        """What a result of this subscription on `event` may depend on (see the module docstring)."""
        key = self._event_key
        if key is None:
            viewer = getattr(self.context_value, "viewer", None)
            key = self._event_key = (
                id(self.operation),
                json.dumps(self.variable_values.coerced, sort_keys=True, default=repr),
                getattr(viewer, "id", None),
            )
        # Keep the operation alive with the event, so its id cannot be reused meanwhile.
        event.results.setdefault(("operation", id(self.operation)), self.operation)
        return key

    def build_resolve_info(self, field_def, field_nodes, parent_type, path):  # noqa: ANN001, ANN201
        if path.prev is None and not self._per_event and self.operation.operation is OperationType.SUBSCRIPTION:
            _SUBSCRIPTION.set(self)  # the subscribe resolver is about to run, in the operation's task
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    def build_plain_event_executor(self, value: Any) -> Any:
        executor = super().build_per_event_executor(value)
        executor._per_event = True
        return executor

    def build_per_event_executor(self, payload: Any) -> Any:
        if not isinstance(payload, SharedEvent):
            return self.build_plain_event_executor(payload)
        key = self.event_key(payload)
        return _SharedRun(lambda: self.build_plain_event_executor(payload.value), payload, key)


Sender = Callable[[str], Awaitable[None]]


async def deliver(event: SharedEvent, send: Sender | None) -> bool:
    """Send the calling subscription's answer to `event` as a `next` message with `send`
    (app.api.websocket's `next_sender`), executing and encoding it once per key; True when
    done. False when the standard path must answer (no sender, no compiled plan, the plan
    bailed or the result has errors): the caller then yields the event as usual."""
    executor = _SUBSCRIPTION.get()
    if send is None or executor is None or not compiled.can_compile(executor):
        return False
    key = executor.event_key(event)
    if event.viewer_state is not None:
        names = executor.selected_field_names()
        if names is not None:
            state = event.viewer_state(event.value, executor.context_value, names)
            if state is not None:
                key = (key[0], key[1], "state", state)
    payload = event.payloads.get(key, _MISSING)
    if payload is _MISSING:
        payload = event.payloads[key] = _encoded_result(executor, event)
    if isinstance(payload, asyncio.Future):
        # Shielded: one subscriber going away does not cancel the execution for the others.
        payload = payload.result() if payload.done() else await asyncio.shield(payload)
    if payload is None:
        return False
    await send(payload)
    return True


def _simple_selection(operation: Any) -> frozenset[str] | None:
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or roots[0].directives:
        return None
    selection_set = roots[0].selection_set
    if selection_set is None:
        return None
    names = []
    for node in selection_set.selections:
        if (
            not isinstance(node, FieldNode)
            or node.alias is not None
            or node.arguments
            or node.directives
            or node.selection_set is not None
        ):
            return None
        names.append(node.name.value)
    return frozenset(names)


def _encoded_result(executor: Any, event: SharedEvent) -> Any:
    """`{"data": ...}` as JSON text, None, or a future of either (see `deliver`)."""
    run = executor.build_plain_event_executor(event.value)
    if event.prepare is not None:
        run.context_value = event.prepare(run.context_value)
    try:
        data = compiled.Run(run).fields(compiled.root_plan(run), run.root_value, None)
        if is_awaitable(data):
            return asyncio.ensure_future(_encode_later(run, data))
        return _encode(run, data)
    except Exception:  # noqa: BLE001 - Bail or a resolver's error: graphql-core answers, with its paths
        return None


async def _encode_later(run: Any, data: Any) -> str | None:
    try:
        return _encode(run, await data)
    except Exception:  # noqa: BLE001 - as above
        return None


def _encode(run: Any, data: Any) -> str | None:
    """What Strawberry's `next` payload would be, for a result without errors; raises
    TypeError for what orjson cannot encode (the view's encoder then escapes it)."""
    result = run.finish(run.build_response(data))
    if result.errors:
        return None
    encoded = orjson.dumps({"data": result.data}).decode()
    compiled.STATS["compiled"] += 1
    return encoded
