"""What subscribers see: registrationEvents for hosts, groupSessionUpdated for members."""

from __future__ import annotations

from contextlib import AsyncExitStack

from app.group_sessions.events import RegistrationAdded
from tests.conftest import create_session, join
from tests.documents import CANCEL, JOIN, LEAVE, UPDATE
from tests.live.conftest import WS, wait_for_subscriptions
from tests.scale.statements import StatementLog, count_statements

EVENTS = """
subscription Events($sessionId: ID) {
  registrationEvents(sessionId: $sessionId) {
    kind occurredAt
    registration { isHost participant { name } session { id title } }
    session { id participantCount spotsLeft isFull }
  }
}
"""

UPDATED = """
subscription Updated($id: ID!) {
  groupSessionUpdated(id: $id) { id title participantCount spotsLeft isFull status viewerCanJoin }
}
"""


async def _event(client: WS, op_id: str = "e") -> dict:
    payload = await client.next(op_id)
    assert "errors" not in payload, payload
    return payload["data"]["registrationEvents"]


async def test_host_sees_joined_then_left_with_names_and_counts(live, api, world):
    session = await create_session(api, world, maxParticipants=5)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)

        await join(api, world.mentees[0], session["id"])
        joined = await _event(host)
        assert joined["kind"] == "JOINED"
        assert joined["registration"] == {
            "isHost": False,
            "participant": {"name": "Mentee0"},
            "session": {"id": session["id"], "title": session["title"]},
        }
        assert joined["session"] == {"id": session["id"], "participantCount": 2, "spotsLeft": 3, "isFull": False}
        assert joined["occurredAt"].endswith("Z")

        left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
        assert left["leaveGroupSession"]["userErrors"] == []
        event = await _event(host)
        assert event["kind"] == "LEFT"
        assert event["registration"]["participant"] == {"name": "Mentee0"}
        assert event["session"]["participantCount"] == 1 and event["session"]["spotsLeft"] == 4
        assert event["occurredAt"] >= joined["occurredAt"]


async def test_non_host_is_refused_with_an_error_message(live, api, world):
    session = await create_session(api, world)
    for member, session_id in [
        (world.mentor, session["id"]),  # a mentor of the program who does not host it
        (world.mentees[0], session["id"]),
        (world.outsider, session["id"]),  # not even in the program
        (world.host, "R3JvdXBTZXNzaW9uOjk5OTk="),  # GroupSession:9999, does not exist
        (world.host, "not-an-id"),
    ]:
        async with WS.signed_in(live, member.token) as client:
            await client.subscribe("e", EVENTS, {"sessionId": session_id})
            message = await client.recv()
            assert message["type"] == "error" and message["id"] == "e", message
            assert message["payload"][0]["extensions"] == {"code": "NOT_FOUND"}
            assert message["payload"][0]["message"] == "No such group session among those you host."
            await client.send({"type": "ping"})
            assert await client.recv() == {"type": "pong"}  # refused operation, live connection
    await wait_for_subscriptions(live, 0)


async def test_no_event_for_a_failed_join(live, api, world):
    session = await create_session(api, world, minParticipants=1, maxParticipants=2)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS)
        await wait_for_subscriptions(live, 1)
        assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
        full = await join(api, world.mentees[1], session["id"])
        assert [e["code"] for e in full["userErrors"]] == ["SESSION_FULL"]
        await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)

        first, second = await _event(host), await _event(host)
        assert (first["kind"], first["registration"]["participant"]["name"]) == ("JOINED", "Mentee0")
        # The LEFT came straight after: nothing was sent for Mentee1's refused join.
        assert (second["kind"], second["registration"]["participant"]["name"]) == ("LEFT", "Mentee0")
        await host.nothing_more()


async def test_no_event_for_a_rolled_back_join(live, api, app, world):
    session = await create_session(api, world)
    refused_user = world.mentees[1].user.id

    async def fail_for_one_user(event, connection):
        # An in-transaction effect (like the email outbox) failing rolls the join back.
        if event.participant.id == refused_user:
            raise RuntimeError("outbox unavailable")

    app.state.effects.handlers_for(RegistrationAdded).in_transaction.append(fail_for_one_user)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)
        body = await api.execute(JOIN, {"id": session["id"]}, token=world.mentees[1].token)
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        await join(api, world.mentees[2], session["id"])

        event = await _event(host)
        assert event["registration"]["participant"]["name"] == "Mentee2"
        assert event["session"]["participantCount"] == 2  # Mentee1's seat was rolled back too
        await host.nothing_more()


