"""Relay global IDs and keyset cursors, both opaque to clients."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from app.api.errors import BadUserInput
from app.links import global_id

NODE_TYPES = ("User", "Program", "GroupSession", "Registration")


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _b64decode(text: str) -> str | None:
    if not isinstance(text, str) or len(text) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def to_global_id(type_name: str, pk: int) -> str:
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
    return (type_name, pk) if 0 < pk < 2**31 else None


def pk_of(global_id: str, type_name: str) -> int | None:
    """The primary key if `global_id` names a `type_name`; None otherwise."""
    parsed = from_global_id(global_id)
    return parsed[1] if parsed and parsed[0] == type_name else None


def encode_cursor(*values: Any) -> str:
    if len(values) == 1 and type(values[0]) is int:  # the common case, without json.dumps
        return _b64encode(f"[{values[0]}]")
    return _b64encode(json.dumps(list(values), separators=(",", ":")))


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
        raise BadUserInput("Invalid cursor: pass an endCursor from a previous page.")
    return values


def check_first(first: int | None, max_page_size: int) -> int:
    """The page size to use; refuses negative sizes and sizes above the cap."""
    if first is None:
        return max_page_size
    if first < 0 or first > max_page_size:
        raise BadUserInput(f"first must be between 0 and {max_page_size}.")
    return first
