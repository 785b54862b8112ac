"""The create form's program picker (User.memberships) and guest picker (Program.members),
built from GraphQL alone, as a client would."""

from __future__ import annotations

import pytest

from app.accounts import services as accounts
from app.accounts.models import ProgramRole, UserNameWord
from app.api.pagination import to_global_id
from tests.conftest import create_session, in_days, make_member
from tests.documents import CREATE

MEMBERSHIPS = """
query { viewer { memberships { role viewerCanHost program { id name viewerRole } } } }
"""

MEMBERS = """
query($id: ID!, $search: String, $role: ProgramRole, $first: Int, $after: String, $last: Int, $before: String) {
  program(id: $id) {
    members(search: $search, role: $role, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id name email } }
      nodes { id name }
    }
  }
}
"""


async def members(api, world, member=None, **variables):
    member = member or world.host
    data = await api.data(MEMBERS, {"id": world.program_gid, **variables}, token=member.token)
    return data["program"]["members"] if data["program"] else None


def names(connection) -> list[str]:
    return [e["node"]["name"] for e in connection["edges"]]


# --- User.memberships ------------------------------------------------------------------------


async def test_memberships_list_every_program_with_role_and_whether_the_viewer_may_host(api, world):
    third = await accounts.create_program(name="Alumni")
    await accounts.add_member(program_id=third.id, email=world.host.user.email, role=ProgramRole.MENTEE)
    await accounts.add_member(program_id=world.other_program.id, email=world.host.user.email, role=ProgramRole.ADMIN)

    memberships = (await api.data(MEMBERSHIPS, token=world.host.token))["viewer"]["memberships"]
    assert memberships == [
        {"role": "MENTEE", "viewerCanHost": False,
         "program": {"id": to_global_id("Program", third.id), "name": "Alumni", "viewerRole": "MENTEE"}},
        {"role": "ADMIN", "viewerCanHost": True,
         "program": {"id": to_global_id("Program", world.other_program.id), "name": "Elsewhere", "viewerRole": "ADMIN"}},
        {"role": "MENTOR", "viewerCanHost": True,
         "program": {"id": world.program_gid, "name": "Mentoring", "viewerRole": "MENTOR"}},
    ]


async def test_the_create_form_offers_exactly_the_programs_where_create_succeeds(api, world):
    """viewerCanHost and createGroupSession apply the same rule: the program picker never
    offers a program whose create is refused, nor hides one where it succeeds."""
    await accounts.add_member(program_id=world.other_program.id, email=world.mentees[0].user.email,
                              role=ProgramRole.ADMIN)
    for member in (world.host, world.mentees[0], world.admin):
        memberships = (await api.data(MEMBERSHIPS, token=member.token))["viewer"]["memberships"]
        for membership in memberships:
            result = await api.data(CREATE, {"input": {
                "programId": membership["program"]["id"], "title": "T", "objective": "O",
                "startsAt": in_days(3), "durationMinutes": 60,
            }}, token=member.token)
            created = result["createGroupSession"]["groupSession"] is not None
            assert created is membership["viewerCanHost"], (member.user.name, membership)


async def test_memberships_are_null_for_anyone_but_the_viewer(api, world):
    query = "query($id: ID!) { profile(userId: $id) { name memberships { role } } }"
    profile = (await api.data(query, {"id": world.mentor.gid}, token=world.host.token))["profile"]
    assert profile == {"name": "Mario", "memberships": None}
    own = (await api.data(query, {"id": world.host.gid}, token=world.host.token))["profile"]
    assert [m["role"] for m in own["memberships"]] == ["MENTOR"]


async def test_a_user_without_programs_has_an_empty_list(api, world):
    loner = await make_member(None, "lonely", ProgramRole.MENTEE)
    assert (await api.data(MEMBERSHIPS, token=loner.token))["viewer"]["memberships"] == []


# --- Program.members -------------------------------------------------------------------------


