"""Reading users and programs: fields of the Query root (assembled in app.api.schema)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.api import visibility
from app.api.accounts.types import Program, User
from app.api.mutation import require_viewer
from app.api.pagination import pk_of


@strawberry.field(description="The signed-in user; null without a valid token.")
def viewer(info: Info) -> User | None:
    row = info.context.viewer
    return User.from_row(row) if row else None


@strawberry.field(description="A member's public profile page (View profile). Null when not visible to the viewer.")
async def profile(info: Info, user_id: strawberry.ID) -> User | None:
    require_viewer(info)
    pk = pk_of(user_id, "User")
    row = await visibility.visible_user(info.context.loaders, pk) if pk else None
    return User.from_row(row) if row else None


@strawberry.field(description="A program the viewer belongs to; null otherwise.")
async def program(info: Info, id: strawberry.ID) -> Program | None:
    require_viewer(info)
    pk = pk_of(id, "Program")
    row = await visibility.visible_program(info.context.loaders, pk) if pk else None
    return Program.from_row(row) if row else None
