"""Users and programs.

Each type wraps an ORM row (`row`, private to the API) and resolves related data only
through the per-operation loaders in `info.context.loaders`. A user's and a program's
session lists are group-session types: `app.api.group_sessions.types` imports this module
(a session has a host and a program), so those are referred to lazily here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from app.accounts import models
from app.api import visibility
from app.calendars import feed as calendar_feed
from app.api.enums import ProgramRole, Timeframe
from app.api.loaders import MISSING
from app.api.pagination import Node, check_first, decode_session_cursor, to_global_id
from app.group_sessions import read_model

if TYPE_CHECKING:
    from app.api.group_sessions.types import GroupSessionConnection

_SESSION_TYPES = "app.api.group_sessions.types"


def _connection() -> type[GroupSessionConnection]:
    from app.api.group_sessions.types import GroupSessionConnection  # noqa: PLC0415 (see the module docstring)

    return GroupSessionConnection


def _user_email(root: User, info: Info) -> str | None:
    return root.row.email if visibility.can_see_email(info.context.viewer, root.row.id) else None


@strawberry.type(description="A member of one or more programs.")
class User(Node):
    row: strawberry.Private[models.User]

    # Plain attributes rather than resolver methods where the value is the row's: graphql-
    # core reads those with getattr, several times cheaper per field than a resolver call.
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def from_row(cls, row: models.User) -> User:
        return cls(id=strawberry.ID(to_global_id("User", row.id)), row=row, name=row.name, time_zone=row.time_zone)

    email: str | None = strawberry.field(
        resolver=_user_email, description="Only visible to the user themself; null for everyone else."
    )

    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Paris.")

    @strawberry.field(
        description="The viewer's private calendar feed link (text/calendar; subscribe to it in a calendar app): "
        "every session they host or attend. Null for anyone but the viewer. Keep it secret; "
        "resetCalendarFeedUrl replaces it."
    )
    async def calendar_feed_url(self, info: Info) -> str | None:
        if not visibility.can_see_email(info.context.viewer, self.row.id):
            return None
        return await calendar_feed.feed_url_for(self.row.id, info.context.settings)

    @strawberry.field(
        description="Whether the viewer gets reminders before sessions (updateViewer changes it). "
        "Null for anyone but the viewer."
    )
    def email_reminders(self, info: Info) -> bool | None:
        return self.row.email_reminders if visibility.can_see_email(info.context.viewer, self.row.id) else None

    @strawberry.field(
        description="The profile page's 'Upcoming group sessions': sessions this user hosts that have not ended "
        "and are not cancelled, soonest first. Only sessions of programs the viewer belongs to are listed."
    )
    async def upcoming_group_sessions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated["GroupSessionConnection", strawberry.lazy(_SESSION_TYPES)]:
        size = check_first(first, info.context.settings.max_page_size)
        page = await read_model.upcoming_hosted_sessions(
            host_id=self.row.id,
            visible_program_ids=await visibility.member_program_ids(info.context.loaders),
            first=size,
            after=decode_session_cursor(after),
        )
        return _connection().from_page(page, info, after=after)


@strawberry.type(description="A mentoring program: its members may host and join its group sessions.")
class Program(Node):
    row: strawberry.Private[models.Program]

    name: str = strawberry.field(description="The program's name.")

    @classmethod
    def from_row(cls, row: models.Program) -> Program:
        return cls(id=strawberry.ID(to_global_id("Program", row.id)), row=row, name=row.name)

    @strawberry.field(description="The viewer's role here; null when the viewer is not a member.")
    def viewer_role(self, info: Info) -> ProgramRole | None:
        loaders = info.context.loaders
        role = loaders.known_viewer_role(self.row.id)
        return loaders.viewer_role(self.row.id) if role is MISSING else role

    @strawberry.field(description="Sessions of this program anyone in it may join, soonest first.")
    async def group_sessions(
        self,
        info: Info,
        timeframe: Timeframe = Timeframe.FUTURE,
        first: int | None = 20,
        after: str | None = None,
    ) -> Annotated["GroupSessionConnection", strawberry.lazy(_SESSION_TYPES)]:
        size = check_first(first, info.context.settings.max_page_size)
        page = await read_model.program_sessions(
            program_id=self.row.id, timeframe=timeframe, first=size, after=decode_session_cursor(after)
        )
        return _connection().from_page(page, info, after=after)
