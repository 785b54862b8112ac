"""Compiled execution of queries: graphql-core's answer, with less work per field.

For each validated document and operation, the fields to execute on each object type are
collected once (fragments flattened, `@skip`/`@include` resolved, each field resolved to its
definition, its resolver and its completion) and kept with the document (documents are
shared between identical requests by the parser cache). Each object type's part of the plan
is also written out as a Python function (`_generate`), so executing the plan builds the
response directly: fields Strawberry reads as plain attributes are read without a resolve
info or a path, an object or a list of objects of one type is completed by a direct call
of that type's function (made with the parent's), resolvers get what graphql-core would
give them (a Strawberry Info whose resolve info is built on first use, `_LazyInfo`),
and loaders batch as before, because sibling fields and list items are started before any
is awaited, as in graphql-core.

The plan covers the common case only, and is exact by construction: anything it does not
handle the same way (an error or a null in a non-null field, introspection, `@defer`,
mutations, field middleware, an abstract type whose runtime type must be
awaited) makes the whole operation run again through graphql-core (`Bail`), which then
gives the standard answer with its errors and paths. Queries have no side effects, and the
loaders keep what the first attempt loaded, so a rerun repeats no statement it already ran.
tests/api/test_compiled_execution.py runs documents through both executors and requires
identical responses.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from inspect import CORO_CREATED, getcoroutinestate, signature
from keyword import iskeyword
from operator import attrgetter
from types import CoroutineType, GeneratorType
from typing import Any, get_type_hints
from uuid import UUID

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationType,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, OperationDefinitionNode, visit
from graphql.language.visitor import Visitor
from graphql.pyutils import Path, Undefined
from graphql.type.scalars import serialize_boolean, serialize_float, serialize_id, serialize_int, serialize_string
from strawberry.relay.types import GlobalID
from strawberry.types.arguments import _is_leaf_type, _is_optional_leaf_type
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE, get_strawberry_type_cast
from strawberry.types.enum import has_enum_definition
from strawberry.types.info import Info
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

from app.api.variables import add_variable_names

# Tests switch compiled execution off to get graphql-core's own answer for comparison.
compiled_execution_enabled: ContextVar[bool] = ContextVar("compiled_execution_enabled", default=True)


# Operations answered by the compiled path, and those that fell back to graphql-core (for
# tests and metrics; plain ints, updated from the event loop only).
STATS = {"compiled": 0, "fallback": 0}


class Bail(Exception):  # noqa: N818 - a signal, not an error
    """The compiled path cannot give graphql-core's answer: run the operation there."""


class FieldPlan:
    """One response key of a selection on one object type."""

    __slots__ = (
        "key", "name", "field_def", "details", "nodes", "resolve", "basic", "has_args", "leaf",
        "return_type", "subplans", "typename", "direct", "read", "coerce", "non_null", "attr", "same_type",
        "object_type", "literal_arguments", "arguments", "strawberry_field",
    )

    def __init__(self, key: str, details: list[FieldDetails], parent_type: GraphQLObjectType, schema: GraphQLSchema):
        node = details[0].node
        self.key = key
        self.name = node.name.value
        self.details = details
        self.nodes = [d.node for d in details]
        self.typename = self.name == "__typename"
        self.subplans: dict[str, ObjectPlan] = {}
        self.direct = self.read = self.coerce = self.attr = self.same_type = self.object_type = None
        self.non_null = False
        self.literal_arguments = False
        self.arguments: dict[str, Any] | None = None
        self.strawberry_field = None
        if self.typename:
            self.field_def = None
            self.resolve = None
            self.basic = self.has_args = False
            self.leaf = True
            self.return_type = None
            return
        if self.name.startswith("__"):  # __schema, __type: introspection is rare, leave it
            raise Bail
        if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
            raise Bail
        field_def: GraphQLField | None = parent_type.fields.get(self.name)
        if field_def is None:
            raise Bail
        self.field_def = field_def
        self.strawberry_field = (field_def.extensions or {}).get("strawberry-definition")
        resolve = field_def.resolve
        if resolve is None:  # graphql-core's default resolver: not a Strawberry field
            raise Bail
        self.resolve = resolve
        self.has_args = bool(field_def.args or node.arguments)
        # Strawberry's "basic field" resolver reads the attribute and takes no info.
        self.basic = bool(getattr(resolve, "_is_default", False)) and resolve.__name__ == "_get_basic_result"
        self.return_type = field_def.type
        self.non_null = is_non_null_type(field_def.type)
        inner = field_def.type.of_type if self.non_null else field_def.type
        self.leaf = is_leaf_type(inner)
        if is_object_type(inner):
            self.object_type = inner
        if self.leaf:
            self.coerce = inner.coerce_output_value
            # Values of this Python type come out of the coercion unchanged (graphql-core's
            # String and ID give back a str, Boolean a bool): the generated code stores them as is.
            if self.coerce in (serialize_string, serialize_id):
                self.same_type = str
            elif self.coerce is serialize_boolean:
                self.same_type = bool
        if self.basic:
            self.read = _attribute_read(field_def, resolve, schema)
            if isinstance(self.read, attrgetter):
                name = (field_def.extensions or {})["strawberry-definition"].python_name
                if name.isidentifier() and not iskeyword(name):
                    self.attr = name
        else:
            self.direct = _direct_call(field_def, resolve, schema)
        if self.has_args:
            # The argument values of a field whose arguments read no variable are the same in
            # every execution of the plan (`Run.arguments_of` keeps them).
            read: set[str] = set()
            for argument in node.arguments or ():
                add_variable_names(argument, read)
            self.literal_arguments = not read


def _attribute_read(field_def: GraphQLField, resolve: Any, schema: GraphQLSchema) -> Any:
    """For a Strawberry basic field: a function source -> what its resolver returns (the
    attribute, read by the schema's default resolver, Python's getattr unless configured
    otherwise), without the two calls Strawberry's wrapper makes per field."""
    field = (field_def.extensions or {}).get("strawberry-definition")
    if field is None or field.base_resolver is not None or field.extensions:
        return resolve
    name = field.python_name
    default_resolver = field.default_resolver
    if default_resolver is getattr and isinstance(name, str):
        return attrgetter(name)
    return lambda source: default_resolver(source, name)


