"""Global IDs and cursors are computed when the response asks for them, and are then the
same as ever: an ID is base64url("Type:pk"), a participants cursor encodes the registration's
id, pageInfo's cursors are the first and last edge's, null on an empty page."""

from __future__ import annotations

import pytest

import app.api.pagination as pagination
from app.api.pagination import pk_of, registration_cursor, session_cursor, to_global_id
from app.group_sessions.models import GroupSession, Registration
from tests.conftest import create_session, join

EVERYTHING = """query($first: Int, $last: Int) { dashboard { sessions(first: 5) {
  pageInfo { startCursor endCursor } edges { cursor node { id host { id } program { id }
    participants(first: $first, last: $last) {
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
      edges { cursor node { id isHost participant { id name } } }
      nodes { id }
} } } } } }"""

NO_IDS = """{ dashboard { sessions(first: 5) { totalCount edges { node { title
  participants(first: 50) { totalCount pageInfo { hasNextPage } edges { node { isHost participant { name } } } }
} } } } }"""


@pytest.fixture
async def two_sessions(api, world):
    """Two sessions the host hosts, each with the three mentees registered."""
    sessions = [await create_session(api, world, title=f"S{i}") for i in range(2)]
    for session in sessions:
        for mentee in world.mentees:
            await join(api, mentee, session["id"])
    return sessions


@pytest.mark.parametrize("window", [{"first": 2}, {"last": 2}, {"first": 0}])
async def test_ids_and_cursors_are_the_rows_own(api, world, two_sessions, window):
    data = await api.data(EVERYTHING, window, token=world.host.token)
    page = data["dashboard"]["sessions"]
    assert [e["node"]["id"] for e in page["edges"]] == [s["id"] for s in two_sessions]
    sessions = {s.id: s for s in await GroupSession.all()}
    for edge in page["edges"]:
        session = sessions[pk_of(edge["node"]["id"], "GroupSession")]
        assert edge["node"]["id"] == to_global_id("GroupSession", session.id)
        assert edge["cursor"] == session_cursor(session)
        assert edge["node"]["host"]["id"] == world.host.gid
        assert edge["node"]["program"]["id"] == world.program_gid
        participants = edge["node"]["participants"]
        registrations = {r.id: r for r in await Registration.filter(session_id=session.id)}
        edges = participants["edges"]
        assert len(edges) == (0 if window.get("first") == 0 else 2)
        for item in edges:
            registration = registrations[pk_of(item["node"]["id"], "Registration")]
            assert item["node"]["id"] == to_global_id("Registration", registration.id)
            assert item["cursor"] == registration_cursor(registration.id)
            assert item["node"]["participant"]["id"] == to_global_id("User", registration.user_id)
        assert participants["nodes"] == [{"id": item["node"]["id"]} for item in edges]
        info = participants["pageInfo"]
        assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_a_page_that_asks_for_no_id_or_cursor_encodes_none(api, world, two_sessions, monkeypatch):
    encoded: list[str] = []
    real = pagination.base64url

    def counting(text: str) -> str:
        encoded.append(text)
        return real(text)

    monkeypatch.setattr(pagination, "base64url", counting)
    data = await api.data(NO_IDS, token=world.host.token)
    sessions = data["dashboard"]["sessions"]["edges"]
    assert [len(s["node"]["participants"]["edges"]) for s in sessions] == [4, 4]  # the host and three mentees
    assert encoded == []
    # The same page with the IDs and cursors asked for encodes each of them.
    data = await api.data(EVERYTHING, {"first": 50}, token=world.host.token)
    assert encoded, "the counter sees the encodings"


async def test_types_built_without_their_init_set_every_plain_field(api, world, two_sessions):
    """User, Program, GroupSession, Registration and the edges are built by `from_row`/`of`
    without their dataclass __init__ (which would fail on a field left out): a field added
    to one of them and not set there fails here, not in a client's query."""
    from app.accounts.models import Program as ProgramRow, User as UserRow
    from app.api.accounts.types import Program, User, UserEdge
    from app.api.group_sessions.types import GroupSession as SessionType, GroupSessionEdge, Registration as RegType
    from app.api.group_sessions.types import RegistrationEdge

    session_row = await GroupSession.first()
    registration_row = await Registration.first()
    user_row = await UserRow.first()
    built = [
        User.from_row(user_row),
        Program.from_row(await ProgramRow.first()),
        SessionType.from_row(session_row),
        RegType.from_row(registration_row),
        GroupSessionEdge.of(session_row),
        RegistrationEdge.of(registration_row),
        UserEdge.of(user_row),
    ]
    for instance in built:
        definition = type(instance).__strawberry_definition__
        plain = [f.python_name for f in definition.fields if f.base_resolver is None]
        assert plain, type(instance)
        for name in plain:
            getattr(instance, name)  # AttributeError: from_row/of leaves `name` unset
