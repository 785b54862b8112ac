"""The steps every mutation shares, and the one authentication check.

A mutation resolver decodes its input, calls one service and builds its payload; `mutate`
does the rest: it refuses a missing viewer with the top-level UNAUTHENTICATED error and
turns a `DomainError` (an ID that names nothing, a command the service refused) into the
payload's `userErrors`, with nothing changed. Payload types give every field but
`userErrors` a default, so `Payload(user_errors=...)` is the refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from strawberry.types import Info

from app.accounts.models import User
from app.api.errors import Unauthenticated, user_errors
from app.api.pagination import pk_of
from app.errors import DomainError, ErrorCode


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


async def mutate(
    info: Info,
    payload: type[P],
    change: Callable[[Any], Awaitable[P]],
    *,
    sign_in_required: bool = True,
) -> P:
    """`await change(viewer)`, or `payload` carrying the userErrors of the DomainError it
    raised. The viewer is the signed-in user (UNAUTHENTICATED without one), or None
    where the mutation is open to anyone (`sign_in_required=False`: signIn)."""
    viewer = require_viewer(info) if sign_in_required else info.context.viewer
    try:
        return await change(viewer)
    except DomainError as error:
        return payload(user_errors=user_errors(error))