async def test_without_session_id_covers_sessions_created_later_and_only_the_viewers(live, api, world):
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS)
        await wait_for_subscriptions(live, 1)
        other_hosts = await create_session(api, world, as_=world.mentor, title="Not hers")
        await join(api, world.mentees[0], other_hosts["id"])
        created_after = await create_session(api, world, title="Created after subscribing")
        await join(api, world.mentees[1], created_after["id"])

        event = await _event(host)
        assert event["registration"]["session"]["title"] == "Created after subscribing"
        assert event["registration"]["participant"]["name"] == "Mentee1"
        await host.nothing_more()


async def test_session_id_filters_and_cancellation_completes(live, api, world):
    watched = await create_session(api, world, title="Watched")
    other = await create_session(api, world, title="Other")
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("one", EVENTS, {"sessionId": watched["id"]})
        await host.subscribe("all", EVENTS)
        await wait_for_subscriptions(live, 2)

        await join(api, world.mentees[0], other["id"])
        assert (await _event(host, "all"))["registration"]["session"]["title"] == "Other"
        cancelled = await api.data(CANCEL, {"id": watched["id"]}, token=world.host.token)
        assert cancelled["cancelGroupSession"]["userErrors"] == []
        assert await host.recv() == {"id": "one", "type": "complete"}

        # The subscription to every hosted session goes on after a cancellation.
        await join(api, world.mentees[1], other["id"])
        event = await _event(host, "all")
        assert event["registration"]["participant"]["name"] == "Mentee1"
        assert event["session"]["participantCount"] == 3
        await host.nothing_more()
    await wait_for_subscriptions(live, 0)


async def test_client_complete_stops_events(live, api, world):
    session = await create_session(api, world)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS)
        await wait_for_subscriptions(live, 1)
        await host.send({"id": "e", "type": "complete"})
        await wait_for_subscriptions(live, 0)
        await join(api, world.mentees[0], session["id"])
        await host.send({"type": "ping"})
        assert await host.recv() == {"type": "pong"}  # and no `next` before it
    # A closed socket frees its subscriptions as well.
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS)
        await wait_for_subscriptions(live, 1)
    await wait_for_subscriptions(live, 0)


async def test_a_long_lived_socket_sees_fresh_data(live, api, world):
    """DataLoaders live for one operation, and for one event of a subscription: the second
    event and a later query on the same socket must not be served from the first's cache."""
    session = await create_session(api, world)
    participants = """
      subscription($id: ID) { registrationEvents(sessionId: $id) {
        session { participants { edges { node { participant { name } } } } } } }
    """
    names = lambda payload: [  # noqa: E731
        e["node"]["participant"]["name"] for e in payload["data"]["registrationEvents"]["session"]["participants"]["edges"]
    ]
    query = "query($id: ID!) { node(id: $id) { ... on GroupSession { participantCount title } } }"
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", participants, {"id": session["id"]})
        await wait_for_subscriptions(live, 1)
        await join(api, world.mentees[0], session["id"])
        assert names(await host.next("e")) == ["Hannah", "Mentee0"]
        await join(api, world.mentees[1], session["id"])
        assert names(await host.next("e")) == ["Hannah", "Mentee0", "Mentee1"]

        await host.subscribe("q1", query, {"id": session["id"]})
        assert (await host.next("q1"))["data"]["node"] == {"participantCount": 3, "title": session["title"]}
        assert await host.recv() == {"id": "q1", "type": "complete"}
        changed = await api.data(UPDATE, {"input": {"id": session["id"], "title": "Renamed"}}, token=world.host.token)
        assert changed["updateGroupSession"]["userErrors"] == []
        await host.subscribe("q2", query, {"id": session["id"]})
        assert (await host.next("q2"))["data"]["node"] == {"participantCount": 3, "title": "Renamed"}


async def test_members_follow_a_session_until_it_is_cancelled(live, api, world):
    session = await create_session(api, world, minParticipants=1, maxParticipants=2)
    async with WS.signed_in(live, world.mentees[1].token) as member:
        await member.subscribe("s", UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, 1)

        await join(api, world.mentees[0], session["id"])
        full = (await member.next("s"))["data"]["groupSessionUpdated"]
        assert full == {
            "id": session["id"],
            "title": session["title"],
            "participantCount": 2,
            "spotsLeft": 0,
            "isFull": True,
            "status": "SCHEDULED",
            "viewerCanJoin": False,  # the Join button turns into Full
        }
        await api.data(UPDATE, {"input": {"id": session["id"], "title": "New title"}}, token=world.host.token)
        assert (await member.next("s"))["data"]["groupSessionUpdated"]["title"] == "New title"
        await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
        freed = (await member.next("s"))["data"]["groupSessionUpdated"]
        assert (freed["spotsLeft"], freed["viewerCanJoin"]) == (1, True)

        await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
        last = (await member.next("s"))["data"]["groupSessionUpdated"]
        assert (last["status"], last["viewerCanJoin"]) == ("CANCELLED", False)
        assert await member.recv() == {"id": "s", "type": "complete"}