def _direct_call(field_def: GraphQLField, resolve: Any, schema: GraphQLSchema) -> Any:
    """For a Strawberry resolver without field extensions (permissions) or exception
    handlers, whose arguments Strawberry passes on as graphql-core coerced them (see
    `_argument_conversion`): a function (source, resolve info) -> what Strawberry's wrapper
    would return, or (source, resolve info, argument values) for a resolver with arguments
    (the values graphql-core's `get_argument_values` gives, converted by the function's
    `convert`, which is None for a resolver without arguments), calling the resolver as
    that wrapper does (the source as `self`, `root` or `parent`, Strawberry's Info as
    `info`, the arguments by their Python names) without re-deriving all that on every
    call. None for anything else (it goes through Strawberry's wrapper)."""
    field = (field_def.extensions or {}).get("strawberry-definition")
    resolver = getattr(field, "base_resolver", None)
    if resolver is None or field.extensions:
        return None
    # Strawberry's wrapper is `_resolver` or `_async_resolver`; it holds the field's
    # exception handlers (empty unless the schema declares some for this field's type).
    cells = dict(zip(resolve.__code__.co_freevars, resolve.__closure__ or ()))
    handlers = cells.get("field_exception_handlers")
    if resolve.__name__ not in ("_resolver", "_async_resolver") or handlers is None or handlers.cell_contents:
        return None
    function = resolver.wrapped_func
    if not callable(function):
        return None
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    info_class = strawberry_schema.config.info_class if strawberry_schema is not None else None
    # The resolver gets a `_LazyInfo`, which is a Strawberry Info: a schema configured with
    # an Info class of its own keeps Strawberry's wrapper.
    if info_class is not Info:
        return None
    by_self = resolver.self_parameter is not None
    source_names = tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None)
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    reserved = {*source_names, info_name or "info"}
    if not all(name.isidentifier() and not iskeyword(name) for name in reserved):
        return None
    convert = None
    if field.arguments:
        convert = _arguments_conversion(field, strawberry_schema)
        # Strawberry sets `root`, `parent` and `info` after the arguments, over any argument
        # of the same name: declined rather than reproduced.
        if convert is None or reserved.intersection(convert.python_names):
            return None
    # The call written out (`function(source, root=source, info=info, **arguments)`, `info`
    # a `_LazyInfo`): no keyword dict to build and unpack per call for the source and the
    # info. The generated plans write the same call inline for a resolver without
    # arguments (`call.function`, `call.arguments`).
    arguments = ["source"] if by_self else []
    arguments += [f"{name}=source" for name in source_names]
    if info_name is not None:
        arguments.append(f"{info_name}=info")
    plain_arguments = ", ".join(arguments)
    parameters = "source, info"
    if convert is not None:
        arguments.append("**arguments")
        parameters += ", arguments"
    names = {"function": function}
    text = f"def call({parameters}):\n    return function({', '.join(arguments)})\n"
    exec(compile(text, f"<direct call of {field.python_name}>", "exec"), names)  # noqa: S102
    call = names["call"]
    call.takes_info = info_name is not None
    call.convert = convert
    call.function = function
    call.arguments = plain_arguments
    return call


# How Strawberry's `convert_argument` treats a value of an argument's type, when it is one
# of the two cheap cases: given back as is (scalars other than GlobalID, enums, and
# Optional of those: graphql-core already made the Python value) or copied into a new
# list (a list of those: graphql-core may give every request the same default list).
_AS_IS, _LIST_COPY = "as is", "list copy"


def _argument_conversion(type_: Any, scalar_registry: Any) -> str | None:
    """_AS_IS or _LIST_COPY for what `convert_argument` does with values of `type_`, taking
    its branches in its order; None for anything else (input objects, GlobalID, Maybe,
    lists of those), whose conversion is left to Strawberry's wrapper."""
    if isinstance(type_, StrawberryMaybe):  # wrapped in Some(...)
        return None
    if isinstance(type_, StrawberryOptional):  # None, then as the inner type
        return _argument_conversion(type_.of_type, scalar_registry)
    # (convert_argument gives None and UNSET back as they are from here on.)
    if isinstance(type_, StrawberryList):
        item = type_.of_type
        skip = (GlobalID,)
        if _is_leaf_type(item, scalar_registry, skip_classes=skip) or _is_optional_leaf_type(
            item, scalar_registry, skip_classes=skip
        ):
            return _LIST_COPY
        return None
    if _is_leaf_type(type_, scalar_registry):
        return None if type_ is GlobalID else _AS_IS
    if isinstance(type_, LazyType):
        return _argument_conversion(type_.resolve_type(), scalar_registry)
    if has_enum_definition(type_):
        return _argument_conversion(type_.__strawberry_definition__, scalar_registry)
    return None


def _arguments_conversion(field: Any, strawberry_schema: Any) -> Any:
    """A function (argument values as graphql-core gives them) -> the keyword arguments
    Strawberry's `convert_arguments` would make of them (for the field's resolver: Python
    names, values converted), when every argument's conversion is one of
    `_argument_conversion`'s; None otherwise. Its `python_names` are the names it may give."""
    converter = strawberry_schema.schema_converter
    scalar_registry, name_converter = converter.scalar_registry, converter.config.name_converter
    specs = []
    for argument in field.arguments:
        how = _argument_conversion(argument.type, scalar_registry)
        if how is None or not argument.python_name:
            return None
        specs.append((name_converter.from_argument(argument), argument.python_name, how is _LIST_COPY))
    specs_tuple = tuple(specs)

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        # An argument graphql-core left out (absent, no default) is left out here too:
        # the resolver's own default applies, as with Strawberry.
        arguments = {}
        for name, python_name, copy in specs_tuple:
            if name in values:
                value = values[name]
                if copy and value is not None and value is not UNSET:
                    value = list(value)
                arguments[python_name] = value
        return arguments

    convert.python_names = frozenset(spec[1] for spec in specs_tuple)
    return convert


# Values that no resolver can change: the converted arguments of a field whose arguments
# are literals (the same in every execution of the plan) are kept with the plan when all
# are of these types (each call unpacks them into a dict of its own).
_IMMUTABLE = frozenset({str, int, float, bool, bytes, type(None), date, datetime, time, timedelta, Decimal, UUID})