@pytest.fixture
async def named(world):
    """Members with names that exercise the search: accents, case, several words."""
    people = {}
    for key, name, role in [
        ("ada", "Ada Lovelace", ProgramRole.MENTEE),
        ("eloise", "Éloïse Dupont", ProgramRole.MENTEE),
        ("adam", "adam SMITH", ProgramRole.MENTOR),
        ("obrien", "Siobhán O'Brien", ProgramRole.MENTEE),
        ("strasse", "Jörg Straße", ProgramRole.MENTEE),
    ]:
        user = await accounts.create_user(email=f"{key}@example.org", name=name)
        await accounts.add_member(program_id=world.program.id, email=user.email, role=role)
        people[key] = user
    return people


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ada", ["Ada Lovelace", "adam SMITH"]),
        ("lov", ["Ada Lovelace"]),
        ("LOVELACE", ["Ada Lovelace"]),
        ("élo", ["Éloïse Dupont"]),
        ("elo", ["Éloïse Dupont"]),
        ("ÉLOÏSE", ["Éloïse Dupont"]),
        ("dup", ["Éloïse Dupont"]),
        ("ada lov", ["Ada Lovelace"]),
        ("lov ada", ["Ada Lovelace"]),
        ("ada smi", ["adam SMITH"]),
        ("ada dup", []),
        ("velace", []),  # the start of a word, not any part of it
        ("siobhan", ["Siobhán O'Brien"]),
        ("brien", ["Siobhán O'Brien"]),
        ("o'brien", ["Siobhán O'Brien"]),
        ("obri", ["Siobhán O'Brien"]),
        ("strasse", ["Jörg Straße"]),
        ("jorg", ["Jörg Straße"]),
        ("  ada   ", ["Ada Lovelace", "adam SMITH"]),
        ("%", ["Ada Lovelace", "adam SMITH", "Adele", "Éloïse Dupont", "Hannah", "Jörg Straße", "Mario",
               "Mentee0", "Mentee1", "Mentee2", "Siobhán O'Brien"]),  # no words: everyone
        ("a_%", ["Ada Lovelace", "adam SMITH", "Adele"]),  # punctuation is no pattern
    ],
)
async def test_search_matches_the_start_of_any_word_ignoring_case_and_accents(api, world, named, search, expected):
    result = await members(api, world, search=search)
    assert names(result) == expected
    assert result["totalCount"] == len(expected)


async def test_members_are_ordered_by_name_then_id_and_never_show_emails(api, world, named):
    result = await members(api, world)
    assert names(result) == [
        "Ada Lovelace", "adam SMITH", "Adele", "Éloïse Dupont", "Hannah", "Jörg Straße", "Mario",
        "Mentee0", "Mentee1", "Mentee2", "Siobhán O'Brien",
    ]
    assert result["totalCount"] == 11
    assert [n["name"] for n in result["nodes"]] == names(result)
    # Everyone's email is hidden; the viewer's own is theirs to see (as everywhere).
    emails = {e["node"]["name"]: e["node"]["email"] for e in result["edges"]}
    assert emails.pop("Hannah") == "hannah@example.org"
    assert set(emails.values()) == {None}
    assert world.outsider.user.name not in names(result)


async def test_two_members_with_the_same_name_are_ordered_by_id(api, world):
    twins = [await make_member(world.program, f"twin{i}", ProgramRole.MENTEE) for i in range(3)]
    for twin in twins:
        await accounts.update_profile(twin.user, name="Sam Same")
    result = await members(api, world, search="sam")
    assert [e["node"]["id"] for e in result["edges"]] == [t.gid for t in twins]


async def test_role_filter(api, world, named):
    mentors = await members(api, world, role="MENTOR")
    assert names(mentors) == ["adam SMITH", "Hannah", "Mario"]
    assert names(await members(api, world, role="ADMIN", search="ad")) == ["Adele"]
    assert names(await members(api, world, role="MENTOR", search="lov")) == []


