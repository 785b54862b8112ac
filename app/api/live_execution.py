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
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from graphql.pyutils import is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class SharedEvent:
    """A subscription event shared by every local subscriber of one message.

    `prepare(context)` runs before each actual execution (not for subscribers served from
    the cache) and returns the context that execution runs with: the subscriber's, with
    fresh loaders primed with what the message carries.
    """

    __slots__ = ("prepare", "results", "value")

    def __init__(self, value: Any, prepare: Callable[[Any], Any] | None = None) -> None:
        self.value = value
        self.prepare = prepare
        self.results: dict[tuple, Any] = {}


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

    def build_per_event_executor(self, payload: Any) -> Any:
        if not isinstance(payload, SharedEvent):
            return super().build_per_event_executor(payload)
        viewer = getattr(self.context_value, "viewer", None)
        key = (
            id(self.operation),
            json.dumps(self.variable_values.coerced, sort_keys=True, default=repr),
            getattr(viewer, "id", None),
        )
        # Keep the operation alive with its results, so its id cannot be reused meanwhile.
        payload.results.setdefault(("operation", id(self.operation)), self.operation)
        build = super().build_per_event_executor
        return _SharedRun(lambda: build(payload.value), payload, key)
