"""Relay object identification and pagination: global IDs and the Node interface,
keyset cursors, page sizes and PageInfo. IDs and cursors are opaque to clients.

Connections (their edges and total counts) are built by the types they list
(`GroupSessionConnection`, `RegistrationConnection`, `UserConnection`) from the pieces
here. Every connection pages both ways: `first`/`after` forwards, `last`/`before`
backwards (see app.keyset), with exact `hasNextPage` and `hasPreviousPage`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import partial
from operator import attrgetter
from typing import Annotated, Any

import strawberry
from graphql import VariableNode
from strawberry.types import Info

from app.api.errors import BadUserInput
from app.api.scalars import parse_datetime, serialize_datetime
from app.group_sessions.models import GroupSession
from app.accounts.member_list import MemberCursor
from app.group_sessions.read_model import SessionCursor
from app.keyset import Slice, Window
from app.links import base64url, global_id

NODE_TYPES = ("User", "Program", "GroupSession", "Registration")
# Primary keys are 32-bit integers (PostgreSQL `integer`): a larger number in an ID or a
# cursor names nothing, and sent to PostgreSQL it would fail the query instead.
MAX_PK = 2**31 - 1
INVALID_CURSOR = "Invalid cursor: pass an endCursor (as after) or a startCursor (as before) from a previous page."


@strawberry.interface(
    description="Relay object identification: every object with an ID can be re-fetched through Query.node."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque ID.")


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when items follow this page in list order (pass endCursor as after to get them)."
    )
    has_previous_page: bool = strawberry.field(
        description="True when items precede this page in list order (pass startCursor as before to get them)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge; null on an empty page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge; null on an empty page.")
    # The page's edges, for the two cursors above when page_info made this (see _EdgeCursor).
    edges: strawberry.Private[list | None] = None


class _EdgeCursor:
    """PageInfo's `start_cursor` (`index` 0) or `end_cursor` (-1): the cursor of that edge
    of the page, None on an empty page, read from the edge when the field is asked for
    (an edge computes its cursor on first read)."""

    __slots__ = ("name", "index")

    def __init__(self, name: str, index: int) -> None:
        self.name, self.index = name, index

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        edges = obj.edges
        value = obj.__dict__[self.name] = edges[self.index].cursor if edges else None
        return value


# Read lazily (see _EdgeCursor); PageInfo(start_cursor=..., end_cursor=...) still sets them.
PageInfo.start_cursor = _EdgeCursor("start_cursor", 0)
PageInfo.end_cursor = _EdgeCursor("end_cursor", -1)


def page_info(edges: list, page: Slice) -> PageInfo:
    """Where a page of `edges` (each with a `cursor`, made from `page.rows`) stands. The
    start and end cursors are read from the first and last edge when asked for."""
    info = _new(PageInfo)
    info.has_next_page = page.has_next
    info.has_previous_page = page.has_previous
    info.edges = edges
    return info


_new = object.__new__  # builds a type's instance without its dataclass __init__ (see OnFirstRead)


class OnFirstRead:
    """A Strawberry type's field whose value `compute(instance)` gives, computed when it is
    first read (the response asks for it) and kept in the instance, as
    functools.cached_property does (without its per-read lock on Python 3.11). Installed on
    the class after `@strawberry.type` made it (the schema still sees a plain field, read
    as an attribute): `Type.field = OnFirstRead("field", compute)`. A non-data descriptor,
    so the generated __init__ (`Type(field=...)`) still stores a value given to it."""

    __slots__ = ("name", "compute")

    def __init__(self, name: str, compute: Callable[[Any], Any]) -> None:
        self.name, self.compute = name, compute

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


# How many encodings each KeptByRowId descriptor keeps by primary key.
GLOBAL_ID_CACHE_SIZE = 16384


class KeptByRowId:
    """A Strawberry type's field whose value is `encode(primary key)` of a row the instance
    holds (`row_id_of(instance)`), computed on first read and kept in the instance, as
    OnFirstRead does, and kept by primary key for the rows read lately: a dashboard reads
    ~1,700 IDs per request, mostly the same ones again, and a lookup is a third of building
    one. Only int keys (what both databases give back): `True` would find 1's entry.
    Cleared when full: a bound, not an eviction policy."""

    __slots__ = ("name", "row_id_of", "encode", "known")

    def __init__(self, name: str, row_id_of: Callable[[Any], Any], encode: Callable[[Any], str]) -> None:
        self.name, self.row_id_of, self.encode = name, row_id_of, encode
        self.known: dict[int, str] = {}

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        pk = self.row_id_of(obj)
        known = self.known
        value = known.get(pk) if type(pk) is int else None
        if value is None:
            value = self.encode(pk)
            if type(pk) is int:
                if len(known) >= GLOBAL_ID_CACHE_SIZE:
                    known.clear()
                known[pk] = value
        obj.__dict__[self.name] = value
        return value


class GlobalIdOf(KeptByRowId):
    """A Node type's `id`: the global ID of its `row` (a page of hundreds of objects
    encodes only the IDs the response asks for); see KeptByRowId."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        if type_name not in NODE_TYPES:
            raise ValueError(f"not a node type: {type_name}")
        self.type_name = type_name
        super().__init__("id", attrgetter("row.id"), partial(global_id, type_name))


class RowIdCursorOf(KeptByRowId):
    """An edge's `cursor` in a list ordered by its node's row id alone: `encode(id)` (such
    as `registration_cursor`); see KeptByRowId. One call per edge where a lambda over
    OnFirstRead makes four."""

    __slots__ = ()

    def __init__(self, encode: Callable[[int], str]) -> None:
        super().__init__("cursor", attrgetter("node.row.id"), encode)