async def test_members_page_forwards_and_backwards_with_exact_flags(api, world, named):
    everyone = names(await members(api, world))
    forwards, cursor, flags = [], None, []
    while True:
        page = await members(api, world, first=4, after=cursor)
        forwards += names(page)
        flags.append((page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert forwards == everyone
    assert flags == [(False, True), (True, True), (True, False)]

    backwards, cursor, flags = [], None, []
    while True:
        page = await members(api, world, last=4, before=cursor)
        backwards = names(page) + backwards
        flags.append((page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]))
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        cursor = page["pageInfo"]["startCursor"]
    assert backwards == everyone
    assert flags == [(True, False), (True, True), (False, True)]


async def test_paging_a_search(api, world, named):
    first = await members(api, world, search="ad", first=2)
    assert names(first) == ["Ada Lovelace", "adam SMITH"] and first["pageInfo"]["hasNextPage"] is True
    rest = await members(api, world, search="ad", first=2, after=first["pageInfo"]["endCursor"])
    assert names(rest) == ["Adele"]
    assert rest["pageInfo"] == {**rest["pageInfo"], "hasNextPage": False, "hasPreviousPage": True}
    back = await members(api, world, search="ad", last=5, before=rest["pageInfo"]["startCursor"])
    assert names(back) == ["Ada Lovelace", "adam SMITH"]
    assert (back["pageInfo"]["hasPreviousPage"], back["pageInfo"]["hasNextPage"]) == (False, True)


async def test_a_renamed_member_is_found_by_the_new_name_only(api, world, named):
    update = "mutation($n: String!) { updateViewer(input: {name: $n}) { viewer { name } userErrors { code } } }"
    ada = await accounts.issue_token(named["ada"])
    data = await api.data(update, {"n": "Augusta King"}, token=ada)
    assert data["updateViewer"]["userErrors"] == []
    assert names(await members(api, world, search="aug")) == ["Augusta King"]
    assert names(await members(api, world, search="lov")) == []
    assert sorted(await UserNameWord.filter(user_id=named["ada"].id).values_list("word", flat=True)) == [
        "augusta", "king"]
    # Changing only the time zone leaves the name and its words alone.
    tz = "mutation { updateViewer(input: {timeZone: \"Europe/Paris\"}) { viewer { name } } }"
    assert (await api.data(tz, token=ada))["updateViewer"]["viewer"]["name"] == "Augusta King"
    assert names(await members(api, world, search="king")) == ["Augusta King"]


async def test_outsiders_get_no_program_and_so_no_members(api, world, named):
    assert await members(api, world, member=world.outsider) is None
    assert await members(api, world, member=world.outsider, search="ada") is None
    # Without a token: the same refusal as for any program.
    body = await api.execute(MEMBERS, {"id": world.program_gid})
    assert body["data"] == {"program": None} and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_members_are_reachable_from_a_session_the_viewer_sees(api, world, named):
    session = await create_session(api, world)
    query = """query($id: ID!) { groupSession(id: $id) { program { members(search: "élo") { nodes { name } } } } }"""
    data = await api.data(query, {"id": session["id"]}, token=world.mentees[0].token)
    assert data["groupSession"]["program"]["members"]["nodes"] == [{"name": "Éloïse Dupont"}]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("a" * 101, "search must be at most 100 characters."),
        ("a b c d e f", "search must be at most 5 words."),
    ],
)
async def test_a_search_too_long_is_a_clear_error(api, world, search, message):
    body = await api.execute(MEMBERS, {"id": world.program_gid, "search": search}, token=world.host.token)
    [error] = body["errors"]
    assert error["message"] == message and error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("cursor", ["nope", "WyJhIiwiYiJd", "WzEsMl0"])  # junk, ["a","b"], [1,2]
async def test_a_bad_member_cursor_is_a_clear_error(api, world, cursor):
    body = await api.execute(MEMBERS, {"id": world.program_gid, "after": cursor}, token=world.host.token)
    assert body["errors"][0]["message"].startswith("Invalid cursor")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
