"""Reading group sessions: fields of the Query root (assembled in app.api.schema)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.api import visibility
from app.api.group_sessions.types import Dashboard, GroupSession
from app.api.mutation import require_viewer
from app.api.pagination import pk_of


@strawberry.field(description="The viewer's personal dashboard. Requires a signed-in user.")
def dashboard(info: Info) -> Dashboard:
    require_viewer(info)
    return Dashboard()


@strawberry.field(description="The group session public page (the share URL). Null when not visible to the viewer.")
async def group_session(info: Info, id: strawberry.ID) -> GroupSession | None:
    require_viewer(info)
    pk = pk_of(id, "GroupSession")
    row = await visibility.visible_session(info.context.loaders, pk) if pk else None
    return GroupSession.from_row(row) if row else None