async def test_outsiders_cannot_follow_a_session(live, api, world):
    session = await create_session(api, world)
    async with WS.signed_in(live, world.outsider.token) as outsider:
        await outsider.subscribe("s", UPDATED, {"id": session["id"]})
        message = await outsider.recv()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"] == {"code": "NOT_FOUND"}


PARTICIPANTS = "subscription($id: ID) { registrationEvents(sessionId: $id) { session { participants { edges { node { participant { name } } } } } } }"
# The same fields under an alias: another document, so another answer's shape.
SEATS = "subscription($id: ID) { registrationEvents(sessionId: $id) { session { seats: participants { edges { node { participant { name } } } } } } }"


def _registration_reads(log: StatementLog) -> int:
    """SELECTs that read the registration table. Each execution of PARTICIPANTS or SEATS
    reads the participants once (fresh DataLoaders per execution); the join itself reads the
    table too, as many times with subscribers as without, so the excess over a join nobody
    watches is the number of executions."""
    return sum(1 for s in log.statements if s.startswith("SELECT") and "registration" in s)


async def test_subscribers_share_executions_only_when_they_would_get_the_same_answer(live, api, world):
    """Each message is executed once per (document, variables, viewer): three sockets asking
    the same thing cost one execution, three different questions cost three, and results
    that depend on the viewer stay the viewer's own."""
    session = await create_session(api, world)
    with count_statements() as unwatched:
        await join(api, world.mentees[0], session["id"])
    baseline = _registration_reads(unwatched)

    same = [(PARTICIPANTS, {"id": session["id"]})] * 3
    different = [(PARTICIPANTS, {}), (SEATS, {"id": session["id"]})]  # other variables, other document
    async with AsyncExitStack() as stack:
        # One socket each: operations of one socket share a context, and so could share loaders.
        hosts = [await stack.enter_async_context(WS.signed_in(live, world.host.token)) for _ in same + different]
        for host, (document, variables) in zip(hosts, same + different):
            await host.subscribe("p", document, variables)
        await wait_for_subscriptions(live, len(hosts))
        with count_statements() as watched:
            await join(api, world.mentees[1], session["id"])
            for host in hosts:
                page = (await host.next("p"))["data"]["registrationEvents"]["session"]
                names = [edge["node"]["participant"]["name"] for edge in next(iter(page.values()))["edges"]]
                assert names == ["Hannah", "Mentee0", "Mentee1"]
        executions = _registration_reads(watched) - baseline
        assert executions == 1 + len(different), watched.dump()
    await wait_for_subscriptions(live, 0)

    viewer_fields = "subscription($id: ID!) { groupSessionUpdated(id: $id) { participantCount viewerIsAttending viewerCanJoin } }"
    titles = "subscription($id: ID) { registrationEvents(sessionId: $id) { session { title } } }"
    names = "subscription($id: ID) { registrationEvents(sessionId: $id) { registration { participant { name } } } }"
    async with (
        WS.signed_in(live, world.mentees[0].token) as attending,
        WS.signed_in(live, world.mentees[1].token) as other,
        WS.signed_in(live, world.host.token) as host_a,
        WS.signed_in(live, world.host.token) as host_b,
    ):
        # mentees[1] leaves first, so the viewers differ on the next join.
        left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[1].token)
        assert left["leaveGroupSession"]["userErrors"] == []
        await attending.subscribe("s", viewer_fields, {"id": session["id"]})
        await other.subscribe("s", viewer_fields, {"id": session["id"]})
        await host_a.subscribe("t", titles, {"id": session["id"]})
        await host_a.subscribe("n", names)
        await host_b.subscribe("t", titles, {"id": session["id"]})
        await host_b.subscribe("n", names, {"id": session["id"]})
        await wait_for_subscriptions(live, 6)

        await join(api, world.mentees[2], session["id"])
        assert (await attending.next("s"))["data"]["groupSessionUpdated"] == {
            "participantCount": 3,
            "viewerIsAttending": True,
            "viewerCanJoin": False,
        }
        assert (await other.next("s"))["data"]["groupSessionUpdated"] == {
            "participantCount": 3,
            "viewerIsAttending": False,
            "viewerCanJoin": True,
        }
        for host in (host_a, host_b):
            got = {}
            for _ in range(2):
                message = await host.recv()
                got[message["id"]] = message["payload"]["data"]["registrationEvents"]
            assert got == {
                "t": {"session": {"title": session["title"]}},
                "n": {"registration": {"participant": {"name": "Mentee2"}}},
            }