def _immutable(arguments: dict[str, Any]) -> bool:
    return all(type(value) in _IMMUTABLE or isinstance(value, Enum) for value in arguments.values())


def _path(prev: Path | None, key: str | int, typename: str | None) -> Path:
    """Path(prev, key, typename), without the Python-level __new__ of a NamedTuple."""
    return _tuple_new(Path, (prev, key, typename))


_tuple_new = tuple.__new__


class _LazyInfo(Info):
    """Strawberry's Info for one direct call of a resolver (`_direct_call`), built without
    graphql-core's resolve info: `context`, what nearly every resolver reads (and all most
    of them read), is answered directly; `_raw_info`, the `GraphQLResolveInfo` graphql-
    core would have passed, is built when first read (by any of Info's properties that
    need it, or by the completion of the field's value, `Run.info_of`), then kept: one per
    field execution, as in graphql-core. `_field` is the field's Strawberry definition, as
    Strawberry's wrapper gives it. One object per call instead of Strawberry's Info and a
    raw info of its own."""

    # Slots for what every call sets (no instance dict until something else is stored,
    # such as `selected_fields`, which Info keeps as a cached_property); `context` and
    # `_raw_info` shadow Info's property and dataclass field.
    __slots__ = ("context", "_field", "_raw_info", "_executor", "_plan", "_parent_type", "_path")

    def __init__(self, executor: Any, field: FieldPlan, parent_type: Any, path: Path) -> None:
        self.context = executor.context_value
        self._field = field.strawberry_field
        self._executor = executor
        self._plan = field
        self._parent_type = parent_type
        self._path = path

    def __getattr__(self, name: str) -> Any:  # only when a slot is unset: `_raw_info`'s first read
        if name != "_raw_info":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        field = self._plan
        raw = self._raw_info = self._executor.build_resolve_info(field.field_def, field.nodes, self._parent_type, self._path)
        return raw


class ObjectPlan:
    """The fields to execute on one object type for one selection."""

    __slots__ = ("type", "fields", "is_type_of", "info_free", "run", "instance_of", "cast_types", "where")

    def __init__(self, object_type: GraphQLObjectType, fields: list[FieldPlan], where: str = ""):
        self.type = object_type
        self.where = where  # the response key it is planned for, in the name of its function
        self.fields = fields
        self.is_type_of = object_type.is_type_of
        self.info_free = _reads_no_info(self.is_type_of)
        self.instance_of, self.cast_types = _is_type_of_test(self.is_type_of) if self.info_free else (None, None)
        self.run = _generate(self)


_CAST_ATTRIBUTE = TYPE_CAST_ATTRIBUTE  # where strawberry.cast marks an object


def _is_type_of_test(is_type_of: Any) -> tuple[Any, Any]:
    """For Strawberry's generated is_type_of of a non-generic type: (the classes it checks
    with isinstance, the types an object cast with strawberry.cast may name), so that the
    check runs inline, exactly as it does: a cast object passes when its cast is one of
    the latter, any other when it is an instance of the former. (None, None) otherwise."""
    cells = dict(zip(is_type_of.__code__.co_freevars, is_type_of.__closure__ or ()))
    try:
        definition = cells["object_type"].cell_contents
        possible_types = cells["possible_types"].cell_contents
        cast_types = cells["possible_cast_types"].cell_contents
    except (KeyError, ValueError):
        return None, None
    # A generic type's check has a third case; and the cast must be read as below.
    if getattr(definition, "concrete_of", True) or is_type_of.__globals__.get("get_strawberry_type_cast") is not get_strawberry_type_cast:
        return None, None
    return possible_types, cast_types


def _generate(plan: ObjectPlan) -> Any:
    """A function (run, source, path) -> the response object for `source` (or an awaitable of
    it), written for this plan's fields: what `Run.basic_value` and `Run.resolved` would do,
    with the commonest cases written out (`_FieldWriter`): a leaf read straight into the
    response when its value is None or of the Python type its scalar gives back unchanged
    (or, for a scalar that serializes a known Python type, that value serialized); an
    object, or a list of objects, completed with its type's plan called directly. Anything
    else goes through those methods."""
    names: dict[str, Any] = {
        "Bail": Bail, "_settle": _settle, "_discard": _discard, "_path": _path, "OT": plan.type, "TN": plan.type.name,
        "BaseException": BaseException, "Exception": Exception, "Undefined": Undefined, "Path": Path,
        "_tuple_new": _tuple_new, "_LazyInfo": _LazyInfo, "CA": _CAST_ATTRIBUTE,
    }
    body: list[str] = []
    awaits = False
    for i, field in enumerate(plan.fields):
        writer = _FieldWriter(plan, field, i, names)
        body += writer.lines()
        awaits = awaits or writer.awaits
    lines = ["def run_fields(run, source, path):", "    results = {}", "    pending = []"]
    if awaits:
        lines.append("    is_awaitable = run.is_awaitable")
    lines += ["    try:", *(body or ["        pass"])]
    lines += [
        "    except BaseException:",
        "        _discard([results[k] for k in pending])",
        "        raise",
        "    if pending:",
        "        return _settle(results, pending)",
        "    return results",
    ]
    source = "\n".join(lines)
    # Named by the type and the key (a profile keeps one row per name).
    label = f"{plan.type.name} at {plan.where}" if plan.where else plan.type.name
    exec(compile(source, f"<compiled plan of {label}>", "exec"), names)  # noqa: S102 - our own text
    return names["run_fields"]


# Python types whose instances a scalar's serializer may be given inline, without the
# checks `Run.basic_value` makes first: never awaitable, never an exception, and without
# an instance dict (no instance can grow an `__await__`). Which one a scalar takes is read
# from its serializer's annotation. Exactness does not rest on the annotation: only a value
# of exactly that type skips the checks, and the serializer's answer is checked as
# `Run.basic_value` checks it (None is graphql-core's error: bail).
_PLAIN_TYPES = frozenset({int, float, datetime, date, time})
_GRAPHQL_SERIALIZED = {serialize_int: int, serialize_float: float}


