"""A program's members, for the Guests picker: ordered by folded name then id, filtered by
role and by name search (app.accounts.name_search), paged both ways by keyset.

One statement per page (two when the page starts from a cursor, see app.keyset), one for
the total when it is asked for. On PostgreSQL every one is served by indexes: the
(sort_name, id) index gives the order, the membership's (program_id, user_id) unique index
the program, and the (word, user_id) index each searched prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import ProgramRole, User
from app.accounts.name_search import prefix_range
from app.db import fetch_rows, sql_parameter
from app.keyset import Slice, Window, fetch_page
from app.model_rows import from_row

USER_COLUMNS = ("id", "email", "name", "password_hash", "time_zone", "created_at", "sort_name")
_USER_COLUMN_PLACES = {c: i for i, c in enumerate(USER_COLUMNS)}


@dataclass(frozen=True)
class MemberCursor:
    sort_name: str
    id: int


class _Query:
    """The WHERE clause of a member list, its parameters numbered as they are added."""

    def __init__(self, program_id: int, role: ProgramRole | None, words: list[str]) -> None:
        self.db = User._meta.db
        self.values: list = []
        self.conditions = [f"m.program_id = {self.param(program_id)}"]
        if role is not None:
            self.conditions.append(f"m.role = {self.param(role.value)}")
        for word in words:
            low, high = prefix_range(word)
            bound = f"w.word >= {self.param(low)}" + (f" AND w.word < {self.param(high)}" if high else "")
            self.conditions.append(f'm.user_id IN (SELECT w.user_id FROM "user_name_word" w WHERE {bound})')

    def param(self, value) -> str:
        self.values.append(value)
        return sql_parameter(self.db, len(self.values))

    def copy(self) -> _Query:
        other = object.__new__(_Query)
        other.db, other.values, other.conditions = self.db, list(self.values), list(self.conditions)
        return other

    def beyond(self, cursor: MemberCursor, *, later: bool, inclusive: bool) -> _Query:
        op = (">" if later else "<") + ("=" if inclusive else "")
        query = self.copy()
        query.conditions.append(f"(u.sort_name, u.id) {op} ({query.param(cursor.sort_name)}, {query.param(cursor.id)})")
        return query

    def sql(self, select: str, tail: str = "", *, with_user: bool = True) -> str:
        """The statement; `with_user` False leaves the user table out (the conditions then
        must name only the membership: a count needs no more, the membership's foreign
        key vouches for the user)."""
        tables = '"membership" m JOIN "user" u ON u.id = m.user_id' if with_user else '"membership" m'
        return f"SELECT {select} FROM {tables} WHERE {' AND '.join(self.conditions)}{tail}"


@dataclass
class MemberPage(Slice):
    query: _Query | None = None

    async def total_count(self) -> int:
        """How many members the whole list holds (role and search applied)."""
        assert self.query is not None
        sql = self.query.sql("COUNT(*) AS n", with_user=False)  # an index-only count of memberships
        rows = await fetch_rows(self.query.db, sql, self.query.values)
        return int(rows[0][0])


async def program_members(
    *, program_id: int, role: ProgramRole | None, words: list[str], window: Window[MemberCursor]
) -> MemberPage:
    """The members of the program that `window` selects, each with every word of
    `words` (folded) starting one of the words of their name."""
    base = _Query(program_id, role, words)
    bounded = base
    if window.after is not None:
        bounded = bounded.beyond(window.after, later=True, inclusive=False)
    if window.before is not None:
        bounded = bounded.beyond(window.before, later=False, inclusive=False)

    async def fetch(forward: bool, limit: int) -> list[User]:
        query = bounded.copy()
        direction = "" if forward else " DESC"
        tail = f" ORDER BY u.sort_name{direction}, u.id{direction} LIMIT {query.param(limit)}"
        columns = ", ".join(f'u."{c}"' for c in USER_COLUMNS)
        rows = await fetch_rows(query.db, query.sql(columns, tail), query.values)
        return [from_row(User, row, _USER_COLUMN_PLACES) for row in rows]

    async def exists(later: bool, cursor: MemberCursor) -> bool:
        query = base.beyond(cursor, later=later, inclusive=True)
        # Ordered, so the nearest row past the cursor is looked up in the (sort_name, id)
        # index rather than met by chance in a scan.
        direction = "" if later else " DESC"
        tail = f" ORDER BY u.sort_name{direction}, u.id{direction} LIMIT 1"
        return bool(await fetch_rows(query.db, query.sql("1 AS found", tail), query.values))

    page = await fetch_page(window, fetch, exists)
    return MemberPage(page.rows, page.has_next, page.has_previous, query=base)
