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


# --- Strawberry's Info as a direct call gives it (one lazy object per call) ------------------

INFO_SEEN: list[dict] = []
RAW_INFOS: dict[str, list] = {"resolver": [], "is_type_of": []}


def _names(selections) -> list:
    return [(getattr(s, "name", None), getattr(s, "alias", None), _names(s.selections)) for s in selections]


def _everything(info: strawberry.Info, tag: str) -> None:
    INFO_SEEN.append({
        "tag": tag,
        "is_info": isinstance(info, strawberry.Info),
        "raw_type": type(info._raw_info),  # the execution's resolve info class (Strawberry's)
        "path": info.path.as_list(),
        "field_name": info.field_name,
        "python_name": info.python_name,
        "return_type": repr(info.return_type),
        "selected": _names(info.selected_fields),
        "selected_again": info.selected_fields is info.selected_fields,  # Info keeps it
        "variables": dict(info.variable_values),
        "operation": info.operation.name.value,
        "root_value": info.root_value,
        "schema": info.schema is INFO_SCHEMA,
        "context": info.context["name"],
        "argument": info.get_argument_definition("nothing"),
    })


@strawberry.type
class Leaf:
    name: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        RAW_INFOS["is_type_of"].append(info)
        return isinstance(obj, cls)


def _leaf_of(root: Branch, info: strawberry.Info) -> Leaf:
    _everything(info, f"leaf of {root.name}")
    RAW_INFOS["resolver"].append(info._raw_info)
    return Leaf(name=root.name + "!")


@strawberry.type
class Branch:
    name: str
    leaf: Leaf = strawberry.field(resolver=_leaf_of)

    @strawberry.field
    def described(self, info: strawberry.Info) -> str:
        _everything(info, f"described {self.name}")
        return self.name


@strawberry.type
class InfoQuery:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return [Branch(name="x"), Branch(name="y")]


INFO_SCHEMA = strawberry.Schema(query=InfoQuery, execution_context_class=AppExecutionContext)

INFO_DOCUMENT = """
query Everything($show: Boolean = false) {
  branches {
    described @include(if: $show)
    other: leaf { name }
    leaf { ... on Leaf { name } }
  }
}
"""


async def _info_run(enabled: bool) -> tuple[dict, list]:
    INFO_SEEN.clear()
    switch = compiled.compiled_execution_enabled.set(enabled)
    try:
        result = await INFO_SCHEMA.execute(INFO_DOCUMENT, variable_values={"show": True}, context_value={"name": "ann"})
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    return _format(result), list(INFO_SEEN)


@pytest.mark.asyncio
async def test_a_resolver_reading_all_of_its_strawberry_info_sees_what_graphql_core_gives():
    compiled_before = compiled.STATS["compiled"]
    served, served_seen = await _info_run(True)
    assert compiled.STATS["compiled"] == compiled_before + 1  # served by the compiled path
    standard, standard_seen = await _info_run(False)
    assert served == standard
    assert served_seen == standard_seen  # the same calls, in the same order, seeing the same
    assert len(served_seen) == 6
    assert all(s["is_info"] and s["raw_type"] is not compiled._LazyInfo for s in served_seen)
    assert served_seen[1]["path"] == ["branches", 0, "other"]
    assert served_seen[1]["selected"] == [("leaf", "other", [("name", None, [])])]


@pytest.mark.asyncio
async def test_a_field_resolver_and_its_value_type_check_share_one_resolve_info():
    # graphql-core builds one resolve info per field execution, for the resolver and the
    # completion of its value (is_type_of here): the compiled path's lazy one is kept.
    for key in RAW_INFOS:
        RAW_INFOS[key].clear()
    compiled_before = compiled.STATS["compiled"]
    served, _ = await _info_run(True)
    assert compiled.STATS["compiled"] == compiled_before + 1
    resolver, checked = RAW_INFOS["resolver"], RAW_INFOS["is_type_of"]
    assert len(resolver) == len(checked) == 4
    assert all(a is b for a, b in zip(resolver, checked))
    assert [i.path.as_list() for i in checked] == [
        ["branches", 0, "other"], ["branches", 0, "leaf"], ["branches", 1, "other"], ["branches", 1, "leaf"]
    ]
