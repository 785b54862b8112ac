"""Live registrations for hosts, live session state for members: fields of the
Subscription root (assembled in app.api.schema).

Each resolver is a plain `async def` that checks access and opens the broker
subscription *before* returning the event stream. graphql-core treats an error raised
there as a failure to create the stream, so graphql-transport-ws clients get an `error`
message (and no events) for a refused subscription, instead of `next` + `complete`.

Streams yield `SharedEvent`s, one per message and process, so subscribers asking the
same thing share one execution (see live_execution.py). On a WebSocket each event is first
offered to `deliver`, which sends it itself when that gives the same frame (see there);
only the others are yielded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.api import visibility
from app.api.enums import RegistrationEventKind
from app.api.errors import TopLevelError, TopLevelErrorCode
from app.api.group_sessions.types import GroupSession, Registration, RegistrationEvent, viewer_state
from app.api.live_execution import SharedEvent, deliver
from app.api.loaders import EventReads, Loaders
from app.api.mutation import require_viewer
from app.api.pagination import pk_of
from app.api.websocket import StillVisible
from app.group_sessions.models import SessionStatus
from app.live.broker import BrokerUnavailable, Subscription as BrokerSubscription, SubscriberTooSlow
from app.live.publisher import (
    host_channel,
    registration_from_message,
    session_channel,
    session_from_snapshot,
    user_from_message,
)



async def _open(info: Info, channel: str, still_visible: StillVisible | None = None) -> BrokerSubscription:
    """Open the broker subscription for this operation, or refuse with LIVE_UPDATES_UNAVAILABLE.

    On a WebSocket, `still_visible` is asked again whenever the viewer's access changes (a
    membership removed): the subscription ends with NOT_FOUND when it answers False.

    The subscription is closed when the event stream ends and, as a safety net, when the
    operation's task ends (a stream cancelled before its first step never runs its
    `finally`). On a WebSocket, overflowing its queue closes the whole connection: the
    socket is what is too slow, and the stuck operation could not report it itself.
    """
    broker = info.context.broker
    try:
        subscription = await broker.open(channel)
    except BrokerUnavailable:
        raise TopLevelError(
            "Live updates are unavailable right now; try again shortly.", TopLevelErrorCode.LIVE_UPDATES_UNAVAILABLE
        ) from None
    viewer = getattr(info.context, "viewer", None)
    subscription.viewer_id = viewer.id if viewer is not None else None
    task = asyncio.current_task()
    guard = getattr(info.context, "guard_subscription", None)
    stop_guarding = guard(subscription, still_visible) if guard is not None and still_visible is not None else None
    if task is not None:
        task.add_done_callback(lambda _: broker.close(subscription))
        if stop_guarding is not None:
            task.add_done_callback(lambda _: stop_guarding())
    drop_connection = getattr(info.context, "drop_connection", None)
    if drop_connection is not None:
        subscription.on_overflow = drop_connection
    # The loaders served the access check; an idle socket would keep them (and the rows they
    # read) for as long as it stays subscribed. Events get loaders of their own.
    fresh_loaders = getattr(info.context, "fresh_loaders", None)
    if fresh_loaders is not None:
        fresh_loaders()
    return subscription


@contextmanager
def _broker_errors(info: Info, subscription: BrokerSubscription) -> Iterator[None]:
    """Around reading the subscription's messages: broker failures turned into client
    errors, and the subscription closed when reading ends. A block around the stream's own
    `async for`, not an async generator of the messages: that would be one more generator
    every subscriber resumes on every event."""
    try:
        yield
    except BrokerUnavailable:
        raise TopLevelError(
            "Live updates were interrupted; subscribe again (and refetch) shortly.",
            TopLevelErrorCode.LIVE_UPDATES_UNAVAILABLE,
        ) from None
    except SubscriberTooSlow:
        raise TopLevelError(
            "Too many updates went undelivered; subscribe again and refetch.", TopLevelErrorCode.SUBSCRIBER_TOO_SLOW
        ) from None
    finally:
        info.context.broker.close(subscription)


_ROWS = "_rows"  # never published: added by the receiving process


def _rows(message: dict[str, Any]) -> dict[str, Any]:
    """The ORM rows a message describes, built once per message and process: every local
    subscriber receives the same dict, and building Tortoise rows is not cheap."""
    rows = message.get(_ROWS)
    if rows is None:
        rows = message[_ROWS] = {"session": session_from_snapshot(message["session"]), "reads": EventReads()}
        if "registration" in message:
            rows["registration"] = registration_from_message(message["registration"])
        if message.get("participant"):
            rows["participant"] = user_from_message(message["participant"])
    return rows


def _preparer(rows: dict[str, Any]):
    """The context of an execution of this event: the connection's, with fresh loaders (a
    subscription is one operation lasting hours: loaders kept from one event to the next
    would serve stale rows), primed with what the message carries so it is not read again,
    and reading each viewer's own rows with every other local subscriber's (`EventReads`)."""
    session = rows["session"]
    participant = rows.get("participant")
    # Not `rows` itself: the event this function prepares is kept in `rows`, and a closure
    # over `rows` would make a reference cycle of every message.
    reads = rows["reads"]

    def prime(loaders: Loaders) -> None:
        loaders.prime_when_made("session_by_id", session.id, session)
        if participant is not None:
            loaders.prime_when_made("user_by_id", participant.id, participant)

    def prepare(context: Any) -> Any:
        return context.for_event(reads, prime)

    return prepare


def _registration_event(message: dict[str, Any]) -> SharedEvent:
    rows = _rows(message)
    if "event" not in rows:
        rows["event"] = SharedEvent(
            RegistrationEvent(
                kind=RegistrationEventKind(message["kind"]),
                registration=Registration.from_row(rows["registration"]),
                session=GroupSession.from_row(rows["session"]),
                occurred_at=datetime.fromisoformat(message["occurred_at"]),
            ),
            _preparer(rows),
        )
    return rows["event"]


def _sender(info: Info) -> Any:
    """The function sending this operation's `next` messages directly (WebSocket only)."""
    next_sender = getattr(info.context, "next_sender", None)
    return next_sender() if next_sender is not None else None