def _serialized_type(coerce: Any) -> type | None:
    """The plain Python type `coerce` (a scalar's serializer) takes, or None."""
    known = _GRAPHQL_SERIALIZED.get(coerce)
    if known is not None:
        return known
    try:
        hints = get_type_hints(coerce)
        parameter = next(iter(signature(coerce).parameters))
    except Exception:  # noqa: BLE001 - anything unreadable: the general way
        return None
    taken = hints.get(parameter)
    return taken if taken in _PLAIN_TYPES else None


def _object_target(field: FieldPlan) -> tuple[Any, bool, Any] | None:
    """For a field of an object type, or of a list of one object type: (the object type,
    whether the field is a list, the type of the list's items). None for anything else
    (leaves, abstract types, lists of lists)."""
    if field.object_type is not None:
        return field.object_type, False, None
    if field.typename or field.leaf:
        return None
    inner = field.return_type.of_type if field.non_null else field.return_type
    if not is_list_type(inner):
        return None
    item_type = inner.of_type
    object_type = item_type.of_type if is_non_null_type(item_type) else item_type
    return (object_type, True, item_type) if is_object_type(object_type) else None


def _inline_subplan(field: FieldPlan, object_type: Any) -> ObjectPlan | None:
    """The plan a field's object values are completed with, when the check of their type
    can be written out (Strawberry's is_type_of, or none)."""
    subplan = field.subplans.get(object_type.name)
    if subplan is None or (subplan.instance_of is None and subplan.is_type_of is not None):
        return None
    return subplan


class _FieldWriter:
    """The lines of a plan's function that put one field into `results` (inside its try)."""

    def __init__(self, plan: ObjectPlan, field: FieldPlan, i: int, names: dict[str, Any]) -> None:
        self.plan, self.field, self.i, self.names = plan, field, i, names
        self.awaits = False  # whether the lines use `is_awaitable`
        names[f"K{i}"] = field.key
        names[f"F{i}"] = field

    def lines(self) -> list[str]:
        field, i = self.field, self.i
        if field.typename:
            self.names[f"T{i}"] = self.plan.type.name
            return [f"        results[K{i}] = T{i}"]
        # A direct call takes no arguments of the query (the resolver has none).
        direct = field.direct if not field.has_args else None
        if not ((field.basic and not field.has_args) or direct is not None):
            return [f"        run.resolved(F{i}, OT, source, path, results, pending)"]
        lines = self.read(direct)
        target = _object_target(field)
        subplan = _inline_subplan(field, target[0]) if target is not None else None
        if field.leaf:
            lines += self.leaf(direct)
        elif subplan is not None:
            lines += self.object(direct, subplan, target[1], target[2])
        elif direct is not None:
            lines.append(f"        run.settle_value(F{i}, OT, value, {self.field_path(direct)}, {self.info(direct)}, results, pending)")
        else:  # Run.basic_value's way for a value that is not a leaf's
            lines.append(f"        run.settle_value(F{i}, OT, value, _path(path, K{i}, TN), None, results, pending)")
        return lines

    def field_path(self, direct: Any) -> str:
        """The field's path: a name bound before the call when its resolver takes the info."""
        if direct is not None and direct.takes_info:
            return "field_path"
        return f"_tuple_new(Path, (path, K{self.i}, TN))"

    def info(self, direct: Any) -> str:
        """What `Run.resolved` gives the completion as the field's info."""
        return "info" if direct is not None and direct.takes_info else "None"

    def read(self, direct: Any) -> list[str]:
        """The lines that put the field's value in `value`."""
        field, i = self.field, self.i
        if direct is not None:  # Run.resolved's call, written out (the direct call's own, inline)
            self.names[f"D{i}"] = direct.function
            if not direct.takes_info:
                return [f"        value = D{i}({direct.arguments})"]
            return [
                f"        field_path = _tuple_new(Path, (path, K{i}, TN))",
                f"        info = _LazyInfo(run.executor, F{i}, OT, field_path)",
                f"        value = D{i}({direct.arguments})",
            ]
        if field.attr is not None:
            return [f"        value = source.{field.attr}"]
        self.names[f"R{i}"] = field.read
        return [f"        value = R{i}(source)"]

    def leaf(self, direct: Any) -> list[str]:
        field, i = self.field, self.i
        lines = []
        if field.same_type is not None:
            self.names[f"S{i}"] = field.same_type
            lines += [f"        if type(value) is S{i}:", f"            results[K{i}] = value"]
        else:
            serialized = _serialized_type(field.coerce)
            if serialized is not None:  # what Run.basic_value does with a plain value
                self.names[f"P{i}"] = serialized
                self.names[f"C{i}"] = field.coerce
                lines += [
                    f"        if type(value) is P{i}:",
                    f"            value = C{i}(value)",
                    "            if value is None or value is Undefined:",
                    "                raise Bail",
                    f"            results[K{i}] = value",
                ]
        lines.append("        elif value is None:" if lines else "        if value is None:")
        lines.append("            raise Bail" if field.non_null else f"            results[K{i}] = None")
        lines.append("        else:")
        if direct is not None:
            lines.append(f"            run.settle_value(F{i}, OT, value, {self.field_path(direct)}, {self.info(direct)}, results, pending)")
        else:
            lines.append(f"            run.basic_value(F{i}, OT, value, path, results, pending)")
        return lines

    def object(self, direct: Any, subplan: ObjectPlan, is_list: bool, item_type: Any) -> list[str]:
        """What `Run.settle_value` does with an object, or a list of objects, of one type."""
        field, i = self.field, self.i
        self.awaits = True
        path, info = self.field_path(direct), self.info(direct)
        # A list is awaitable for neither graphql-core nor Strawberry; an object of the
        # type's plain class is tested without a call (`_awaitable_test`).
        awaitable = "type(value) is not list and is_awaitable(value)" if is_list else _awaitable_test(subplan.type, "value", f"E{i}", self.names)
        lines = [
            "        if value is None or value is Undefined:",
            "            raise Bail" if field.non_null else f"            results[K{i}] = None",
        ]
        checked = None if is_list else _checked_class(subplan)
        if checked is not None:  # the commonest value: no check to make (`_checked_class`)
            self.names[f"X{i}"] = checked
            self.names[f"N{i}"] = subplan.run
            lines += [
                f"        elif type(value) is X{i} and '__await__' not in (d := value.__dict__) and CA not in d:",
                f"            value = N{i}(run, value, {path})",
                f"            results[K{i}] = value",
                "            if type(value) is not dict:",
                f"                pending.append(K{i})",
            ]
        lines += [
            f"        elif {awaitable}:",
            f"            results[K{i}] = run.later(F{i}, OT, value, {path}, {info})",
            f"            pending.append(K{i})",
            "        else:",
            "            if isinstance(value, Exception):",
            "                raise Bail",
        ]
        if is_list:
            self.names[f"L{i}"] = _list_function(self.plan, field, subplan, item_type)
            lines += [f"            value = L{i}(run, value, {path}, {info})", f"            results[K{i}] = value"]
            lines += ["            if type(value) is not list:", f"                pending.append(K{i})"]
            return lines
        lines += _type_check(subplan, "value", f"I{i}", f"CT{i}", self.names, "            ")
        self.names[f"N{i}"] = subplan.run
        lines += [
            f"            value = N{i}(run, value, {path})",
            f"            results[K{i}] = value",
            "            if type(value) is not dict:  # what a plan's function gives: a dict or a coroutine",
            f"                pending.append(K{i})",
        ]
        return lines