def _argument_given(info: Info, name: str) -> bool:
    """True when the request itself sets the field's argument `name` (a literal, or a
    variable that was sent or has a default), as opposed to the schema's default."""
    raw = info._raw_info  # graphql-core's info: Strawberry's does not expose the field nodes
    variables = raw.variable_values or {}
    for node in raw.field_nodes:
        for argument in node.arguments or ():
            if argument.name.value == name:
                if isinstance(argument.value, VariableNode):
                    return argument.value.name.value in variables
                return True
    return False


def connection_window(
    info: Info,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    decode: Callable[[str | None], Any],
) -> Window:
    """The window a connection's arguments ask for, cursors decoded with `decode` (which
    raises BadUserInput for a cursor it does not recognise).

    `first` with `after` reads forwards, `last` with `before` backwards; `after` and
    `before` may bound either. Sending both `first` and `last` is refused, as are negative
    sizes and sizes above the cap; a connection's default `first` gives way to `last`."""
    max_page_size = info.context.settings.max_page_size
    if last is not None and first is not None and _argument_given(info, "first"):
        raise BadUserInput("Pass either first or last, not both.")
    if last is not None:
        if last < 0 or last > max_page_size:
            raise BadUserInput(f"last must be between 0 and {max_page_size}.")
        return Window(size=last, after=decode(after), before=decode(before), backward=True)
    return Window(size=check_first(first, max_page_size), after=decode(after), before=decode(before))


def check_first(first: int | None, max_page_size: int) -> int:
    """The page size to use; refuses negative sizes and sizes above the cap."""
    if first is None:
        return max_page_size
    if first < 0 or first > max_page_size:
        raise BadUserInput(f"first must be between 0 and {max_page_size}.")
    return first


# --- global IDs ------------------------------------------------------------------------------


def _b64decode(text: str) -> str | None:
    if not isinstance(text, str) or len(text) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def to_global_id(type_name: str, pk: int) -> str:
    """The opaque ID of a row (the encoding emails share, see app.links)."""
    return global_id(type_name, pk)


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    decoded = _b64decode(global_id)
    if not decoded or ":" not in decoded:
        return None
    type_name, _, raw_pk = decoded.partition(":")
    if type_name not in NODE_TYPES or not raw_pk.isascii() or not raw_pk.isdigit() or len(raw_pk) > 12:
        return None
    pk = int(raw_pk)
    return (type_name, pk) if is_pk(pk) else None


def is_pk(value: object) -> bool:
    """True for an int that can be a primary key (1 to MAX_PK)."""
    return type(value) is int and 0 < value <= MAX_PK


def pk_of(global_id: str, type_name: str) -> int | None:
    """The primary key if `global_id` names a `type_name`; None otherwise."""
    parsed = from_global_id(global_id)
    return parsed[1] if parsed and parsed[0] == type_name else None


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding `values` (ints and strings)."""
    if len(values) == 1 and type(values[0]) is int:  # the common case, without json.dumps
        return base64url(f"[{values[0]}]")
    return base64url(json.dumps(list(values), separators=(",", ":")))


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The values of a cursor made by `encode_cursor`; a clear error for anything else."""
    decoded = _b64decode(cursor)
    try:
        values = json.loads(decoded) if decoded else None
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != arity or not all(
        isinstance(v, (int, str)) and not isinstance(v, bool) for v in values
    ):
        raise BadUserInput(INVALID_CURSOR)
    return values


def session_cursor(row: GroupSession) -> str:
    """A session's place in a list ordered by (startsAt, id)."""
    return encode_cursor(serialize_datetime(row.starts_at), row.id)


def decode_session_cursor(after: str | None) -> SessionCursor | None:
    """The keyset position a cursor names (made by `session_cursor`), or None for none."""
    if after is None:
        return None
    starts_at, pk = decode_cursor(after, 2)
    if not is_pk(pk):
        raise BadUserInput(INVALID_CURSOR)
    try:
        return SessionCursor(parse_datetime(starts_at), pk)
    except ValueError:  # not an instant, or one outside the calendar
        raise BadUserInput(INVALID_CURSOR) from None


def registration_cursor(registration_id: int) -> str:
    """A registration's place in a participant list (ordered by id)."""
    return encode_cursor(registration_id)


def decode_registration_cursor(after: str | None) -> int | None:
    """The registration id a cursor names (made by `registration_cursor`), or None for none."""
    if after is None:
        return None
    (pk,) = decode_cursor(after, 1)
    if not is_pk(pk):  # a string, or a number no row can have
        raise BadUserInput(INVALID_CURSOR)
    return pk


def member_cursor(row: Any) -> str:
    """A user's place in a member list ordered by (folded name, id)."""
    return encode_cursor(row.sort_name, row.id)


def decode_member_cursor(cursor: str | None) -> MemberCursor | None:
    """The keyset position a cursor names (made by `member_cursor`), or None for none."""
    if cursor is None:
        return None
    sort_name, pk = decode_cursor(cursor, 2)
    if not isinstance(sort_name, str) or not is_pk(pk):
        raise BadUserInput(INVALID_CURSOR)
    return MemberCursor(sort_name, pk)


# --- connection arguments (the same four on every connection) --------------------------------

First = Annotated[
    int | None,
    strawberry.argument(description="Read forwards: at most this many items (from the start, or after `after`)."),
]
After = Annotated[
    str | None, strawberry.argument(description="Items after this cursor (an endCursor or an edge's cursor).")
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="Read backwards: at most this many items, the last ones (before `before`, or of the whole list). "
        "Not with first."
    ),
]
Before = Annotated[
    str | None, strawberry.argument(description="Items before this cursor (a startCursor or an edge's cursor).")
]
