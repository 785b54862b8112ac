"""Compiled execution (app.api.compiled) gives graphql-core's answer, exactly.

Every document below, and documents generated from the schema (random selections, aliases,
inline and named fragments, @skip/@include on variables, __typename, arguments that make
resolvers fail), is sent twice through the real endpoint: once as served (compiled), once
with compiled execution switched off (graphql-core). The two response bodies must be equal
byte for byte (data, errors with their paths and extensions, order of keys).
"""

from __future__ import annotations

import gc
import json
import random
import re
from dataclasses import dataclass

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from app.api import compiled
from app.api.schema import build_schema
from tests.conftest import create_session, in_days, join
from tests.documents import CANCEL

PAGE = """
query Page($id: ID!) { groupSession(id: $id) {
  id title objective startsAt endsAt durationMinutes minParticipants maxParticipants participantCount spotsLeft
  isFull status cancellationReason url viewerIsHost viewerIsAttending viewerCanJoin viewerCannotJoinReasons viewerCanEdit
  host { id name } program { id name } guests { id name }
  participants(first: 50) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id isHost registeredAt participant { id name } } } } } }
"""
DASHBOARD = """
query Dash($past: Boolean!) { viewer { id name email timeZone }
  future: dashboard { sessions(first: 20) { totalCount edges { cursor node { ...Card } } pageInfo { hasNextPage } } }
  past: dashboard @include(if: $past) { sessions(timeframe: PAST, first: 5) { edges { node { id title } } } } }
fragment Card on GroupSession { id title startsAt participantCount viewerIsHost
  participants(first: 50) { edges { node { participant { name } } } } }
"""
PROFILE = """
query Profile($id: ID!) { profile(userId: $id) { id name email
  upcomingGroupSessions(first: 20) { totalCount edges { node { id title viewerIsAttending host { name } } } } } }
"""
NODES = """
query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on GroupSession { title t2: title host { __typename id } }
  ... on User { name }
  ... on Program { name } } }
"""
FAILING = """
query Failing($id: ID!) { groupSession(id: $id) { id participants(first: -1) { totalCount } } }
"""
REQUEST_ID = re.compile(r'"requestId":"[0-9a-f]+"')
MISSING = """query { groupSession(id: "R3JvdXBTZXNzaW9uOjk5OTk5") { id } node(id: "nonsense") { id } }"""


@dataclass
class Fixture:
    world: object
    sessions: list[dict]


@pytest.fixture
async def seeded(api, world):
    first = await create_session(api, world, guestIds=[world.mentees[2].gid])
    second = await create_session(api, world, as_=world.mentor, startsAt=in_days(5, hour=9))
    third = await create_session(api, world, startsAt=in_days(9, hour=9))
    for member in world.mentees[:2]:
        await join(api, member, first["id"])
        await join(api, member, second["id"])
    await api.data(CANCEL, {"id": third["id"]}, token=world.host.token)
    return Fixture(world, [first, second, third])


async def both(api, query, variables, token):
    """(compiled body, graphql-core body, whether the compiled path served the first)."""
    before = compiled.STATS.copy()
    served = await api.post(query, variables, token=token)
    used = compiled.STATS["compiled"] > before["compiled"]
    switch = compiled.compiled_execution_enabled.set(False)
    try:
        standard = await api.post(query, variables, token=token)
    finally:
        compiled.compiled_execution_enabled.reset(switch)
    assert served.status_code == standard.status_code
    # An unexpected error carries the id of its request, different for each; and GraphQL
    # leaves the order of errors open (graphql-core lists them as fields fail, which varies
    # run to run with async resolvers): data and extensions byte for byte, errors as a set.
    return _comparable(served.text), _comparable(standard.text), used


def _comparable(text: str) -> str:
    body = json.loads(REQUEST_ID.sub("", text))
    if isinstance(body, dict) and "errors" in body:
        body["errors"] = sorted(body["errors"], key=lambda error: json.dumps(error, sort_keys=True))
    return json.dumps(body)  # keeps the order of keys in data


