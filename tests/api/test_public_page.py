"""The public session page (the share URL) and object identification (node / nodes)."""

import pytest

from app.api.pagination import encode_cursor, to_global_id
from tests.conftest import create_session, join

PAGE = """
query($id: ID!) {
  groupSession(id: $id) {
    id title objective startsAt endsAt durationMinutes minParticipants maxParticipants
    participantCount spotsLeft isFull status cancellationReason url
    host { id name } program { id name }
    guests { name }
    participants { totalCount pageInfo { hasNextPage } edges { node { isHost participant { name } } } }
    viewerIsHost viewerIsAttending viewerCanJoin viewerCannotJoinReasons viewerCanEdit
  }
}
"""


async def page(api, member, session_id):
    return (await api.data(PAGE, {"id": session_id}, token=member.token))["groupSession"]


async def test_a_member_sees_everything_the_page_shows_and_can_join(api, world):
    session = await create_session(api, world, maxParticipants=5, minParticipants=2,
                                   startsAt="2031-03-04T18:30:00+01:00", durationMinutes=45,
                                   guestIds=[world.mentees[1].gid])
    await join(api, world.mentees[1], session["id"])
    seen = await page(api, world.mentees[0], session["id"])
    assert seen["title"] == "Negotiating your first salary"
    assert seen["objective"] == "Practise the conversation with people who have done it."
    assert (seen["startsAt"], seen["endsAt"], seen["durationMinutes"]) == (
        "2031-03-04T17:30:00Z", "2031-03-04T18:15:00Z", 45)
    assert (seen["minParticipants"], seen["maxParticipants"]) == (2, 5)
    assert (seen["participantCount"], seen["spotsLeft"], seen["isFull"]) == (2, 3, False)
    assert seen["host"]["name"] == "Hannah" and seen["program"]["name"] == "Mentoring"
    assert seen["guests"] == []  # the guest list is the host's
    assert [e["node"]["participant"]["name"] for e in seen["participants"]["edges"]] == ["Hannah", "Mentee1"]
    assert seen["participants"]["totalCount"] == 2
    assert not seen["viewerIsHost"] and not seen["viewerIsAttending"] and not seen["viewerCanEdit"]
    assert seen["viewerCanJoin"] and seen["viewerCannotJoinReasons"] == []
    assert seen["url"] == f"https://sessions.example.org/group-sessions/{session['id']}"

    host_view = await page(api, world.host, session["id"])
    assert [g["name"] for g in host_view["guests"]] == ["Mentee1"]
    assert host_view["viewerIsHost"] and host_view["viewerIsAttending"] and host_view["viewerCanEdit"]
    assert not host_view["viewerCanJoin"] and host_view["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED"]


async def test_full_session_says_why_the_viewer_cannot_join(api, world):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    seen = await page(api, world.mentees[1], session["id"])
    assert seen["isFull"] and seen["spotsLeft"] == 0
    assert not seen["viewerCanJoin"] and seen["viewerCannotJoinReasons"] == ["SESSION_FULL"]


async def test_participants_page_with_cursors(api, world):
    session = await create_session(api, world)
    for mentee in world.mentees:
        await join(api, mentee, session["id"])
    query = """query($id: ID!, $after: String) { groupSession(id: $id) {
        participants(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
                                                edges { node { participant { name } } } } } }"""
    first = (await api.data(query, {"id": session["id"]}, token=world.host.token))["groupSession"]["participants"]
    second = (await api.data(query, {"id": session["id"], "after": first["pageInfo"]["endCursor"]},
                             token=world.host.token))["groupSession"]["participants"]
    names = [e["node"]["participant"]["name"] for e in first["edges"] + second["edges"]]
    assert names == ["Hannah", "Mentee0", "Mentee1", "Mentee2"]
    assert first["pageInfo"]["hasNextPage"] and not second["pageInfo"]["hasNextPage"]
    assert first["totalCount"] == second["totalCount"] == 4


@pytest.mark.parametrize("after", ["garbage", encode_cursor("abc"), encode_cursor(1, 2)])
async def test_a_bad_participants_cursor_is_refused_clearly(api, world, after):
    session = await create_session(api, world)
    query = """query($id: ID!, $after: String) { groupSession(id: $id) {
        participants(after: $after) { edges { node { participant { name } } } } } }"""
    body = await api.execute(query, {"id": session["id"], "after": after}, token=world.host.token)
    assert body["data"] == {"groupSession": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cursor" in body["errors"][0]["message"]


async def test_outsiders_get_null_exactly_as_for_an_unknown_id(api, world):
    session = await create_session(api, world)
    assert await page(api, world.outsider, session["id"]) is None
    assert await page(api, world.outsider, to_global_id("GroupSession", 999_999)) is None
    node = await api.data('query($id: ID!) { node(id: $id) { id } }', {"id": session["id"]},
                          token=world.outsider.token)
    assert node == {"node": None}


@pytest.mark.parametrize("bad_id", ["", "garbage", "R3JvdXBTZXNzaW9uOi0x", "VXNlcjox", "=====", "\u0000", "a" * 500])
async def test_malformed_ids_are_simply_not_found(api, world, bad_id):
    assert await page(api, world.host, bad_id) is None


async def test_node_resolves_every_node_type_for_members(api, world):
    session = await create_session(api, world)
    registration = (await join(api, world.mentees[0], session["id"]))["registration"]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) {
        __typename id
        ... on GroupSession { title }
        ... on User { name }
        ... on Program { name }
        ... on Registration { isHost participant { name } session { title } }
    } }"""
    ids = [session["id"], world.mentees[0].gid, world.program_gid, registration["id"], "garbage"]
    nodes = (await api.data(query, {"ids": ids}, token=world.mentees[1].token))["nodes"]
    assert [n and n["__typename"] for n in nodes] == ["GroupSession", "User", "Program", "Registration", None]
    assert [n["id"] for n in nodes[:4]] == ids[:4]
    assert nodes[3]["participant"]["name"] == "Mentee0" and nodes[3]["session"]["title"] == session["title"]

    outsider = (await api.data(query, {"ids": ids}, token=world.outsider.token))["nodes"]
    assert outsider == [None] * 5


async def test_nodes_refuses_more_than_a_hundred_ids(api, world):
    body = await api.execute('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', {"ids": ["x"] * 101},
                             token=world.host.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
