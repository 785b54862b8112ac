"""A live event's objects are freed when its deliveries end, not when the garbage collector
next runs (see tests/api/test_no_reference_cycles.py): subscribers of both kinds get a join,
under `gc.DEBUG_SAVEALL`, and none of the event's objects may be cyclic garbage."""

from contextlib import AsyncExitStack

from app.api.live_execution import SharedEvent
from tests.api.test_no_reference_cycles import cyclic_garbage, names
from tests.conftest import create_session, join
from tests.live.conftest import WS, wait_for_subscriptions
from tests.live.test_shared_frames import SESSION_UPDATED, _frame

REGISTRATIONS = "subscription { registrationEvents { kind registration { participant { name } } } }"


async def test_a_join_delivered_live_leaves_no_cyclic_garbage(live, api, world):
    session = await create_session(api, world, maxParticipants=20)
    first, second = await world.add_members(2)
    async with AsyncExitStack() as stack:
        members = [await stack.enter_async_context(WS.signed_in(live, m.token)) for m in world.mentees]
        for socket in members:
            await socket.subscribe("s", SESSION_UPDATED, {"id": session["id"]})
        host = await stack.enter_async_context(WS.signed_in(live, world.host.token))
        await host.subscribe("h", REGISTRATIONS, {})
        await wait_for_subscriptions(live, len(members) + 1)
        # A first event makes what lives as long as the process (caches, plans).
        assert (await join(api, first, session["id"]))["userErrors"] == []
        for socket in [*members, host]:
            await _frame(socket)
        with cyclic_garbage(extra=(SharedEvent,)) as found:
            assert (await join(api, second, session["id"]))["userErrors"] == []
            frames = [await _frame(socket) for socket in [*members, host]]
    assert all('"participantCount":3' in frame for frame in frames[:-1])
    assert '"name":"Extra4"' in frames[-1]
    assert names(found) == []
