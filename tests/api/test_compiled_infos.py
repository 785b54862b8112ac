"""The compiled executor's shortcuts on a small schema of its own: a resolver that reads
more of its info than the context gets exactly what graphql-core gives it, and the fields
written out per plan (leaves read straight into the response) answer as graphql-core does,
nulls and wrong values included."""

from __future__ import annotations

import enum

import pytest
import strawberry

from app.api import compiled
from app.api.execution import AppExecutionContext

SEEN: list[dict] = []


def _seen(info: strawberry.Info, tag: str) -> None:
    raw = info._raw_info
    SEEN.append({
        "tag": tag,
        "field_name": info.field_name,
        "path": raw.path.as_list(),
        "nodes": [node.name.value for node in raw.field_nodes],
        "parent": raw.parent_type.name,
        "return_type": str(raw.return_type),
        "variables": dict(info.variable_values),
        "context": info.context["name"],
        "operation": raw.operation.name.value if raw.operation.name else None,
    })


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    flag: bool | None
    count: int
    color: Color | None
    label: str | None = None

    @strawberry.field
    def described(self, info: strawberry.Info) -> str:
        _seen(info, f"described {self.name}")
        return f"{self.name} for {info.context['name']}"

    @strawberry.field
    def context_only(self, info: strawberry.Info) -> str:
        return info.context["name"]

    @strawberry.field
    def no_info(self) -> int:
        return self.count * 2

    @strawberry.field
    async def later(self, info: strawberry.Info) -> str:
        _seen(info, f"later {self.name}")
        return self.name.upper()


def _item_of(root: Holder, info: strawberry.Info) -> Item:
    _seen(info, "inner")
    return Item(name=root.items[0].name + "'", flag=None, count=7, color=None)


@strawberry.type
class Holder:
    items: list[Item]
    item: Item | None

    inner: Item = strawberry.field(resolver=_item_of)


@strawberry.type
class Query:
    @strawberry.field
    def holder(self, info: strawberry.Info) -> Holder:
        _seen(info, "holder")
        items = [
            Item(name="a", flag=True, count=1, color=Color.RED, label="x"),
            Item(name="b", flag=None, count=2, color=None),
        ]
        return Holder(items=items, item=items[0])

    @strawberry.field
    def broken(self) -> Item:
        # A str where a bool belongs, and a None in a non-null leaf: graphql-core's errors.
        return Item(name=None, flag="yes", count=3, color=None)  # type: ignore[arg-type]


SCHEMA = strawberry.Schema(query=Query, execution_context_class=AppExecutionContext)

DOCUMENT = """
query Infos($hide: Boolean = true) {
  holder {
    items { name flag count color label @skip(if: $hide) described contextOnly noInfo later __typename }
    first: item { name described }
    inner { name described inner2: contextOnly }
  }
}
"""


async def _both(document: str, variables: dict | None = None) -> tuple[dict, list, dict, list]:
    before = compiled.STATS.copy()
    SEEN.clear()
    served = await SCHEMA.execute(document, variable_values=variables, context_value={"name": "ann"})
    assert compiled.STATS["compiled"] + compiled.STATS["fallback"] > before["compiled"] + before["fallback"]
    served_seen = list(SEEN)
    SEEN.clear()
    switch = compiled.compiled_execution_enabled.set(False)
    try:
        standard = await SCHEMA.execute(document, variable_values=variables, context_value={"name": "ann"})
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    return _format(served), served_seen, _format(standard), list(SEEN)


def _format(result) -> dict:
    return {"data": result.data, "errors": sorted(str(e) for e in result.errors or [])}


@pytest.mark.asyncio
async def test_resolvers_reading_their_info_see_what_graphql_core_gives_them():
    compiled_before = compiled.STATS["compiled"]
    served, served_seen, standard, standard_seen = await _both(DOCUMENT, {"hide": False})
    assert compiled.STATS["compiled"] == compiled_before + 1  # served by the compiled path
    assert served == standard
    assert sorted(served_seen, key=repr) == sorted(standard_seen, key=repr)
    assert {s["tag"] for s in served_seen} >= {"described a", "later b", "inner", "holder"}
    assert any(s["path"] == ["holder", "items", 1, "described"] for s in served_seen)
    assert all(s["variables"] == {"hide": False} and s["context"] == "ann" for s in served_seen)


@pytest.mark.asyncio
async def test_wrong_leaf_values_fall_back_to_graphql_core_answer():
    for document in ("{ broken { flag } }", "{ broken { name } }", "{ broken { count color } }"):
        served, _, standard, _ = await _both(document)
        assert served == standard, document


def _format_any(result) -> dict:
    if isinstance(result, dict):
        return {"data": result.get("data"), "errors": sorted(str(e.get("message")) for e in result.get("errors") or [])}
    return _format(result)
