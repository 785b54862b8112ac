"""Resolvers with arguments called directly by the compiled executor (app.api.compiled) get
exactly what Strawberry's own wrapper would give them: Python names, enums, defaults (the
GraphQL ones and the resolver's own when an argument is left out), UNSET, IDs, lists (a
copy of their own), nulls from variables; and resolvers whose arguments or field Strawberry
must handle itself (input objects, permissions) still go through Strawberry."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema import schema_converter

from app.api import compiled
from app.api.execution import AppExecutionContext

SEEN: list[tuple] = []


def _seen(tag: str, source: Any, info: strawberry.Info | None, **arguments: Any) -> None:
    SEEN.append(
        (
            tag,
            getattr(source, "name", None),
            info.field_name if info is not None else None,
            info.path.as_list() if info is not None else None,
            # The value, its type, and whether it is UNSET itself (not a copy or a None).
            sorted(
                (name, repr(value), type(value).__name__, value is strawberry.UNSET)
                for name, value in arguments.items()
            ),
        )
    )


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Box:
    size: int
    color: Color = Color.RED


class Allowed(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        _seen("permission", source, info, **kwargs)
        return True


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def echo(
        self,
        info: strawberry.Info,
        n: int = 5,
        color: Color = Color.RED,
        other_color: Color | None = None,
        text: str | None = strawberry.UNSET,
        ident: strawberry.ID | None = None,
        flag: bool | None = None,
        ids: list[strawberry.ID] | None = None,
        ratio: float | None = None,
    ) -> str:
        _seen(
            "echo",
            self,
            info,
            n=n,
            color=color,
            other_color=other_color,
            text=text,
            ident=ident,
            flag=flag,
            ids=ids,
            ratio=ratio,
        )
        if ids is not None:
            ids.append("changed")  # each call has a list of its own: the next must not see this
        return f"{self.name}:{n}:{color.value}"

    @strawberry.field
    async def later(self, n: int, word: str | None = None) -> str:
        _seen("later", self, None, n=n, word=word)
        return f"{self.name}{n}{word}"

    @strawberry.field(permission_classes=[Allowed])
    def guarded(self, info: strawberry.Info, n: int = 1) -> int:
        _seen("guarded", self, info, n=n)
        return n * 2

    @strawberry.field
    def boxed(self, info: strawberry.Info, box: Box | None = None) -> int:
        _seen("boxed", self, info, box=box)
        return box.size if box is not None else -1


def _item(root: Any, info: strawberry.Info, name: str, suffix: str = "") -> Item:
    _seen("item", None, info, name=name, suffix=suffix, root_is_none=root is None)
    return Item(name=name + suffix)


@strawberry.type
class Query:
    item: Item = strawberry.field(resolver=_item)

    @strawberry.field
    def items(self, first: int | None = None) -> list[Item]:
        _seen("items", None, None, first=first)
        return [Item(name=name) for name in "abc"[: first if first is not None else 3]]


SCHEMA = strawberry.Schema(query=Query, execution_context_class=AppExecutionContext)

DOCUMENT = """
query Arguments(
  $n: Int = 3, $color: Color, $other: Color, $ident: ID, $text: String, $flag: Boolean, $first: Int, $ids: [ID!]
) {
  items(first: $first) {
    name
    plain: echo
    literal: echo(n: 7, color: BLUE, otherColor: RED, ident: "x1", flag: true, ids: ["a", "b"], ratio: 1.5, text: "t")
    nulls: echo(otherColor: null, ident: null, flag: null, ids: null, text: null, ratio: null)
    fromVariables: echo(n: $n, color: $color, otherColor: $other, ident: $ident, text: $text, flag: $flag, ids: $ids)
    later(n: 2)
    laterWord: later(n: $n, word: $text)
    guarded(n: 4)
    boxed(box: {size: 3})
    noBox: boxed
  }
  item(name: "z", suffix: "!") { name echo(n: 1) }
}
"""


async def _both(document: str, variables: dict | None, monkeypatch) -> tuple[dict, list, dict, list, dict]:
    """(compiled answer, what resolvers saw, graphql-core's answer, what they saw there, the
    tags of the resolvers whose arguments Strawberry converted, by executor)."""
    converted: dict[str, list[str]] = {"compiled": [], "standard": []}
    which = ["compiled"]
    convert_arguments = schema_converter.convert_arguments

    def counted(value: dict, arguments: list, *args: Any, **kwargs: Any) -> dict:
        converted[which[0]].append(sorted(value))
        return convert_arguments(value, arguments, *args, **kwargs)

    monkeypatch.setattr(schema_converter, "convert_arguments", counted)
    before = compiled.STATS["compiled"]
    SEEN.clear()
    served = await SCHEMA.execute(document, variable_values=variables)
    assert compiled.STATS["compiled"] == before + 1  # served by the compiled path
    served_seen = sorted(SEEN, key=repr)
    SEEN.clear()
    which[0] = "standard"
    switch = compiled.compiled_execution_enabled.set(False)
    try:
        standard = await SCHEMA.execute(document, variable_values=variables)
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    return _format(served), served_seen, _format(standard), sorted(SEEN, key=repr), converted


def _format(result) -> dict:
    return {"data": result.data, "errors": sorted(str(e) for e in result.errors or [])}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "variables",
    [
        {},  # every variable absent: the argument is left out (its default applies), $n's own default
        {
            "n": 9,
            "color": "BLUE",
            "other": "RED",
            "ident": "7",
            "text": "hello",
            "flag": False,
            "first": 2,
            "ids": ["p"],
        },
        # null for every nullable argument (n and color are non-null, with defaults)
        {"other": None, "ident": None, "text": None, "flag": None, "first": None, "ids": None},
    ],
)
async def test_resolvers_with_arguments_get_what_strawberry_gives_them(monkeypatch, variables):
    # Twice: the second execution runs the plan kept from the first (literal arguments kept).
    for _ in range(2):
        served, served_seen, standard, standard_seen, converted = await _both(DOCUMENT, variables, monkeypatch)
        assert served == standard
        assert not served["errors"]
        assert served_seen == standard_seen
        assert {entry[0] for entry in served_seen} == {
            "items",
            "item",
            "echo",
            "later",
            "guarded",
            "boxed",
            "permission",
        }
        # Strawberry converted only the arguments of the fields it handles itself: the
        # permission-checked field and the one with an input object (`box` is null by default).
        assert sorted(converted["compiled"]) == sorted([["n"], ["box"], ["box"]] * len(served["data"]["items"]))
        assert len(converted["standard"]) > len(converted["compiled"])


@pytest.mark.asyncio
async def test_a_null_for_a_non_null_argument_is_graphql_core_error(monkeypatch):
    document = "query Later($n: Int = 3) { items { later(n: $n) } }"
    for _ in range(2):
        served, standard = await _both_any(document, {"n": None})
        assert served == standard
        assert served["errors"]


async def _both_any(document: str, variables: dict) -> tuple[dict, dict]:
    """The answers of both executors to a document the compiled path may hand to
    graphql-core (which then runs the resolvers again: what they saw is not compared)."""
    served = await SCHEMA.execute(document, variable_values=variables)
    switch = compiled.compiled_execution_enabled.set(False)
    try:
        standard = await SCHEMA.execute(document, variable_values=variables)
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    return _format(served), _format(standard)


def test_which_resolvers_are_called_directly():
    fields = SCHEMA._schema.type_map["Item"].fields
    query_fields = SCHEMA._schema.query_type.fields
    direct = {
        name: compiled._direct_call(field, field.resolve, SCHEMA._schema) is not None
        for name, field in {**fields, **query_fields}.items()
        if name != "name"
    }
    assert direct == {"echo": True, "later": True, "guarded": False, "boxed": False, "item": True, "items": True}
