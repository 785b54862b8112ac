"""Which variables a part of a document reads (for caches keyed by those variables' values)."""

from __future__ import annotations

from typing import Any

from graphql.language import Node, VariableNode, visit
from graphql.language.visitor import Visitor


class _VariableNames(Visitor):
    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def add_variable_names(node: Node, names: set[str]) -> None:
    """Adds to `names` the name of every variable used within `node`."""
    visit(node, _VariableNames(names))
