"""What a GraphQL over HTTP request carries: its JSON, decoded strictly, and the
operations in it, each checked before anything runs.

A POST body is one operation (a JSON object) or, when batching is on, a batch (a
non-empty JSON array of operation objects). An operation's `query` and `operationName`
are strings or null, its `variables` and `extensions` objects or null. Everything else
(a body that is `null`, `1`, `"x"`, `[1]`, `[[]]`, an empty batch, JSON nested deeper
than `MAX_JSON_DEPTH`, a number of thousands of digits, `NaN`, bytes that are not UTF-8)
is refused with a 400 and a sentence saying what was wrong: raised here as
`HTTPException(400, ...)`, which the view answers as a GraphQL error body. A query
string's `variables` and `extensions` (GET) are decoded and checked the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from strawberry.http import GraphQLRequestData

# Deep enough for any variables this schema takes (an input object holding a list is
# depth 4 from the body's top); shallow enough that no walk over the value recurses far.
MAX_JSON_DEPTH = 32

TOO_DEEP = f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."
NOT_AN_OPERATION = (
    "The request body must be a JSON object holding one operation "
    '({"query": "...", "variables": {...}}), or an array of such objects for a batch.'
)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(data: str | bytes, *, source: str = "request body") -> object:
    """The JSON value in `data`; a 400 for anything that is not plain JSON (RFC 8259:
    no NaN or Infinity) or is nested deeper than MAX_JSON_DEPTH. `source` names the
    part of the request in the message."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:  # deeper than the C decoder goes: refused before our walk
        raise HTTPException(400, TOO_DEEP) from None
    except ValueError:  # malformed, not UTF-8, NaN, an integer of more than 4,300 digits
        raise HTTPException(400, f"Unable to parse {source} as JSON: send one JSON value, UTF-8 encoded.") from None
    if nested_deeper_than(value, MAX_JSON_DEPTH):
        raise HTTPException(400, TOO_DEEP)
    return value


def nested_deeper_than(value: object, limit: int) -> bool:
    """True when arrays and objects in `value` nest more than `limit` levels (walked
    with a stack of its own, so any depth is safe to ask about)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def operations_in(body: object, *, max_batch_operations: int | None) -> GraphQLRequestData | list[GraphQLRequestData]:
    """The operation (a JSON object) or the batch (a list of them) a decoded POST body
    holds; a 400 for anything else. `max_batch_operations` None means batching is off."""
    if isinstance(body, dict):
        return operation_in(body)
    if not isinstance(body, list):
        raise HTTPException(400, NOT_AN_OPERATION)
    if max_batch_operations is None:
        raise HTTPException(400, "Batching is not enabled: send one operation as a JSON object.")
    if not body:
        raise HTTPException(400, "The batch is empty: send at least one operation.")
    if len(body) > max_batch_operations:
        raise HTTPException(400, f"Too many operations in one batch: at most {max_batch_operations}.")
    if not all(isinstance(item, dict) for item in body):
        raise HTTPException(400, NOT_AN_OPERATION)
    return [operation_in(item, index=index) for index, item in enumerate(body)]


def operation_in_query(params: Mapping[str, str]) -> GraphQLRequestData:
    """The operation a GET carries in its query string (`variables` and `extensions`
    as JSON text)."""
    data: dict[str, Any] = dict(params)
    for name in ("variables", "extensions"):
        if data.get(name):
            data[name] = decode_json(data[name], source=f"the `{name}` query parameter")
    return operation_in(data)


def operation_in(data: dict[str, Any], *, index: int | None = None) -> GraphQLRequestData:
    """One operation of a request (a POST body, an item of a batch, a GET's query
    parameters), its members checked for their JSON types."""
    where = "The GraphQL operation's" if index is None else f"Operation {index} of the batch:"
    for name, kinds, expected in (
        ("query", (str,), "a string or null"),
        ("operationName", (str,), "a string or null"),
        ("variables", (dict,), "an object or null"),
        ("extensions", (dict,), "an object or null"),
    ):
        value = data.get(name)
        if value is not None and not isinstance(value, kinds):
            raise HTTPException(400, f"{where} `{name}` must be {expected}, if provided.")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
        protocol="http",
    )
