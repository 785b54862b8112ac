"""Static cost of an operation, computed before it runs.

Weights (docs/security.md lists them too):

- a scalar or enum field costs SCALAR_COST (1), lists of scalars included: they are
  computed from a row already loaded;
- an object field costs OBJECT_COST (5) plus the cost of its selection: it is
  typically one (batched) lookup;
- a list of objects multiplies that by how many items it may hold:
  * inside a connection (a field with a `first` argument), `edges` and `nodes` each
    count as the page size: `last` when sent (literal or variable), else `first` as
    sent, else the argument's default, else the page size cap when `first` is null;
  * a list field with an `ids` argument (`nodes`) counts one item per ID sent;
  * any other list of objects counts DEFAULT_LIST_SIZE (10) items;
- `pageInfo` and `totalCount` are counted once per connection, not per item;
- `__typename` is free, and introspection fields are not costed (introspection is off in
  production; the depth, alias and token limits still bound it in development).

Fragments are expanded where they are spread; the inline fragments of an abstract type
are all added up (an upper bound: only one of them applies to a given object).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_leaf_type,
    is_list_type,
)
from graphql.language import Visitor, visit
from graphql.type.definition import GraphQLNamedType
from graphql.utilities import get_operation_ast

from app.api.variables import add_variable_names

SCALAR_COST = 1
OBJECT_COST = 5
DEFAULT_LIST_SIZE = 10
# Recursion guard; validation already refuses fragment cycles and the depth limit
# refuses deep documents, so this only protects against unvalidated input.
_MAX_NESTING = 64


# Costs of the documents costed lately. A cost reads the variables only through the
# arguments that size lists (`first`, `last`, `ids`), so it is kept per document (by
# identity: the parser cache gives identical documents one AST, and each entry keeps its
# document alive so the id is not reused), operation name, page size cap and the values of
# those variables: the public page asked with another session's ID costs the same, and is
# not costed again. (schema id, document id) -> (schema, document, sizing variables, costs).
COST_CACHE_SIZE = 1000
COSTS_PER_DOCUMENT = 64
_COSTS: OrderedDict[tuple[int, int], tuple[GraphQLSchema, DocumentNode, tuple[str, ...], dict[tuple, int]]] = (
    OrderedDict()
)
_SIZE_ARGUMENTS = frozenset({"first", "last", "ids"})
_ABSENT = object()


class _SizeVariables(Visitor):
    """Collects the variables a document passes to `first`, `last` or `ids` arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: Any, *_: Any) -> None:
        if node.name.value in _SIZE_ARGUMENTS:
            add_variable_names(node.value, self.names)


def _sizing_variables(document: DocumentNode) -> tuple[str, ...]:
    finder = _SizeVariables()
    visit(document, finder)
    return tuple(sorted(finder.names))


def _frozen(value: Any) -> Any:
    """A key for a sent value; its type counts (1, True and 1.0 cost differently)."""
    if isinstance(value, list):
        return (list, tuple(_frozen(v) for v in value))
    return (type(value), value)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    max_page_size: int,
) -> int:
    """The cost of the operation `operation_name` selects in `document` (0 when none does):
    `compute_operation_cost`'s answer, looked up when this document was costed before with
    the same operation name, page size cap and values of its sizing variables."""
    key = (id(schema), id(document))
    entry = _COSTS.get(key)
    if entry is None or entry[0] is not schema or entry[1] is not document:
        entry = _COSTS[key] = (schema, document, _sizing_variables(document), {})
        if len(_COSTS) > COST_CACHE_SIZE:
            _COSTS.popitem(last=False)
    else:
        _COSTS.move_to_end(key)
    _, _, names, costs = entry
    sent = variables if isinstance(variables, Mapping) else {}
    try:
        signature = (operation_name, max_page_size, *(_frozen(sent.get(name, _ABSENT)) for name in names))
        cost = costs.get(signature)
    except TypeError:  # a value that cannot be a key (an object sent as `first`): cost it afresh
        return compute_operation_cost(schema, document, operation_name, variables, max_page_size=max_page_size)
    if cost is None:
        if len(costs) >= COSTS_PER_DOCUMENT:  # many sizes of one document: start over, stay small
            costs.clear()
        cost = costs[signature] = compute_operation_cost(
            schema, document, operation_name, variables, max_page_size=max_page_size
        )
    return cost