async def _registration_events(
    info: Info, subscription: BrokerSubscription, only_session: int | None
) -> AsyncGenerator[SharedEvent, None]:
    send = _sender(info)
    with _broker_errors(info, subscription):
        async for message in subscription:
            session_id = message["session"]["id"]
            if only_session is not None and session_id != only_session:
                continue
            if message["type"] == "cancelled":
                if only_session is not None:
                    return
                continue
            if message["type"] == "registration":
                event = _registration_event(message)
                if not await deliver(event, send):
                    yield event


def _viewers_read(rows: dict[str, Any], subscription: BrokerSubscription, fanout: Any) -> asyncio.Future:
    """The registrations of every local subscriber of the message's channel, read once for
    all of them (the first subscriber to get the message starts it, the others wait for
    the same read): their executions then know their own viewerIsAttending and
    viewerCanJoin without waiting on a query each. A subscriber who is not among them (it
    subscribed meanwhile) still gets its row, through the event's shared loader."""
    read = rows.get("viewers")
    if read is None:
        viewer_ids = sorted(
            {s.viewer_id for s in fanout.subscribers.get(subscription.channel, ()) if s.viewer_id is not None}
        )
        task = asyncio.ensure_future(rows["reads"].load_registrations(rows["session"].id, viewer_ids))
        read = rows["viewers"] = _ReadDone()
        task.add_done_callback(read.settle)
    return read