def _type_check(subplan: ObjectPlan, value: str, instance_name: str, casts_name: str, names: dict, indent: str) -> list[str]:
    """`Run.check_type` for a plan whose type's is_type_of is Strawberry's (or none), inline."""
    if subplan.instance_of is None:
        return []
    names[instance_name] = subplan.instance_of
    names[casts_name] = subplan.cast_types
    return [
        f"{indent}cast = getattr({value}, CA, None)",
        f"{indent}if not (isinstance({value}, {instance_name}) if cast is None else cast in {casts_name}):",
        f"{indent}    raise Bail",
    ]


# What makes `is_awaitable` (graphql-core's, or Strawberry's faster one) answer True: a
# coroutine, an iterable-coroutine generator, or anything with an `__await__` attribute.
_AWAIT_HOOKS = ("__await__", "__getattr__", "__getattribute__", "__class__")


def _plain_class(object_type: Any) -> tuple[type, bool] | None:
    """For an object type Strawberry made from a class: (the class, whether its instances
    have a `__dict__`) when an instance of exactly that class can never be awaitable, so
    the generated code skips the `is_awaitable` call for it: the class is no coroutine or
    generator, and neither it nor its bases (object aside) define `__await__`, or the
    hooks that could make one appear or change what isinstance sees (`__getattr__`,
    `__getattribute__`, `__class__`). An instance's own `__dict__` could still hold an
    `__await__`: the generated code looks there too when instances have one. None when
    the type has no such class."""
    definition = (object_type.extensions or {}).get("strawberry-definition")
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type) or issubclass(origin, (CoroutineType, GeneratorType)):
        return None
    if any(hook in vars(klass) for klass in origin.__mro__[:-1] for hook in _AWAIT_HOOKS):
        return None
    return origin, origin.__dictoffset__ != 0


def _awaitable_test(object_type: Any, value: str, class_name: str, names: dict) -> str:
    """The condition under which `value` (an object type's value) may be awaitable: the
    `is_awaitable` call, skipped for an instance of the type's plain class (`_plain_class`)."""
    plain = _plain_class(object_type)
    if plain is None:
        return f"is_awaitable({value})"
    names[class_name] = plain[0]
    if plain[1]:
        return f"(type({value}) is not {class_name} or '__await__' in {value}.__dict__) and is_awaitable({value})"
    return f"type({value}) is not {class_name} and is_awaitable({value})"


def _checked_class(subplan: ObjectPlan) -> type | None:
    """The class whose instances the checks before a plan's function (`Run.settle_value`'s
    and `Run.check_type`'s: awaitable, an exception, of the type or cast to it) all pass
    without being made, when nothing is stored in the instance's `__dict__` under
    `__await__` or strawberry.cast's attribute (the generated code looks): the type's plain
    class with an instance dict (`_plain_class`, so never awaitable otherwise), no exception
    class, one the type's check accepts (Strawberry's isinstance test names it, or the
    type has no check), and without the cast attribute on the class. None otherwise."""
    plain = _plain_class(subplan.type)
    if plain is None or not plain[1]:
        return None
    klass = plain[0]
    if issubclass(klass, BaseException) or any(_CAST_ATTRIBUTE in vars(k) for k in klass.__mro__):
        return None
    if subplan.instance_of is not None:
        return klass if issubclass(klass, subplan.instance_of) else None
    return klass if subplan.is_type_of is None else None


def _list_function(parent: ObjectPlan, field: FieldPlan, subplan: ObjectPlan, item_type: Any) -> Any:
    """A function (run, value, path, info) -> the list of response objects for `value`, a
    field's list of objects of one type (or an awaitable of it): `Run.complete_objects`
    written for the item type's plan."""
    non_null = is_non_null_type(item_type)
    names: dict[str, Any] = {
        "Bail": Bail, "_discard": _discard, "_settle": _settle, "Undefined": Undefined, "Path": Path,
        "_tuple_new": _tuple_new, "BaseException": BaseException, "Exception": Exception, "CA": _CAST_ATTRIBUTE,
        "F": field, "OT": parent.type, "IT": item_type, "P": subplan.run,
    }
    lines = [
        "def complete_list(run, value, path, info):",
        "    if isinstance(value, (str, bytes, dict)) or not hasattr(value, '__iter__'):",
        "        raise Bail",
        "    items = []",
        "    pending = []",
        "    is_awaitable = run.is_awaitable",
        "    try:",
        "        for index, item in enumerate(value):",
        "            if item is None or item is Undefined:",
        "                raise Bail" if non_null else "                items.append(None)",
    ]
    checked = _checked_class(subplan)
    if checked is not None:  # the commonest item: no check to make (`_checked_class`)
        names["X"] = checked
        lines += [
            "            elif type(item) is X and '__await__' not in (d := item.__dict__) and CA not in d:",
            "                item = P(run, item, _tuple_new(Path, (path, index, None)))",
            "                items.append(item)",
            "                if type(item) is not dict:",
            "                    pending.append(index)",
        ]
    lines += [
        f"            elif {_awaitable_test(subplan.type, 'item', 'E', names)}:",
        "                items.append(run._later_item(F, OT, IT, item, _tuple_new(Path, (path, index, None)), [info, path]))",
        "                pending.append(index)",
        "            else:",
        "                if isinstance(item, Exception):",
        "                    raise Bail",
        *_type_check(subplan, "item", "I", "CT", names, "                "),
        "                item = P(run, item, _tuple_new(Path, (path, index, None)))",
        "                items.append(item)",
        "                if type(item) is not dict:  # what a plan's function gives: a dict or a coroutine",
        "                    pending.append(index)",
        "    except BaseException:",
        "        _discard([items[i] for i in pending])",
        "        raise",
        "    if pending:",
        "        return _settle(items, pending)",
        "    return items",
    ]
    source = "\n".join(lines)
    exec(compile(source, f"<compiled list of {subplan.type.name} in {parent.type.name}.{field.name}>", "exec"), names)  # noqa: S102
    return names["complete_list"]