@pytest.mark.parametrize(
    "name, query",
    [("page", PAGE), ("dashboard", DASHBOARD), ("profile", PROFILE), ("nodes", NODES)],
)
async def test_the_hot_documents_are_served_compiled_with_the_same_answer(api, seeded, name, query):
    world, sessions = seeded.world, seeded.sessions
    variables = {
        "page": {"id": sessions[0]["id"]},
        "dashboard": {"past": True},
        "profile": {"id": world.host.gid},
        "nodes": {"ids": [s["id"] for s in sessions] + [world.host.gid, world.program_gid, world.outsider.gid]},
    }[name]
    for member in (world.host, world.mentees[0], world.mentees[2], world.outsider):
        served, standard, used = await both(api, query, variables, member.token)
        assert served == standard
        assert used, f"{name} as {member.user.name} fell back to graphql-core"


async def test_errors_fall_back_and_answer_exactly_as_graphql_core(api, seeded):
    session = seeded.sessions[0]["id"]
    cases = [
        (FAILING, {"id": session}, seeded.world.host.token, True),
        (MISSING, {}, seeded.world.host.token, False),  # nulls, no error
        ("{ dashboard { __typename } viewer { id } }", {}, None, True),  # the resolver raises UNAUTHENTICATED
    ]
    for query, variables, token, has_errors in cases:
        served, standard, _ = await both(api, query, variables, token)
        assert served == standard
        assert ('"errors"' in served) is has_errors


async def test_a_bail_leaves_no_resolver_unawaited(api, seeded, recwarn):
    # groupSession's resolver answers with a coroutine, waiting in the compiled path's own
    # wrapper when dashboard raises (anonymous): the bail must close both, not drop the inner one.
    session = seeded.sessions[0]["id"]
    cases = [
        ("query($id: ID!) { groupSession(id: $id) { id } dashboard { __typename } }", {"id": session}),
        ("query($id: ID!) { a: groupSession(id: $id) { participants { totalCount } } b: groupSession(id: $id) "
         "{ participants { totalCount } } viewer { id } dashboard { __typename } }", {"id": session}),
    ]
    for query, variables in cases:
        served, standard, _ = await both(api, query, variables, None)
        assert served == standard
        assert '"UNAUTHENTICATED"' in served
    gc.collect()
    unawaited = [str(w.message) for w in recwarn if "was never awaited" in str(w.message)]
    assert unawaited == []


async def test_skip_and_include_on_variables_pick_their_own_plan(api, seeded):
    token = seeded.world.host.token
    with_past, _, _ = await both(api, DASHBOARD, {"past": True}, token)
    without_past, standard, _ = await both(api, DASHBOARD, {"past": False}, token)
    assert without_past == standard
    assert '"past"' in with_past and '"past"' not in without_past


# --- documents generated from the schema ----------------------------------------------------

SCHEMA = build_schema()._schema
ROOTS = ("viewer", "dashboard", "groupSession", "profile", "program", "node", "nodes")


def _selection(draw, named_type, depth: int, fragments: dict[str, str]) -> str:
    """A random selection set on `named_type` (object, interface or union)."""
    parts: list[str] = []
    if isinstance(named_type, (GraphQLInterfaceType, GraphQLUnionType)):
        parts.append("__typename")
        if isinstance(named_type, GraphQLInterfaceType):
            parts.append(_fields(draw, named_type, depth, fragments))
        possible = SCHEMA.get_possible_types(named_type)
        for object_type in draw(st.lists(st.sampled_from(possible), max_size=2, unique_by=lambda t: t.name)):
            parts.append(f"... on {object_type.name} {{ {_fields(draw, object_type, depth, fragments)} }}")
        return " ".join(p for p in parts if p) or "__typename"
    return _fields(draw, named_type, depth, fragments)


