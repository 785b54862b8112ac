"""Relay object identification: `Query.node` and `Query.nodes` fetch any object by its
global ID, across the domains (fields of the Query root, assembled in app.api.schema)."""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.types import Info

from app.api import visibility
from app.api.accounts.types import Program, User
from app.api.errors import BadUserInput
from app.api.group_sessions.types import GroupSession, Registration
from app.api.loaders import Loaders
from app.api.mutation import require_viewer
from app.api.pagination import Node, from_global_id

MAX_NODES = 100

# Type name -> (the row if the viewer may see it, the type that shows it).
_RESOLVERS = {
    "GroupSession": (visibility.visible_session, GroupSession),
    "Program": (visibility.visible_program, Program),
    "User": (visibility.visible_user, User),
    "Registration": (visibility.visible_registration, Registration),
}


async def visible_node(loaders: Loaders, global_id: str) -> Node | None:
    """The object a global ID names if the viewer may see it; None otherwise (also for an
    ID that does not exist, so outsiders learn nothing)."""
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    type_name, pk = parsed
    visible, node_type = _RESOLVERS[type_name]
    row = await visible(loaders, pk)
    return node_type.from_row(row) if row else None


@strawberry.field(description="Fetches any object by its global ID; null when it does not exist or is not visible.")
async def node(info: Info, id: strawberry.ID) -> Node | None:
    require_viewer(info)
    return await visible_node(info.context.loaders, id)


@strawberry.field(description="Fetches objects by global ID, in order; null for each one not visible. At most 100.")
async def nodes(info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
    require_viewer(info)
    if len(ids) > MAX_NODES:
        raise BadUserInput(f"ids may hold at most {MAX_NODES} IDs.")
    # gathered, so the loaders batch the lookups into a few statements
    return list(await asyncio.gather(*(visible_node(info.context.loaders, i) for i in ids)))