class _ReadDone(asyncio.Future):
    """Done when the read of every subscriber's rows is, for all of them to await as it is.

    A subscriber going away must not cancel the read for the others, and a task that is
    cancelled cancels the future it awaits: this one refuses (its `cancel` returns False),
    so a subscriber cancelled meanwhile stops as soon as the read is done (its task keeps
    the cancellation and raises it then). Not a shield per subscriber: a thousand shields
    per event (a future, two closures and their callbacks each) outlive the garbage
    collector's young passes, and the objects they promote bring on its full passes, which
    stop every socket of the process for a few hundred milliseconds (measured)."""

    def cancel(self, msg: Any = None) -> bool:
        return False

    def settle(self, task: asyncio.Future) -> None:
        """The read task's done callback."""
        if task.cancelled():
            super().cancel()  # the read itself was cancelled (shutdown): so are the waiters
        elif task.exception() is not None:
            self.set_exception(task.exception())
        else:
            self.set_result(None)


def _viewer_state(rows: dict[str, Any]):
    """`SharedEvent.viewer_state` for a session event: from the subscriber's connection and
    the rows read for every subscriber (no context or loaders made per subscriber)."""
    reads = rows["reads"]

    def state(session: GroupSession, connection: Any, names: frozenset[str]) -> tuple | None:
        return viewer_state(session, connection.viewer, connection.viewer_roles, reads, names)

    return state


async def _session_updates(info: Info, subscription: BrokerSubscription) -> AsyncGenerator[SharedEvent, None]:
    fanout = info.context.broker.fanout
    send = _sender(info)
    with _broker_errors(info, subscription):
        async for message in subscription:
            rows = _rows(message)
            if "event" not in rows:
                rows["event"] = SharedEvent(GroupSession.from_row(rows["session"]), _preparer(rows), _viewer_state(rows))
            await _viewers_read(rows, subscription, fanout)
            if not await deliver(rows["event"], send):
                yield rows["event"]
            if rows["session"].status == SessionStatus.CANCELLED:
                return


@strawberry.subscription(
    description="Pushes each registration change on sessions the viewer hosts: all of them (including sessions "
    "created after subscribing), or the one named by sessionId, which the viewer must host (otherwise an error "
    "NOT_FOUND and no events). With sessionId, the subscription completes when that session is cancelled (no "
    "event is sent for the cancellation itself); without it, it goes on (cancelled sessions simply produce no "
    "more events). Events are sent only after their change committed. If live updates are interrupted (error "
    "code LIVE_UPDATES_UNAVAILABLE), subscribe again and refetch."
)
async def registration_events(
    info: Info, session_id: strawberry.ID | None = None
) -> AsyncGenerator[RegistrationEvent, None]:
    viewer = require_viewer(info)
    only_session = None
    if session_id is not None:
        only_session = pk_of(session_id, "GroupSession")
        row = await visibility.visible_session(info.context.loaders, only_session) if only_session else None
        if row is None or row.host_id != viewer.id:
            raise TopLevelError("No such group session among those you host.", TopLevelErrorCode.NOT_FOUND)
    still_visible = None
    if only_session is not None:

        async def still_visible(loaders: Loaders) -> bool:
            row = await visibility.visible_session(loaders, only_session)
            return row is not None and row.host_id == viewer.id

    subscription = await _open(info, host_channel(viewer.id), still_visible)
    return _registration_events(info, subscription, only_session)


@strawberry.subscription(
    description="The session again whenever its seats, time, details or status change, an invited guest "
    "declines, or its room opens (at joinOpensAt: room and viewerCanEnter turn on for the host and confirmed "
    "participants, so an Enter button appears without a reload), for any member who can see it (a Join button "
    "turns into Full without a reload). After a "
    "cancellation it sends the cancelled session once more and completes. An ID the viewer cannot see gets an error NOT_FOUND."
)
async def group_session_updated(info: Info, id: strawberry.ID) -> AsyncGenerator[GroupSession, None]:
    require_viewer(info)
    pk = pk_of(id, "GroupSession")
    row = await visibility.visible_session(info.context.loaders, pk) if pk else None
    if row is None:
        raise TopLevelError("No such group session.", TopLevelErrorCode.NOT_FOUND)
    async def still_visible(loaders: Loaders) -> bool:
        return await visibility.visible_session(loaders, pk) is not None

    subscription = await _open(info, session_channel(pk), still_visible)
    return _session_updates(info, subscription)