def _reads_no_info(is_type_of: Any) -> bool:
    """True for the is_type_of Strawberry generates for each type (an isinstance check that
    never reads its info argument): it is called without one, which spares building a
    resolve info for every object completed from a plain attribute. A type's own
    is_type_of classmethod may read it, and gets it."""
    code = getattr(is_type_of, "__code__", None)
    return (
        code is not None
        and getattr(is_type_of, "__module__", None) == "strawberry.schema.schema_converter"
        and code.co_qualname.endswith("._get_is_type_of.<locals>.is_type_of")
        and code.co_varnames[1:2] == ("_info",)
    )


# Plans of the operations executed lately, by the identity of the operation's AST node (the
# parser cache gives identical documents one AST; AST nodes compare and hash by content,
# which costs a walk of the whole tree, so identity it is). Each entry keeps its node alive,
# so an id is never reused while it is a key: (operation node, names of the variables its
# directives read, {values of those variables: root plan}).
PLAN_CACHE_SIZE = 1000
# Keyed by schema too: a plan holds the schema's field definitions.
_PLANS: OrderedDict[tuple[int, int], tuple[Any, OperationDefinitionNode, tuple[str, ...], dict[tuple, ObjectPlan]]] = (
    OrderedDict()
)


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        for argument in node.arguments or ():
            add_variable_names(argument.value, self.names)


def _directive_variables(executor: Any) -> tuple[str, ...]:
    """Variables read by directives of the operation or its fragments (they change what is
    collected: `@include(if: $x)`)."""
    finder = _DirectiveVariables()
    visit(executor.operation, finder)
    for fragment in executor.fragment_definitions.values():
        visit(fragment, finder)
    return tuple(sorted(finder.names))


def _plan_fields(executor: Any, object_type: GraphQLObjectType, collected: Any, where: str = "") -> ObjectPlan:
    grouped_field_set, new_defer_usages, _forbidden = collected
    if new_defer_usages:
        raise Bail
    schema = executor.schema
    fields = [FieldPlan(key, details, object_type, schema) for key, details in grouped_field_set.items()]
    for field in fields:
        # The plans of the object types the generated function completes itself are made
        # first (the recursion follows the document's finite selections); any other is
        # made when a value of its type first comes (`_subplan`).
        target = _object_target(field)
        if target is not None and not field.has_args and (field.basic or field.direct is not None):
            try:
                _subplan(executor, field, target[0])
            except Bail:  # left to `_subplan`, which bails only if a value gets there
                pass
    return ObjectPlan(object_type, fields, where)


def root_plan(executor: Any) -> ObjectPlan:
    """The plan of the executor's operation (made on first use, then kept with the document)."""
    operation = executor.operation
    key = (id(executor.schema), id(operation))
    entry = _PLANS.get(key)
    if entry is None or entry[0] is not executor.schema or entry[1] is not operation:
        entry = (executor.schema, operation, _directive_variables(executor), {})
        _PLANS[key] = entry
        if len(_PLANS) > PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
    else:
        _PLANS.move_to_end(key)
    _, _, directive_variables, plans = entry
    variables = executor.variable_values.coerced
    signature = tuple(repr(variables.get(name, Undefined)) for name in directive_variables)
    plan = plans.get(signature)
    if plan is None:
        schema = executor.schema
        root_type = schema.get_root_type(operation.operation)
        if root_type is None:
            raise Bail
        collected = collect_fields(
            schema, executor.fragments, executor.variable_values, root_type, operation, executor.hide_suggestions
        )
        plan = plans[signature] = _plan_fields(executor, root_type, collected)
    return plan


def _subplan(executor: Any, field: FieldPlan, object_type: GraphQLObjectType) -> ObjectPlan:
    plan = field.subplans.get(object_type.name)
    if plan is None:
        collected = collect_subfields(
            executor.schema,
            executor.fragments,
            executor.variable_values,
            executor.operation,
            object_type,
            field.details,
            executor.hide_suggestions,
        )
        plan = field.subplans[object_type.name] = _plan_fields(executor, object_type, collected, field.key)
    return plan


def _discard(awaitables: Any) -> None:
    """After a bail: close the coroutines nobody will await. Futures are left alone: a
    DataLoader hands the same future to every field that asks for a key, and graphql-core's
    rerun must find it still there (cancelling it would cancel the rerun's field too); only
    their outcome is marked as seen.

    A coroutine that never started holds its arguments, and closing it drops them: a
    resolver's coroutine waiting in this module's wrappers (`Run.later`, `_settle`), or in
    the app's own (`converted`), would then be dropped unawaited ("coroutine ... was never
    awaited"). So the awaitables among an unstarted coroutine's arguments (and in the
    lists and dicts it was given) are discarded first."""
    for awaitable in awaitables:
        if isinstance(awaitable, CoroutineType):
            if getcoroutinestate(awaitable) == CORO_CREATED:
                _discard(_held(awaitable.cr_frame.f_locals.values()))
            awaitable.close()
            continue
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        elif hasattr(awaitable, "add_done_callback"):
            awaitable.add_done_callback(_seen)


def _held(values: Any) -> list[Any]:
    """The coroutines and futures among `values`, and in the lists and dicts among them."""
    held = []
    for value in values:
        if isinstance(value, list):
            held.extend(v for v in value if _is_pending(v))
        elif isinstance(value, dict):
            held.extend(v for v in value.values() if _is_pending(v))
        elif _is_pending(value):
            held.append(value)
    return held


