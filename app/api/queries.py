"""Query root."""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.types import Info

from app.api.errors import BadUserInput
from app.api.relay import check_first, pk_of
from app.api.types.common import Node, SessionRole, Timeframe
from app.api.types.nodes import (
    GroupSessionConnection,
    GroupSession,
    Program,
    User,
    decode_session_cursor,
    visible_node,
    visible_session,
    visible_user,
)
from app.group_sessions import queries

MAX_NODES = 100


@strawberry.type(description="The viewer's personal dashboard.")
class Dashboard:
    @strawberry.field(
        description="Dashboard > Sessions: what the viewer hosts or attends. "
        "Cancelled sessions are left out unless includeCancelled."
    )
    async def sessions(
        self,
        info: Info,
        timeframe: Timeframe = Timeframe.FUTURE,
        role: SessionRole | None = None,
        include_cancelled: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> GroupSessionConnection:
        viewer = info.context.require_viewer()
        size = check_first(first, info.context.settings.max_page_size)
        page = await queries.dashboard_sessions(
            viewer_id=viewer.id,
            timeframe=queries.Timeframe(timeframe.value),
            role=queries.SessionRole(role.value) if role else None,
            include_cancelled=bool(include_cancelled),
            first=size,
            after=decode_session_cursor(after),
        )
        return GroupSessionConnection.from_page(page, info, after=after, viewer_attends=True)


@strawberry.type(description="Entry points for reading.")
class Query:
    @strawberry.field(description="Fetches any object by its global ID; null when it does not exist or is not visible.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_viewer()
        return await visible_node(info, id)

    @strawberry.field(description="Fetches objects by global ID, in order; null for each one not visible. At most 100.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        info.context.require_viewer()
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"ids may hold at most {MAX_NODES} IDs.")
        # gathered, so the loaders batch the lookups into a few statements
        return list(await asyncio.gather(*(visible_node(info, i) for i in ids)))

    @strawberry.field(description="The signed-in user; null without a valid token.")
    def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer
        return User.from_row(viewer) if viewer else None

    @strawberry.field(description="The viewer's personal dashboard. Requires a signed-in user.")
    def dashboard(self, info: Info) -> Dashboard:
        info.context.require_viewer()
        return Dashboard()

    @strawberry.field(description="A member's public profile page (View profile). Null when not visible to the viewer.")
    async def profile(self, info: Info, user_id: strawberry.ID) -> User | None:
        info.context.require_viewer()
        pk = pk_of(user_id, "User")
        return await visible_user(info, pk) if pk else None

    @strawberry.field(description="The group session public page (the share URL). Null when not visible to the viewer.")
    async def group_session(self, info: Info, id: strawberry.ID) -> GroupSession | None:
        info.context.require_viewer()
        pk = pk_of(id, "GroupSession")
        return await visible_session(info, pk) if pk else None

    @strawberry.field(description="A program the viewer belongs to; null otherwise.")
    async def program(self, info: Info, id: strawberry.ID) -> Program | None:
        info.context.require_viewer()
        pk = pk_of(id, "Program")
        if pk is None or not await info.context.loaders.can_see_program(pk):
            return None
        row = await info.context.loaders.program_by_id.load(pk)
        return Program.from_row(row) if row else None