def compute_operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    max_page_size: int,
) -> int:
    """The cost of the operation `operation_name` selects in `document`, computed."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }.get(operation.operation)
    if root is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    calculator = _Calculator(schema, fragments, _variables(operation, variables), max_page_size)
    return calculator.selection_cost(operation.selection_set, root, list_size=DEFAULT_LIST_SIZE, nesting=0)


def _variables(operation: OperationDefinitionNode, sent: Mapping[str, Any] | None) -> dict[str, Any]:
    """Variables as sent, completed with the operation's defaults."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if isinstance(sent, Mapping) and name in sent:
            values[name] = sent[name]
        elif definition.default_value is not None:
            values[name] = _literal(definition.default_value, {})
    return values


def _literal(node: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        try:
            return int(node.value)
        except ValueError:
            return None
    if isinstance(node, ListValueNode):
        return [_literal(v, variables) for v in node.values]
    if isinstance(node, NullValueNode):
        return None
    return getattr(node, "value", None)


class _Calculator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size

    def selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, *, list_size: int, nesting: int
    ) -> int:
        if selection_set is None or nesting > _MAX_NESTING:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent, list_size=list_size, nesting=nesting)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                total += self.selection_cost(
                    selection.selection_set, condition or parent, list_size=list_size, nesting=nesting + 1
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    condition = self.schema.get_type(fragment.type_condition.name.value) or parent
                    total += self.selection_cost(
                        fragment.selection_set, condition, list_size=list_size, nesting=nesting + 1
                    )
        return total

    def field_cost(self, node: FieldNode, parent: GraphQLNamedType, *, list_size: int, nesting: int) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        fields = getattr(parent, "fields", None)
        definition: GraphQLField | None = fields.get(name) if fields else None
        if definition is None:
            return SCALAR_COST
        named = get_named_type(definition.type)
        if is_leaf_type(named) or not is_composite_type(named):
            return SCALAR_COST
        first = self.first_argument(node, definition)
        inner_list_size = first if first is not None else DEFAULT_LIST_SIZE
        per_item = OBJECT_COST + self.selection_cost(
            node.selection_set, named, list_size=inner_list_size, nesting=nesting + 1
        )
        if not is_list_type(get_nullable_type(definition.type)):
            return per_item
        ids = self.argument(node, "ids")
        count = len(ids) if "ids" in definition.args and isinstance(ids, list) else list_size
        return max(count, 0) * per_item

    def argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                if isinstance(argument.value, VariableNode) and argument.value.name.value not in self.variables:
                    # An unsent variable without a default leaves the argument out, so
                    # the field's own default applies (GraphQL's coercion rules).
                    return _MISSING
                return _literal(argument.value, self.variables)
        return _MISSING

    def first_argument(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size a connection field will use (`last` when sent, else `first`);
        None for fields without `first`."""
        if "first" not in definition.args:
            return None
        if "last" in definition.args:
            last = self.argument(node, "last")
            if last is not _MISSING and last is not None:
                return self._page_size(last)
        value = self.argument(node, "first")
        if value is _MISSING:
            default = definition.args["first"].default_value
            value = default if isinstance(default, int) else None
        if value is None:
            return self.max_page_size  # null means "the largest page"
        return self._page_size(value)

    def _page_size(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.max_page_size  # invalid: execution will refuse it, count the worst case
        if not 0 <= value <= self.max_page_size:
            # The connection's resolver refuses it with a clear "first must be between..."
            # before any item resolves, so its items cost nothing; counting them would hide
            # that message behind a cost refusal.
            return 0
        return value


_MISSING = object()
