"""Per-operation DataLoaders: every field that resolves related data goes through one,
so a page of N sessions costs a fixed handful of statements, not N of them.

A `Loaders` lives for one operation (see `extensions.FreshLoaders`): a WebSocket keeps
its context for hours, and loaders kept that long would serve stale rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.accounts.models import Membership, Program, ProgramRole, User
from app.group_sessions import queries
from app.group_sessions.models import GroupSession, Guest, Registration


def _by_id(model):
    async def load(ids: Sequence[int]):
        rows = {row.id: row for row in await model.filter(id__in=list(set(ids)))}
        return [rows.get(i) for i in ids]

    return load


class Loaders:
    def __init__(self, viewer: User | None) -> None:
        self.viewer = viewer
        self.user_by_id: DataLoader[int, User | None] = DataLoader(_by_id(User))
        self.program_by_id: DataLoader[int, Program | None] = DataLoader(_by_id(Program))
        self.session_by_id: DataLoader[int, GroupSession | None] = DataLoader(_by_id(GroupSession))
        self.registration_by_id: DataLoader[int, Registration | None] = DataLoader(_by_id(Registration))
        self.guest_ids_by_session: DataLoader[int, list[int]] = DataLoader(self._guest_ids)
        self.viewer_registration_by_session: DataLoader[int, Registration | None] = DataLoader(
            self._viewer_registrations
        )
        self.participants_by_session: DataLoader[tuple[int, int, int | None], list[Registration]] = DataLoader(
            self._participants
        )
        self._viewer_roles: dict[int, ProgramRole] | None = None

    def prime_sessions(self, rows: Sequence[GroupSession]) -> None:
        """Rows a list query already returned need not be loaded again by ID."""
        for row in rows:
            self.session_by_id.prime(row.id, row)

    async def viewer_roles(self) -> dict[int, ProgramRole]:
        """The viewer's programs and roles, loaded once per operation (one statement)."""
        if self._viewer_roles is None:
            if self.viewer is None:
                self._viewer_roles = {}
            else:
                roles = await queries.program_roles_of(self.viewer.id)
                self._viewer_roles = {pid: ProgramRole(role) for pid, role in roles.items()}
        return self._viewer_roles

    async def viewer_role(self, program_id: int) -> ProgramRole | None:
        return (await self.viewer_roles()).get(program_id)

    async def can_see_program(self, program_id: int) -> bool:
        return await self.viewer_role(program_id) is not None

    async def can_see_user(self, user_id: int) -> bool:
        """The viewer sees themself and anyone sharing a program with them."""
        if self.viewer is None:
            return False
        if user_id == self.viewer.id:
            return True
        programs = list((await self.viewer_roles()).keys())
        return bool(programs) and await _shares_program(user_id, programs)

    async def _guest_ids(self, session_ids: Sequence[int]) -> list[list[int]]:
        grouped: dict[int, list[int]] = defaultdict(list)
        for session_id, user_id in await Guest.filter(session_id__in=list(set(session_ids))).order_by("id").values_list(
            "session_id", "user_id"
        ):
            grouped[session_id].append(user_id)
        return [grouped.get(sid, []) for sid in session_ids]

    async def _viewer_registrations(self, session_ids: Sequence[int]) -> list[Registration | None]:
        if self.viewer is None:
            return [None] * len(session_ids)
        rows = {
            row.session_id: row
            for row in await Registration.filter(user_id=self.viewer.id, session_id__in=list(set(session_ids)))
        }
        return [rows.get(sid) for sid in session_ids]

    async def _participants(self, keys: Sequence[tuple[int, int, int | None]]) -> list[list[Registration]]:
        # Keys are (session_id, first, after_id); one statement per distinct page shape,
        # which in practice is one statement.
        by_shape: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for session_id, first, after_id in keys:
            by_shape[(first, after_id)].append(session_id)
        pages: dict[tuple[int, int, int | None], list[Registration]] = {}
        for (first, after_id), session_ids in by_shape.items():
            found = await queries.participants_of_sessions(sorted(set(session_ids)), first=first, after_id=after_id)
            for session_id in session_ids:
                pages[(session_id, first, after_id)] = found[session_id]
        return [pages[key] for key in keys]


async def _shares_program(user_id: int, program_ids: list[int]) -> bool:
    return await Membership.exists(user_id=user_id, program_id__in=program_ids)
