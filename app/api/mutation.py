"""The steps every mutation shares, and the one authentication check.

A mutation resolver decodes its input, calls one service and builds its payload; `mutate`
does the rest: it refuses a missing viewer with the top-level UNAUTHENTICATED error and
turns a `DomainError` (an ID that names nothing, a command the service refused) into the
payload's `userErrors`, with nothing changed. Payload types give every field but
`userErrors` a default, so `Payload(user_errors=...)` is the refusal.

Given the mutation's `input`, `mutate` also refuses a malformed date in it (a `Malformed`
the date scalars let through) as a userError on that field, before anything runs. Given
the session the mutation is about (`session_id`), a refusal carries the session as it is
(`groupSession`), when it exists and the viewer may see it, so a client that changed its
screen ahead of the answer can put it back without asking again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from strawberry.types import Info

from app.accounts.models import User
from app.api import visibility
from app.api.errors import Unauthenticated, user_errors
from app.api.pagination import pk_of
from app.api.scalars import Malformed
from app.errors import DomainError, ErrorCode, Problem
from app.group_sessions import rules
from app.group_sessions.models import GroupSession as SessionRow


P = TypeVar("P")  # a payload type: every field but user_errors has a default


def require_viewer(info: Info) -> User:
    """The signed-in user, or the top-level UNAUTHENTICATED error. Queries, mutations and
    subscriptions all check sign-in with this."""
    viewer = info.context.viewer
    if viewer is None:
        raise Unauthenticated()
    return viewer


def decode_id(global_id: str, type_name: str, *, message: str, field: tuple[str, ...] = ("input", "id")) -> int:
    """The primary key of a `type_name` ID from the input; anything else is refused as
    NOT_FOUND at `field` (raised as a DomainError, so `mutate` reports it)."""
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, message, field)
    return pk


def malformed_dates(value: Any, info: Info, path: tuple[str, ...] = ("input",)) -> list[Problem]:
    """An INVALID problem for every `Malformed` date in the input object `value` (nested
    inputs and lists included), at its field path in GraphQL names."""
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is None:
        return []
    converter = info.schema.config.name_converter
    problems = []
    for field in definition.fields:
        name = converter.get_graphql_name(field)
        problems.extend(_malformed_in(getattr(value, field.python_name, None), info, (*path, name), name))
    return problems


def _malformed_in(value: Any, info: Info, path: tuple[str, ...], name: str) -> list[Problem]:
    if isinstance(value, Malformed):
        example = "2027-03-29T17:00" if "Local" in name else "2027-03-29T17:00:00+02:00"
        if value.missing_offset:
            message = f"{rules.label(name)} must include a UTC offset, such as {example}."
        else:
            message = f"{rules.label(name)} must be a real date and time, such as {example}."
        return [Problem(ErrorCode.INVALID, message, path)]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _malformed_in(item, info, (*path, str(index)), name)]
    if dataclasses.is_dataclass(value):
        return malformed_dates(value, info, path)
    return []


async def session_as_it_is(info: Info, session_id: str | None) -> Any:
    """The session a refused mutation was about, as it is now (a fresh read: the refused
    transaction rolled back), as the API's GroupSession; None when the ID names no session
    or the viewer may not see it."""
    from app.api.group_sessions.types import GroupSession  # which imports this module

    pk = pk_of(session_id, "GroupSession") if session_id else None
    if pk is None:
        return None
    row = await SessionRow.get_or_none(id=pk)
    if row is None or not await visibility.is_member(info.context.loaders, row.program_id):
        return None
    info.context.loaders.session_by_id.prime(pk, row, force=True)
    return GroupSession.from_row(row)


async def mutate(
    info: Info,
    payload: type[P],
    change: Callable[[Any], Awaitable[P]],
    *,
    sign_in_required: bool = True,
    input: Any = None,
    session_id: str | None = None,
) -> P:
    """`await change(viewer)`, or `payload` carrying the userErrors of the DomainError it
    raised. The viewer is the signed-in user (UNAUTHENTICATED without one), or None
    where the mutation is open to anyone (`sign_in_required=False`: signIn).

    `input`: the mutation's input object; a malformed date in it is refused as a userError
    before `change` runs. `session_id`: the global ID of the session the mutation is
    about; a refusal then carries it as it is (`group_session`), when the viewer may see it."""
    viewer = require_viewer(info) if sign_in_required else info.context.viewer
    try:
        problems = malformed_dates(input, info) if input is not None else []
        if problems:
            raise DomainError(*problems)
        return await change(viewer)
    except DomainError as error:
        refusal = payload(user_errors=user_errors(error))
        if session_id is not None and hasattr(refusal, "group_session"):
            refusal.group_session = await session_as_it_is(info, session_id)
        return refusal
