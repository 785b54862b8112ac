"""The execution context every operation runs in.

graphql-core spends several microseconds on each field: a Path, a resolve info object,
the resolver call, and the completion dispatch. Most fields of a page are plain leaves (a
title, an id, a participant's name), which Strawberry resolves with a bare attribute read
(its "basic field" path). For those, `AppExecutionContext` reads and serializes the value
directly and leaves everything else (resolvers, objects, lists, nulls, errors) to
graphql-core, so results and errors are exactly what the standard path gives.
"""

from __future__ import annotations

import weakref
from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLEnumType, GraphQLScalarType, GraphQLSchema, get_nullable_type
from graphql.pyutils import Undefined
from graphql.type.definition import GraphQLResolveInfoHelpers

from app.api import compiled
from app.api.live_execution import SharedEventExecutionContext

# schema -> {(type name, field name): (read, serialize) or None}
_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Any]] = WeakKeyDictionary()


def _leaf_plan(schema: GraphQLSchema, parent_type: Any, field_name: str) -> Any:
    """(read, serialize) for a basic leaf field without arguments; None for any other."""
    field = parent_type.fields.get(field_name)
    if field is None or field.args:
        return None
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):  # a resolver of ours
        return None
    leaf = get_nullable_type(field.type)
    if not isinstance(leaf, (GraphQLScalarType, GraphQLEnumType)):
        return None
    return resolve, leaf.serialize


def _weak_helpers(executor: Any) -> GraphQLResolveInfoHelpers:
    """The `async_helpers` graphql-core gives each resolve info (`gather`, `track`), calling
    `executor`'s own methods as graphql-core's do, but holding `executor` weakly.

    graphql-core's executor keeps helpers made of its own bound methods: a reference
    cycle (executor -> helpers -> method -> executor). A cycle outlives the operation
    until the garbage collector finds it, and this one holds the operation's context, its
    loaders and every object they made: measured, it was one of the two cycles behind all
    the cyclic garbage of a read request (see `loaders._weakly` for the other). The
    executor is alive whenever its helpers can be called: resolvers run during its
    operation, and a subscription's per-event executors are copies made from it while
    the subscription holds it."""
    ref = weakref.ref(executor)

    def gather(values: Any) -> Any:
        return _alive(ref).gather_async_work(values)

    def track(values: Any) -> None:
        _alive(ref).track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def _alive(ref: weakref.ref) -> Any:
    executor = ref()
    if executor is None:  # a resolver's helper called after its operation ended
        raise RuntimeError("The operation these execution helpers belong to has ended.")
    return executor


class AppExecutionContext(SharedEventExecutionContext):
    """Strawberry's execution context (with shared live-event execution): queries run from a
    compiled plan (app.api.compiled), falling back to graphql-core, whose path reads basic
    leaf fields directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _weak_helpers(self)  # no reference cycle (see `_weak_helpers`)

    def execute_operation(self, serially=None):  # noqa: ANN001, ANN201
        if not compiled.can_compile(self):
            return super().execute_operation(serially)
        # Any exception (Bail, or a resolver's error: graphql-core reports those with their
        # paths) means graphql-core answers the whole operation.
        try:
            data = compiled.Run(self).fields(compiled.root_plan(self), self.root_value, None)
        except Exception:  # noqa: BLE001
            compiled.STATS["fallback"] += 1
            self._fresh_loaders()
            return super().execute_operation(serially)
        if not self.is_awaitable(data):
            compiled.STATS["compiled"] += 1
            return self.finish(self.build_response(data))
        return self._finish_compiled(data, serially)

    def _fresh_loaders(self) -> None:
        """graphql-core's run starts with loaders of its own: on an error it cancels the
        sibling fields' awaitables, DataLoader futures among them, and a future the
        compiled attempt had cached and graphql-core cancelled would fail every later
        field that loads the same key (a CancelledError out of the request)."""
        fresh = getattr(self.context_value, "fresh_loaders", None)
        if fresh is not None:
            fresh()

    async def _finish_compiled(self, data, serially):  # noqa: ANN001, ANN202
        try:
            result = await data
        except Exception:  # noqa: BLE001
            compiled.STATS["fallback"] += 1
            self._fresh_loaders()
            fallback = super().execute_operation(serially)
            return await fallback if self.is_awaitable(fallback) else fallback
        compiled.STATS["compiled"] += 1
        return self.finish(self.build_response(result))

    def execute_field(self, parent_type, source, field_details_list, path, position_context):  # noqa: ANN001
        # With middleware (an extension that resolves fields), every field must go through it.
        manager = self.middleware_manager
        if manager is None or not manager.middlewares:
            node = field_details_list[0].node
            plans = _PLANS.get(self.schema)
            if plans is None:
                plans = _PLANS[self.schema] = {}
            key = (parent_type.name, node.name.value)
            plan = plans.get(key, Undefined)
            if plan is Undefined:
                plan = plans[key] = _leaf_plan(self.schema, parent_type, node.name.value)
            if plan is not None and not node.arguments:
                read, serialize = plan
                try:
                    value = read(source)
                    serialized = None if value is None or self.is_awaitable(value) else serialize(value)
                except Exception:  # noqa: BLE001 - the standard path reports it properly
                    serialized = None
                if serialized is not None and serialized is not Undefined:
                    return serialized
        # Nulls, errors and everything else: graphql-core's own path, for its semantics.
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
