"""Subscription root: live registrations for hosts, live session state for members."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.api.relay import pk_of
from app.api.types.nodes import (
    GroupSession,
    Registration,
    RegistrationEvent,
    RegistrationEventKind,
    visible_session,
)
from app.live.publisher import (
    host_channel,
    registration_from_message,
    session_channel,
    session_from_snapshot,
)


def _not_found(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "NOT_FOUND"})


@strawberry.type(description="Live updates over WebSocket (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description="Pushes each registration change on sessions the viewer hosts: all of them, or the one named "
        "by sessionId (which the viewer must host). With sessionId, the subscription completes when that session "
        "is cancelled; without it, it goes on (cancelled sessions simply produce no more events)."
    )
    async def registration_events(
        self, info: Info, session_id: strawberry.ID | None = None
    ) -> AsyncGenerator[RegistrationEvent, None]:
        viewer = info.context.require_viewer()
        only_session = None
        if session_id is not None:
            only_session = pk_of(session_id, "GroupSession")
            session = await visible_session(info, only_session) if only_session else None
            if session is None or session.row.host_id != viewer.id:
                raise _not_found("No such group session among those you host.")
        async with info.context.broker.subscribe(host_channel(viewer.id)) as messages:
            async for message in messages:
                snapshot = message["session"]
                if only_session is not None and snapshot["id"] != only_session:
                    continue
                if message["type"] == "cancelled":
                    if only_session is not None:
                        return
                    continue
                yield RegistrationEvent(
                    kind=RegistrationEventKind(message["kind"]),
                    registration=Registration.from_row(registration_from_message(message["registration"])),
                    session=GroupSession.from_row(session_from_snapshot(snapshot)),
                    occurred_at=datetime.fromisoformat(message["occurred_at"]),
                )

    @strawberry.subscription(
        description="The session again whenever its seats, time, details or status change, for any member who can "
        "see it (a Join button turns into Full without a reload). After a cancellation it sends the cancelled "
        "session once more and completes."
    )
    async def group_session_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[GroupSession, None]:
        info.context.require_viewer()
        pk = pk_of(id, "GroupSession")
        session = await visible_session(info, pk) if pk else None
        if session is None:
            raise _not_found("No such group session.")
        async with info.context.broker.subscribe(session_channel(pk)) as messages:
            async for message in messages:
                row = session_from_snapshot(message["session"])
                yield GroupSession.from_row(row)
                if row.status.value == "CANCELLED":
                    return
