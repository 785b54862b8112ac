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

from app.accounts import member_list, models, name_search
from app.api import visibility
from app.calendars import feed as calendar_feed
from app.api.enums import ProgramRole, Timeframe
from app.api.errors import BadUserInput
from app.api.loaders import MISSING
from app.api.pagination import (
    After,
    Before,
    First,
    GlobalIdOf,
    Last,
    Node,
    OnFirstRead,
    PageInfo,
    connection_window,
    decode_member_cursor,
    decode_session_cursor,
    member_cursor,
    page_info,
)
from app.group_sessions import read_model, rules
from app.keyset import Slice

if TYPE_CHECKING:
    from app.api.group_sessions.types import GroupSessionConnection

_SESSION_TYPES = "app.api.group_sessions.types"
_new = object.__new__  # an instance without its dataclass __init__ (see the from_row methods)


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
        # Built without the dataclass __init__ (a participants page makes hundreds); `id` is
        # the class's GlobalIdOf, computed when read.
        self = _new(cls)
        self.row = row
        self.name = row.name
        self.time_zone = row.time_zone
        return self

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
        viewer = info.context.viewer
        # The viewer's own row (from the token lookup) has it; rows read for lists may not.
        return viewer.email_reminders if visibility.can_see_email(viewer, self.row.id) else None

    @strawberry.field(
        description="The profile page's 'Upcoming group sessions': sessions this user hosts that have not ended "
        "and are not cancelled, soonest first. Only sessions of programs the viewer belongs to are listed."
    )
    async def upcoming_group_sessions(
        self, info: Info, first: First = 20, after: After = None, last: Last = None, before: Before = None
    ) -> Annotated["GroupSessionConnection", strawberry.lazy(_SESSION_TYPES)]:
        window = connection_window(
            info, first=first, after=after, last=last, before=before, decode=decode_session_cursor
        )
        page = await read_model.upcoming_hosted_sessions(
            host_id=self.row.id,
            visible_program_ids=await visibility.member_program_ids(info.context.loaders),
            window=window,
            now=info.context.clock(),
        )
        return _connection().from_page(page, info)

    @strawberry.field(
        description="Every program this user belongs to, with their role there, by program name. "
        "Only the viewer sees their own; null for everyone else."
    )
    async def memberships(self, info: Info) -> list[ProgramMembership] | None:
        viewer = info.context.viewer
        if viewer is None or viewer.id != self.row.id:
            return None
        loaders = info.context.loaders
        roles = await loaders.viewer_roles()  # came with the token: usually no statement
        programs = [p for p in await loaders.program_by_id.load_many(list(roles)) if p is not None]
        programs.sort(key=lambda p: (name_search.sort_key(p.name), p.id))
        return [ProgramMembership(program=Program.from_row(p), role=roles[p.id]) for p in programs]


User.id = GlobalIdOf("User")


@strawberry.type(description="The viewer's place in a program: their role, and what it lets them do.")
class ProgramMembership:
    program: Program = strawberry.field(description="The program.")
    role: ProgramRole = strawberry.field(description="The viewer's role in the program.")

    @strawberry.field(
        description="True when the viewer may host group sessions in this program (mentors and admins): "
        "the programs to offer in the create form."
    )
    def viewer_can_host(self) -> bool:
        return rules.may_host(self.role)


@strawberry.type(description="A user in a list, with their cursor.")
class UserEdge:
    node: User = strawberry.field(description="The user.")
    cursor: str = strawberry.field(
        description="Pass as `after` to get the users after this one, as `before` for those before it."
    )

    @classmethod
    def of(cls, row: models.User) -> UserEdge:
        """The edge a member list gives `row` (with its `sort_name`); its cursor is computed when read."""
        self = _new(cls)
        self.node = User.from_row(row)
        return self


UserEdge.cursor = OnFirstRead("cursor", lambda edge: member_cursor(edge.node.row))


@strawberry.type(description="A page of users.")
class UserConnection:
    edges: list[UserEdge] = strawberry.field(description="The users of this page, in list order.")
    nodes: list[User] = strawberry.field(
        description="The same users as `edges`, without cursors (for a client that needs none)."
    )
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    page: strawberry.Private[member_list.MemberPage | None]

    @strawberry.field(description="How many users the whole list holds, across all pages.")
    async def total_count(self) -> int:
        return await self.page.total_count() if self.page is not None else 0

    @classmethod
    def empty(cls) -> UserConnection:
        return cls(edges=[], nodes=[], page_info=page_info([], Slice([], False, False)), page=None)


@strawberry.type(description="A mentoring program: its members may host and join its group sessions.")
class Program(Node):
    row: strawberry.Private[models.Program]

    name: str = strawberry.field(description="The program's name.")

    @classmethod
    def from_row(cls, row: models.Program) -> Program:
        self = _new(cls)  # as User.from_row
        self.row = row
        self.name = row.name
        return self

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
        first: First = 20,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Annotated["GroupSessionConnection", strawberry.lazy(_SESSION_TYPES)]:
        window = connection_window(
            info, first=first, after=after, last=last, before=before, decode=decode_session_cursor
        )
        page = await read_model.program_sessions(
            program_id=self.row.id, timeframe=timeframe, window=window, now=info.context.clock()
        )
        return _connection().from_page(page, info)

    @strawberry.field(
        description="The program's members, for picking guests: ordered by name. Only members of the program "
        "see it (for anyone else the program itself is null). Emails are never shown here."
    )
    async def members(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Words that must each start a word of the name, ignoring case and accents: "
                f"'ada', 'lov' and 'élo' find 'Ada Lovelace' and 'Éloïse'. At most "
                f"{name_search.SEARCH_MAX_CHARS} characters and {name_search.SEARCH_MAX_WORDS} words "
                "(more is a BAD_USER_INPUT error)."
            ),
        ] = None,
        role: Annotated[
            ProgramRole | None, strawberry.argument(description="Only the members with this role.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> UserConnection:
        window = connection_window(
            info, first=first, after=after, last=last, before=before, decode=decode_member_cursor
        )
        try:
            words = name_search.search_words(search or "")
        except ValueError as error:
            raise BadUserInput(str(error)) from None
        if not await visibility.is_member(info.context.loaders, self.row.id):
            return UserConnection.empty()
        page = await member_list.program_members(program_id=self.row.id, role=role, words=words, window=window)
        loaders = info.context.loaders
        for row in page.rows:
            loaders.user_by_id.prime(row.id, row)
        edges = [UserEdge.of(row) for row in page.rows]
        return UserConnection(edges=edges, nodes=[e.node for e in edges], page_info=page_info(edges, page), page=page)


Program.id = GlobalIdOf("Program")