def _arguments(draw, field) -> str | None:
    """Arguments for the field; None when a required one cannot be made up."""
    written = []
    for name, argument in field.args.items():
        named = get_named_type(argument.type)
        required = is_non_null_type(argument.type) and argument.default_value is compiled.Undefined
        if named.name == "Int" and draw(st.booleans()):
            written.append(f"{name}: {draw(st.sampled_from([0, 1, 2, 3, 50, -1]))}")
        elif named.name == "Boolean" and draw(st.booleans()):
            written.append(f"{name}: {draw(st.booleans())}".lower())
        elif hasattr(named, "values") and draw(st.booleans()):
            written.append(f"{name}: {draw(st.sampled_from(sorted(named.values)))}")
        elif required:
            return None
    return f"({', '.join(written)})" if written else ""


def _fields(draw, object_type, depth: int, fragments: dict[str, str]) -> str:
    names = sorted(object_type.fields)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True))
    parts = []
    for name in chosen:
        field = object_type.fields[name]
        arguments = _arguments(draw, field)
        if arguments is None:
            continue
        alias = f"{draw(st.sampled_from(['a', 'b', 'c']))}_{name}: " if draw(st.integers(0, 4)) == 0 else ""
        directive = ""
        if draw(st.integers(0, 6)) == 0:
            directive = f" @{draw(st.sampled_from(['include', 'skip']))}(if: $flag)"
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(f"{alias}{name}{arguments}{directive}")
        elif depth > 0:
            inner = _selection(draw, named, depth - 1, fragments)
            if isinstance(named, GraphQLObjectType) and draw(st.integers(0, 5)) == 0:
                fragment = f"F{len(fragments)}"
                fragments[fragment] = f"fragment {fragment} on {named.name} {{ {inner} }}"
                inner = f"...{fragment}"
            parts.append(f"{alias}{name}{arguments}{directive} {{ {inner} }}")
    return " ".join(parts) or "__typename"


@st.composite
def documents(draw):
    fragments: dict[str, str] = {}
    roots = draw(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=3, unique=True))
    parts = []
    query_type = SCHEMA.query_type
    for root in roots:
        field = query_type.fields[root]
        args = {"groupSession": "(id: $session)", "profile": "(userId: $user)", "program": "(id: $program)",
                "node": "(id: $session)", "nodes": "(ids: [$session, $user, $program])"}.get(root, "")
        parts.append(f"{root}{args} {{ {_selection(draw, get_named_type(field.type), 3, fragments)} }}")
    body = " ".join(parts)
    used = [v for v in ("session", "user", "program", "flag") if f"${v}" in body or any(f"${v}" in f for f in fragments.values())]
    types = {"session": "ID!", "user": "ID!", "program": "ID!", "flag": "Boolean!"}
    header = f"({', '.join(f'${v}: {types[v]}' for v in used)})" if used else ""
    return " ".join([f"query Generated{header} {{ {body} }}", *fragments.values()]), draw(st.booleans()), draw(st.integers(0, 5))


async def test_generated_documents_get_the_same_answer_from_both_executors(api, seeded):
    world, sessions = seeded.world, seeded.sessions
    # The last is nobody: anonymous requests fail in resolvers (UNAUTHENTICATED), the fallback path.
    viewers = [world.host, world.mentees[0], world.mentees[2], world.outsider, world.mentor, None]
    examples: list[tuple[str, bool, int]] = []

    @hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(documents())
    def collect(example):
        examples.append(example)

    collect()
    compared = clean = clean_compiled = 0
    rng = random.Random(7)
    for query, flag, who in examples:
        viewer = viewers[who]
        user = (viewer or world.host).gid
        variables = {"session": rng.choice(sessions)["id"], "user": user, "program": world.program_gid, "flag": flag}
        variables = {k: v for k, v in variables.items() if f"${k}" in query}
        served, standard, used = await both(api, query, variables, viewer.token if viewer else None)
        assert served == standard, query
        compared += 1
        if '"errors"' not in standard:  # a plain read: the compiled path must serve it, not bail
            clean += 1
            clean_compiled += used
    assert compared == len(examples) >= 100
    # (Documents with errors go to graphql-core on purpose; half the generated ones have
    # some, from arguments such as first and last together.)
    assert clean >= 20 and clean_compiled >= clean * 9 // 10, (clean_compiled, clean, compared)
