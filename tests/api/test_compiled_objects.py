"""The compiled executor's written-out completions (objects and lists of objects completed
with their type's plan called directly, leaves serialized inline) on a small schema of its
own: every value that graphql-core treats specially (a null where an object must be, an
awaitable object, list or item, an exception, an object of the wrong type, a cast, a
serializer answering None or raising, an Int out of range) gives graphql-core's answer,
errors and paths included; the plain cases are served by the compiled path."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from app.api import compiled
from app.api.execution import AppExecutionContext

SEEN: list[list[Any]] = []


def _stamp(value: datetime) -> str:
    # None for the year 2000: graphql-core's error for a serializer with no answer.
    return None if value.year == 2000 else value.isoformat()  # type: ignore[return-value]


StampValue = NewType("StampValue", datetime)
Stamp = strawberry.scalar(name="Stamp", serialize=_stamp, parse_value=datetime.fromisoformat)


def _day(value: date) -> str:
    return value.isoformat()


DayValue = NewType("DayValue", date)
Day = strawberry.scalar(name="Day", serialize=_day, parse_value=date.fromisoformat)


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):  # an interface: Strawberry gives it an is_type_of (an isinstance check)
    name: str
    at: StampValue | None = None
    day: DayValue | None = None
    big: int | None = None
    ratio: float | None = None


@strawberry.type
class Plain:  # no interface: no is_type_of at all
    name: str


@strawberry.type
class Checked:  # its own is_type_of, which reads its info
    name: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        SEEN.append(info.path.as_list())
        return isinstance(obj, Checked)


@strawberry.type
class Other:
    name: str


class LeafLike:  # what strawberry.cast may present as a Leaf
    def __init__(self, name: str) -> None:
        self.name, self.at, self.day, self.big, self.ratio = name, None, None, None, None


class NamedError(Exception):  # an exception that would pass for a Plain
    name = "error"


class AwaitableLeaf(Leaf):  # a subclass whose instances are awaitable: awaited, as graphql-core does
    def __await__(self):
        return _future(_leaf(f"awaited {self.name}")).__await__()


def _with_await_attribute(leaf: Leaf) -> Leaf:
    # graphql-core's is_awaitable sees an `__await__` in the instance's dict (hasattr) and
    # awaits the object, which `await` refuses (it reads the class): an error, both ways.
    leaf.__dict__["__await__"] = lambda: _future(leaf).__await__()
    return leaf


def _future(value: Any) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


@strawberry.type
class Lazy:  # a type whose own instances are awaitable: graphql-core awaits them
    name: str

    def __await__(self):
        return _future(Lazy(name=f"awaited {self.name}")).__await__()


@strawberry.type
class Edge:
    cursor: str
    node: Leaf
    maybe: Leaf | None = None
    plain: Plain | None = None
    lazy: Lazy | None = None

    @strawberry.field
    def computed(self) -> Leaf:
        return self.node

    @strawberry.field
    def computed_maybe(self, info: strawberry.Info) -> Leaf | None:
        SEEN.append(["computed_maybe", *info._raw_info.path.as_list()])
        return self.maybe

    @strawberry.field
    async def awaited(self, info: strawberry.Info) -> Leaf:
        await asyncio.sleep(0)
        SEEN.append(["awaited", *info._raw_info.path.as_list()])
        return _leaf(f"awaited {self.cursor}")


@strawberry.type
class Holder:
    edges: list[Edge]
    maybe_edges: list[Edge | None] | None = None
    checked: list[Checked] | None = None
    grid: list[list[Leaf]] | None = None
    leaves: list[Leaf] | None = None
    plains: list[Plain] | None = None


def _leaf(name: str, **values: Any) -> Leaf:
    values.setdefault("at", datetime(2026, 12, 1, 17, tzinfo=UTC))
    return Leaf(name=name, **values)


def _holder(case: str) -> Holder:
    edges = [Edge(cursor=str(i), node=_leaf(f"n{i}"), maybe=_leaf(f"m{i}") if i else None) for i in range(3)]
    holder = Holder(
        edges=edges, maybe_edges=[*edges, None], checked=[Checked(name="c")], grid=[[_leaf("g")]], leaves=[_leaf("l")],
        plains=[Plain(name="p")],
    )
    middle = edges[1]
    match case:
        case "plain":
            pass
        case "null node":  # a null in a non-null object field inside a list
            middle.node = None  # type: ignore[assignment]
        case "null item":  # a null in a list of non-null items
            holder.edges = [edges[0], None]  # type: ignore[list-item]
        case "undefined node":
            middle.node = compiled.Undefined  # type: ignore[assignment]
        case "future node":
            middle.node = _future(_leaf("later"))  # type: ignore[assignment]
        case "future null node":
            middle.node = _future(None)  # type: ignore[assignment]
        case "future maybe":
            middle.maybe = _future(None)  # type: ignore[assignment]
        case "future items":
            holder.edges = [edges[0], _future(edges[1]), _future(edges[2])]  # type: ignore[list-item]
        case "future null item":
            holder.edges = [edges[0], _future(None)]  # type: ignore[list-item]
        case "future list":
            holder.edges = _future(edges)  # type: ignore[assignment]
        case "exception node":
            middle.node = ValueError("no node")  # type: ignore[assignment]
        case "exception plain":
            middle.plain = NamedError()  # type: ignore[assignment]
        case "exception plain item":
            holder.plains = [Plain(name="p"), NamedError()]  # type: ignore[list-item]
        case "exception item":
            holder.edges = [edges[0], ValueError("no edge")]  # type: ignore[list-item]
        case "wrong type":  # Leaf's is_type_of says no
            middle.node = Other(name="o")  # type: ignore[assignment]
        case "wrong type in maybe":
            middle.maybe = Other(name="o")  # type: ignore[assignment]
        case "wrong leaf item":
            holder.leaves = [_leaf("l"), Other(name="o")]  # type: ignore[list-item]
        case "wrong cast item":
            holder.leaves = [strawberry.cast(Other, _leaf("x"))]  # type: ignore[list-item]
        case "awaitable subclass node":
            middle.node = AwaitableLeaf(name="sub", at=datetime(2026, 12, 1, tzinfo=UTC))
        case "awaitable subclass item":
            holder.leaves = [_leaf("l"), AwaitableLeaf(name="sub")]
        case "await attribute node":
            middle.node = _with_await_attribute(_leaf("attr"))
        case "await attribute item":
            holder.leaves = [_leaf("l"), _with_await_attribute(_leaf("attr"))]
        case "awaitable type":
            middle.lazy = Lazy(name="z")
        case "cast item":
            holder.leaves = [_leaf("l"), strawberry.cast(Leaf, LeafLike("cast"))]  # type: ignore[list-item]
        case "cast":
            middle.node = strawberry.cast(Leaf, LeafLike("cast"))  # type: ignore[assignment]
        case "wrong cast":
            middle.node = strawberry.cast(Other, _leaf("x"))  # type: ignore[assignment]
        case "wrong plain":  # no is_type_of: graphql-core completes whatever it gets
            middle.plain = Other(name="o")  # type: ignore[assignment]
        case "string list":
            holder.edges = "abc"  # type: ignore[assignment]
        case "wrong checked":
            holder.checked = [Checked(name="c"), Other(name="o")]  # type: ignore[list-item]
        case "null stamp":
            middle.node = _leaf("s", at=datetime(2000, 1, 1, tzinfo=UTC))
        case "naive stamp":
            middle.node = _leaf("s", at=datetime(2026, 1, 1))
        case "string stamp":
            middle.node = _leaf("s", at="2026-01-01")
        case "future stamp":
            middle.node = _leaf("s", at=_future(datetime(2026, 1, 1, tzinfo=UTC)))
        case "day":
            middle.node = _leaf("s", day=date(2026, 1, 2))
        case "datetime day":  # a datetime is a date: not the type written out, the general way
            middle.node = _leaf("s", day=datetime(2026, 1, 2, 3))
        case "big int":
            middle.node = _leaf("s", big=2**40)
        case "int":
            middle.node = _leaf("s", big=7, ratio=0.5)
        case "bool int":
            middle.node = _leaf("s", big=True, ratio=1)
        case "nan":
            middle.node = _leaf("s", ratio=float("nan"))
        case _:
            raise AssertionError(case)
    return holder


@strawberry.type
class Query:
    @strawberry.field
    def holder(self, case: str) -> Holder:
        return _holder(case)


SCHEMA = strawberry.Schema(
    query=Query,
    execution_context_class=AppExecutionContext,
    config=StrawberryConfig(scalar_map={StampValue: Stamp, DayValue: Day}),
)

EDGE = """cursor node { name at day big ratio __typename } maybe { name } plain { name } lazy { name }
  computed { name } computedMaybe { name } awaited { name }"""
DOCUMENT = f"""
query Objects($case: String!) {{
  holder(case: $case) {{
    edges {{ {EDGE} }}
    maybeEdges {{ cursor node {{ name }} maybe {{ name at }} }}
    checked {{ name }}
    grid {{ name }}
    leaves {{ name }}
    plains {{ name }}
  }}
}}
"""

CLEAN = ["plain", "future node", "future maybe", "future items", "future list", "cast", "wrong plain", "day",
         "datetime day", "int", "bool int", "future stamp", "naive stamp", "cast item",
         "awaitable subclass node", "awaitable subclass item", "awaitable type"]
FAILING = ["null node", "null item", "undefined node", "future null node", "future null item", "exception node",
           "exception item", "wrong type", "wrong type in maybe", "wrong cast", "string list", "wrong checked",
           "null stamp", "string stamp", "big int", "nan", "exception plain", "exception plain item",
           "wrong leaf item", "wrong cast item", "await attribute node", "await attribute item"]


async def _execute(document: str, variables: dict) -> tuple[dict, list]:
    SEEN.clear()
    result = await SCHEMA.execute(document, variable_values=variables)
    errors = sorted(json.dumps(e.formatted, sort_keys=True) for e in result.errors or [])
    return {"data": result.data, "errors": errors}, sorted(SEEN, key=repr)


async def _both(document: str, variables: dict) -> tuple[tuple, tuple, bool]:
    before = compiled.STATS["compiled"]
    served = await _execute(document, variables)
    used = compiled.STATS["compiled"] > before
    switch = compiled.compiled_execution_enabled.set(False)
    try:
        standard = await _execute(document, variables)
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    return served, standard, used


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CLEAN + FAILING)
async def test_objects_and_lists_of_objects_answer_as_graphql_core(case):
    (served, served_seen), (standard, standard_seen), used = await _both(DOCUMENT, {"case": case})
    assert served == standard
    assert used is (case in CLEAN)
    assert (standard["errors"] == []) is (case in CLEAN)
    if used:  # (after a fallback, the resolvers have run twice)
        assert served_seen == standard_seen


@pytest.mark.asyncio
async def test_objects_are_completed_by_the_written_out_code():
    # The plain page goes through the generated functions alone: no generic completion.
    calls: list[str] = []
    generic = {name: getattr(compiled.Run, name) for name in ("complete_object", "complete_objects", "settle_value")}

    def spy(name: str) -> Any:
        def method(self: Any, *args: Any) -> Any:
            calls.append(name)
            return generic[name](self, *args)

        return method

    for name in generic:
        setattr(compiled.Run, name, spy(name))
    try:
        served, standard, used = await _both(
            "query($case: String!) { holder(case: $case) { edges { cursor node { name at } computed { name } "
            "computedMaybe { name } maybe { name } } } }",
            {"case": "plain"},
        )
    finally:
        for name, method in generic.items():
            setattr(compiled.Run, name, method)
    assert used and served[0] == standard[0]
    # holder's resolver takes arguments: its object goes the general way, once; nothing else does.
    assert calls == ["settle_value", "complete_object"]