def _is_pending(value: Any) -> bool:
    return isinstance(value, CoroutineType) or isinstance(value, asyncio.Future)


def _seen(future: Any) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" at exit


async def _settle(values: Any, keys: list[Any]) -> Any:
    """`values` (a response object, or a list's items) with each awaitable at `keys`
    replaced by what it gives; any failure bails (after all are settled), a cancellation
    goes on up."""
    if len(keys) == 1:
        # The commonest case (one loader's answer awaited): awaited here, without the task,
        # the outer future and the two loop turns gather takes for it. What follows is the
        # same: a cancellation of this task goes on up, a failure bails.
        key = keys[0]
        try:
            values[key] = await values[key]
        except Exception as failure:  # noqa: BLE001
            values[key] = failure
            raise Bail from failure
        return values
    settled = await asyncio.gather(*(values[k] for k in keys), return_exceptions=True)
    failure = None
    for key, value in zip(keys, settled, strict=True):
        if isinstance(value, BaseException):
            if not isinstance(value, Exception):
                raise value  # cancellation (a timeout) goes on up
            failure = value
        values[key] = value
    if failure is not None:
        raise Bail from failure
    return values


# What `Run.complete` does with a value of each output type, by the type's class (graphql-
# core's is_*_type predicates are isinstance checks, so the class decides): one dict
# lookup instead of up to five predicate calls per value.
_NON_NULL, _LIST, _LEAF, _ABSTRACT, _OBJECT, _OTHER = "non-null", "list", "leaf", "abstract", "object", "other"
_KINDS: dict[type, str] = {}


def _kind(return_type: Any) -> str:
    if is_non_null_type(return_type):
        kind = _NON_NULL
    elif is_list_type(return_type):
        kind = _LIST
    elif is_leaf_type(return_type):
        kind = _LEAF
    elif is_abstract_type(return_type):
        kind = _ABSTRACT
    elif is_object_type(return_type):
        kind = _OBJECT
    else:
        kind = _OTHER
    _KINDS[return_type.__class__] = kind
    return kind


