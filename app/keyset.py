"""Keyset paging in both directions, for lists ordered by a unique key.

A `Window` is what a client asks of a connection: the `first` rows after a cursor, or
the `last` rows before one (Relay's first/after and last/before), the cursors already
decoded into keys. `fetch_page` turns it into at most two reads:

- the page itself, fetching one row more than asked for, to know whether the list goes
  on in the direction of reading;
- only when the window starts from a cursor on the other side (`after` when reading
  forwards, `before` when reading backwards), whether any row lies at or beyond that
  cursor. A first page (no cursor) costs one statement, as before.

So `hasNextPage` and `hasPreviousPage` are exact in both directions. This module knows
nothing of SQL: each list supplies the two reads for its own key and query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


@dataclass(frozen=True)
class Window(Generic[K]):
    """`size` rows strictly between the keys `after` and `before` (either may be None),
    counted from the `after` end, or from the `before` end when `backward` (last/before)."""

    size: int
    after: K | None = None
    before: K | None = None
    backward: bool = False

    @classmethod
    def forward(cls, size: int, after: K | None = None) -> Window[K]:
        return cls(size=size, after=after)


@dataclass
class Slice(Generic[R]):
    """A page of rows in list order, and whether rows precede or follow it."""

    rows: list[R]
    has_next: bool
    has_previous: bool


# fetch(forward, limit): up to `limit` rows strictly between the window's keys, in list
# order when `forward`, in reverse list order otherwise.
Fetch = Callable[[bool, int], Awaitable[list]]
# exists(later, key): whether a row lies at `key` or later in list order (`later`), or at
# `key` or earlier (not `later`).
Exists = Callable[[bool, object], Awaitable[bool]]


async def fetch_page(window: Window, fetch: Fetch, exists: Exists) -> Slice:
    """The rows `window` selects, in list order, with exact next/previous flags."""
    rows = await fetch(not window.backward, window.size + 1)
    more = len(rows) > window.size
    rows = list(rows[: window.size])
    if window.backward:
        rows.reverse()
        has_next = window.before is not None and await exists(True, window.before)
        return Slice(rows, has_next=has_next, has_previous=more)
    has_previous = window.after is not None and await exists(False, window.after)
    return Slice(rows, has_next=more, has_previous=has_previous)
