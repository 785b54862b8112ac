"""Live events executed once per class of viewers and sent as frames encoded once
(app.api.live_execution.deliver): subscribers whose answers cannot differ share one
execution and byte-identical frames; a subscriber whose viewer fields differ gets its own."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

import orjson

from app.api import compiled
from app.api.group_sessions.types import VIEWER_BLIND_FIELDS, VIEWER_STATE_FIELDS
from app.api.schema import build_schema
from tests.conftest import create_session, join
from tests.live.conftest import WAIT, WS, wait_for_subscriptions

SESSION_UPDATED = """
subscription($id: ID!) { groupSessionUpdated(id: $id) {
  id participantCount spotsLeft isFull viewerIsHost viewerIsAttending viewerCanJoin viewerCannotJoinReasons } }
"""
# viewerRegistration is the viewer's own row: not shareable between viewers.
WITH_OWN_ROW = """
subscription($id: ID!) { groupSessionUpdated(id: $id) { participantCount viewerRegistration { status } } }
"""


async def _frame(socket: WS) -> str:
    """The next frame as the server sent it (text, not parsed)."""
    return await asyncio.wait_for(socket.ws.recv(), WAIT)


async def test_equal_viewers_share_one_execution_and_identical_frames(live, api, world):
    session = await create_session(api, world, maxParticipants=20)
    *others, newcomer = await world.add_members(4)
    unregistered = [world.mentor, *others[:2]]
    registered = [*world.mentees, others[2]]
    for member in registered:
        assert (await join(api, member, session["id"]))["userErrors"] == []
    watchers = [world.host, *unregistered, *registered]

    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(WS.signed_in(live, m.token)) for m in watchers]
        for socket in sockets:
            await socket.subscribe("s", SESSION_UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, len(sockets))
        before = compiled.STATS["compiled"]
        assert (await join(api, newcomer, session["id"]))["userErrors"] == []
        frames = [await _frame(socket) for socket in sockets]
        executions = compiled.STATS["compiled"] - before

    by_member = dict(zip((m.user.id for m in watchers), frames, strict=True))
    host_frame = by_member[world.host.user.id]
    # Same class, same bytes (same operation id on each socket): one encoding, shared.
    assert len({by_member[m.user.id] for m in unregistered}) == 1
    assert len({by_member[m.user.id] for m in registered}) == 1
    # Three classes (host, registered, not registered): three executions for seven viewers.
    assert executions == 3
    count = 1 + len(registered) + 1  # the host, the registered members, the newcomer
    common = {"id": session["id"], "participantCount": count, "spotsLeft": 20 - count, "isFull": False}
    expected = {
        host_frame: {**common, "viewerIsHost": True, "viewerIsAttending": True, "viewerCanJoin": False,
                     "viewerCannotJoinReasons": ["ALREADY_REGISTERED"]},
        by_member[unregistered[0].user.id]: {**common, "viewerIsHost": False, "viewerIsAttending": False,
                                             "viewerCanJoin": True, "viewerCannotJoinReasons": []},
        by_member[registered[0].user.id]: {**common, "viewerIsHost": False, "viewerIsAttending": True,
                                           "viewerCanJoin": False, "viewerCannotJoinReasons": ["ALREADY_REGISTERED"]},
    }
    assert len(expected) == 3  # three different frames
    for frame, data in expected.items():
        message = json.loads(frame)
        assert message == {"id": "s", "type": "next", "payload": {"data": {"groupSessionUpdated": data}}}
        # Framed exactly as Strawberry frames a message (compact orjson, keys in its order).
        assert frame == orjson.dumps(message).decode()


async def test_a_selection_of_the_viewers_own_rows_is_executed_per_viewer(live, api, world):
    session = await create_session(api, world, maxParticipants=20)
    (newcomer,) = await world.add_members(1)
    registered, unregistered = world.mentees[0], world.mentor
    assert (await join(api, registered, session["id"]))["userErrors"] == []

    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(WS.signed_in(live, m.token)) for m in (registered, unregistered)]
        for socket in sockets:
            await socket.subscribe("s", WITH_OWN_ROW, {"id": session["id"]})
        await wait_for_subscriptions(live, len(sockets))
        before = compiled.STATS["compiled"]
        assert (await join(api, newcomer, session["id"]))["userErrors"] == []
        seen = [(await socket.next("s"))["data"]["groupSessionUpdated"] for socket in sockets]
        assert compiled.STATS["compiled"] - before == 2

    assert seen == [
        {"participantCount": 3, "viewerRegistration": {"status": "CONFIRMED"}},
        {"participantCount": 3, "viewerRegistration": None},
    ]


def test_the_shareable_fields_are_fields_of_group_session():
    names = set(build_schema()._schema.get_type("GroupSession").fields) | {"__typename"}  # type: ignore[union-attr]
    assert VIEWER_BLIND_FIELDS | VIEWER_STATE_FIELDS <= names
    assert not VIEWER_BLIND_FIELDS & VIEWER_STATE_FIELDS


async def test_every_shareable_field_answers_each_viewer_as_a_query_of_their_own_would(live, api, world):
    """The guard on the hand-kept field lists: viewers who share a class but differ in
    every other way (role, invited or not, admin) each get, on the shared path, what the
    same selection answers them over HTTP, executed for them alone. A field that reads more
    of the viewer than `viewer_state` holds makes two of them differ here."""
    *others, guest, newcomer = await world.add_members(4)
    session = await create_session(api, world, maxParticipants=20, guestIds=[guest.gid])
    assert (await join(api, others[0], session["id"]))["userErrors"] == []
    viewers = [world.host, world.mentor, guest, *world.mentees, world.admin, others[0], others[1]]
    selection = " ".join(sorted((VIEWER_BLIND_FIELDS | VIEWER_STATE_FIELDS) - {"__typename"}))
    subscription = f"subscription($id: ID!) {{ groupSessionUpdated(id: $id) {{ __typename {selection} }} }}"
    query = f"query($id: ID!) {{ groupSession(id: $id) {{ __typename {selection} }} }}"

    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(WS.signed_in(live, m.token)) for m in viewers]
        for socket in sockets:
            await socket.subscribe("s", subscription, {"id": session["id"]})
        await wait_for_subscriptions(live, len(sockets))
        assert (await join(api, newcomer, session["id"]))["userErrors"] == []
        pushed = [await socket.next("s") for socket in sockets]

    for member, message in zip(viewers, pushed, strict=True):
        own = await api.data(query, {"id": session["id"]}, token=member.token)
        assert message == {"data": {"groupSessionUpdated": own["groupSession"]}}, member