class Run:
    """One execution of a plan, on the executor graphql-core built for the request."""

    __slots__ = ("executor", "is_awaitable", "argument_values")

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.is_awaitable = executor.is_awaitable

    def fields(self, plan: ObjectPlan, source: Any, path: Path | None) -> Any:
        """The response object for `source`, or an awaitable of it."""
        return plan.run(self, source, path)

    def basic_value(self, field: FieldPlan, parent_type: Any, value: Any, path: Path | None, results: dict, pending: list) -> None:
        """Complete `value`, read by a basic field (no resolver of ours), into `results`
        (the key goes to `pending` when the answer is awaitable)."""
        key = field.key
        is_awaitable = self.is_awaitable
        if field.leaf and not is_awaitable(value):
            if value is None or value is Undefined:
                if field.non_null:
                    raise Bail
                results[key] = None
                return
            if isinstance(value, Exception):
                raise Bail
            coerced = field.coerce(value)
            if coerced is None or coerced is Undefined:
                raise Bail
            results[key] = coerced
            return
        self.settle_value(field, parent_type, value, _path(path, key, parent_type.name), None, results, pending)

    def resolved(self, field: FieldPlan, parent_type: Any, source: Any, path: Path | None, results: dict, pending: list) -> None:
        """Run the resolver of `field` on `source` and complete its answer into `results`."""
        field_path = _path(path, field.key, parent_type.name)
        direct = field.direct
        if direct is not None:
            # The resolver gets the info lazily (most only read the context), or none at
            # all when it takes none (the completion builds one if it needs it).
            info: Any = _LazyInfo(self.executor, field, parent_type, field_path) if direct.takes_info else None
            if direct.convert is None:
                value = direct(source, info)
            else:
                value = direct(source, info, self.arguments_of(field, direct.convert))
        else:
            info = self.executor.build_resolve_info(field.field_def, field.nodes, parent_type, field_path)
            if field.has_args:
                value = field.resolve(source, info, **self.arguments_of(field, None))
            else:
                value = field.resolve(source, info)
        self.settle_value(field, parent_type, value, field_path, info, results, pending)

    def arguments_of(self, field: FieldPlan, convert: Any) -> dict[str, Any]:
        """The argument values of `field` as graphql-core's `get_argument_values` gives them
        (its errors included), converted by `convert` when not None; kept with the field
        when they are literals and of immutable types, and answered from there afterwards
        (each call unpacks them into a dict of its own, so no resolver sees another's
        changes)."""
        if field.arguments is not None:
            return field.arguments
        executor = self.executor
        arguments = get_argument_values(
            field.field_def,
            field.nodes[0],
            executor.variable_values,
            field.details[0].fragment_variable_values,
            executor.hide_suggestions,
        )
        if convert is not None:
            arguments = convert(arguments)
        if field.literal_arguments and _immutable(arguments):
            field.arguments = arguments
        return arguments

    def settle_value(self, field: FieldPlan, parent_type: Any, value: Any, path: Path, info: Any, results: dict, pending: list) -> None:
        key = field.key
        is_awaitable = self.is_awaitable
        if is_awaitable(value):
            results[key] = self.later(field, parent_type, value, path, info)
            pending.append(key)
            return
        object_type = field.object_type
        if object_type is not None:  # complete, for an object type: the commonest non-leaf
            if value is None or value is Undefined:
                if field.non_null:
                    raise Bail
                results[key] = None
                return
            if isinstance(value, Exception):
                raise Bail
            # complete_object's answer is a dict (or an awaitable of one), never None: the
            # non-null check of `complete` has nothing to do.
            completed = self.complete_object(field, parent_type, object_type, value, path, [info, path])
            results[key] = completed
            if type(completed) is not dict:  # what a plan's function gives: a dict or a coroutine
                pending.append(key)
            return
        completed = self.complete(field, parent_type, field.return_type, value, path, [info, path])
        results[key] = completed
        if is_awaitable(completed):
            pending.append(key)

    async def later(self, field: FieldPlan, parent_type: Any, value: Any, path: Path, info: Any) -> Any:
        completed = self.complete(field, parent_type, field.return_type, await value, path, [info, path])
        return await completed if self.is_awaitable(completed) else completed

    def info_of(self, field: FieldPlan, parent_type: Any, path: Path, box: list) -> Any:
        """The resolve info of the field (made once per field execution, as graphql-core does,
        with the field's path, which `box` holds: `path` may be a list item's)."""
        info = box[0]
        if info is None:
            info = box[0] = self.executor.build_resolve_info(field.field_def, field.nodes, parent_type, box[1])
        elif type(info) is _LazyInfo:
            info = box[0] = info._raw_info
        return info

    def complete(self, field: FieldPlan, parent_type: Any, return_type: Any, value: Any, path: Path, box: list) -> Any:
        if isinstance(value, Exception):
            raise Bail
        kind = _KINDS.get(return_type.__class__)
        if kind is None:
            kind = _kind(return_type)
        if kind is _NON_NULL:
            if value is None or value is Undefined:
                raise Bail
            completed = self.complete(field, parent_type, return_type.of_type, value, path, box)
            if self.is_awaitable(completed):
                return self._not_null(completed)
            if completed is None:
                raise Bail
            return completed
        if value is None or value is Undefined:
            return None
        if kind is _OBJECT:
            return self.complete_object(field, parent_type, return_type, value, path, box)
        if kind is _LIST:
            return self.complete_list(field, parent_type, return_type.of_type, value, path, box)
        if kind is _LEAF:
            coerced = return_type.coerce_output_value(value)
            if coerced is None or coerced is Undefined:
                raise Bail
            return coerced
        if kind is _ABSTRACT:
            info = self.info_of(field, parent_type, path, box)
            resolve_type = return_type.resolve_type or self.executor.type_resolver
            runtime_name = resolve_type(value, info, return_type)
            if not isinstance(runtime_name, str):  # None, an awaitable, a wrong value
                _discard([runtime_name])
                raise Bail
            runtime_type = self.executor.schema.get_type(runtime_name)
            if not is_object_type(runtime_type) or not self.executor.schema.is_sub_type(return_type, runtime_type):
                raise Bail
            return self.complete_object(field, parent_type, runtime_type, value, path, box)
        raise Bail  # pragma: no cover - every output type is handled above

    async def _not_null(self, completed: Any) -> Any:
        value = await completed
        if value is None:
            raise Bail
        return value

    def complete_object(self, field: FieldPlan, parent_type: Any, object_type: Any, value: Any, path: Path, box: list) -> Any:
        plan = field.subplans.get(object_type.name)
        if plan is None:
            plan = _subplan(self.executor, field, object_type)
        self.check_type(plan, field, parent_type, value, path, box)
        return plan.run(self, value, path)

    def check_type(self, plan: ObjectPlan, field: FieldPlan, parent_type: Any, value: Any, path: Path, box: list) -> None:
        """Bail unless the type's is_type_of accepts `value` (Strawberry's own is_type_of,
        an isinstance check or a `strawberry.cast`, inline; any other called as graphql-core
        calls it, with the field's resolve info when it may read it)."""
        instance_of = plan.instance_of
        if instance_of is not None:
            cast = getattr(value, _CAST_ATTRIBUTE, None)
            if not (isinstance(value, instance_of) if cast is None else cast in plan.cast_types):
                raise Bail
        elif plan.is_type_of is not None:
            ok = plan.is_type_of(value, None if plan.info_free else self.info_of(field, parent_type, path, box))
            if ok is not True:
                _discard([ok])
                raise Bail

    def complete_list(self, field: FieldPlan, parent_type: Any, item_type: Any, value: Any, path: Path, box: list) -> Any:
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise Bail
        items: list[Any] = []
        pending: list[int] = []
        is_awaitable = self.is_awaitable
        non_null = is_non_null_type(item_type)
        object_type = item_type.of_type if non_null else item_type
        if is_object_type(object_type):
            return self.complete_objects(field, parent_type, item_type, object_type, non_null, value, path, box)
        try:
            for index, item in enumerate(value):
                item_path = _path(path, index, None)
                if is_awaitable(item):
                    completed = self._later_item(field, parent_type, item_type, item, item_path, box)
                else:
                    completed = self.complete(field, parent_type, item_type, item, item_path, box)
                items.append(completed)
                if is_awaitable(completed):
                    pending.append(index)
        except BaseException:
            _discard([items[i] for i in pending])
            raise
        if not pending:
            return items
        return _settle(items, pending)

    def complete_objects(
        self, field: FieldPlan, parent_type: Any, item_type: Any, object_type: Any, non_null: bool, value: Any, path: Path, box: list
    ) -> Any:
        """complete_list for items of one object type (nullable or not): what `complete` does
        per item, with the item type's plan looked up once for the list."""
        plan = field.subplans.get(object_type.name)
        if plan is None:
            plan = _subplan(self.executor, field, object_type)
        check_type = self.check_type
        run = plan.run
        items: list[Any] = []
        pending: list[int] = []
        is_awaitable = self.is_awaitable
        try:
            for index, item in enumerate(value):
                item_path = _path(path, index, None)
                if is_awaitable(item):
                    completed = self._later_item(field, parent_type, item_type, item, item_path, box)
                    items.append(completed)
                    pending.append(index)
                    continue
                if isinstance(item, Exception):
                    raise Bail
                if item is None or item is Undefined:
                    if non_null:
                        raise Bail
                    items.append(None)
                    continue
                check_type(plan, field, parent_type, item, item_path, box)
                completed = run(self, item, item_path)
                items.append(completed)
                if type(completed) is not dict:  # what a plan's function gives: a dict or a coroutine
                    pending.append(index)
        except BaseException:
            _discard([items[i] for i in pending])
            raise
        if not pending:
            return items
        return _settle(items, pending)

    async def _later_item(self, field: FieldPlan, parent_type: Any, item_type: Any, item: Any, path: Path, box: list) -> Any:
        completed = self.complete(field, parent_type, item_type, await item, path, box)
        return await completed if self.is_awaitable(completed) else completed


def can_compile(executor: Any) -> bool:
    """Queries and subscription events (graphql-core executes a subscription's selection
    once per event, as a query on the event), without field middleware, when not switched
    off. Mutations are not: their fields run serially, with side effects."""
    if not compiled_execution_enabled.get():
        return False
    if executor.operation.operation is OperationType.MUTATION:
        return False
    manager = executor.middleware_manager
    return manager is None or not manager.middlewares
