"""Random and malicious values at every query and mutation argument (hypothesis), as
variables and written in the document: crafted cursors, IDs whose keys no 32-bit column
holds, and DateTimes at the edge of the calendar among them.

Whatever comes in, the answer is a well-formed GraphQL response whose errors carry a
code and are never a bug (INTERNAL_SERVER_ERROR), never an HTTP 5xx; and when the answer
says nothing was done (a top-level error, a null payload, or userErrors), the database
is exactly as it was.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from app.accounts.models import AccessToken, Membership, Program, User
from app.api.pagination import to_global_id
from app.group_sessions.models import GroupSession, Guest, Registration
from app.main import create_app
from app.notifications.models import OutboxEmail
from tests.conftest import World, build_world, create_session, in_days, join

CONNECTION = "{ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id title } } }"
SESSION_FIELDS = "id title startsAt participantCount status viewerCanJoin viewerCannotJoinReasons"
PAYLOAD = "userErrors { field message code }"

# name -> (document, {variable: kind}); every argument of the API is a variable here
OPERATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "node": ("query($id: ID!) { node(id: $id) { id __typename } }", {"id": "id"}),
    "nodes": ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": "ids"}),
    "profile": (
        "query($id: ID!, $n: Int, $a: String) { profile(userId: $id) { name upcomingGroupSessions(first: $n, after: $a) "
        + CONNECTION + " } }",
        {"id": "id", "n": "int", "a": "cursor"},
    ),
    "groupSession": (
        "query($id: ID!, $n: Int, $a: String) { groupSession(id: $id) { " + SESSION_FIELDS
        + " participants(first: $n, after: $a) { totalCount edges { cursor node { id } } } } }",
        {"id": "id", "n": "int", "a": "cursor"},
    ),
    "program": (
        "query($id: ID!, $t: Timeframe!, $n: Int, $a: String) { program(id: $id) { name viewerRole "
        "groupSessions(timeframe: $t, first: $n, after: $a) " + CONNECTION + " } }",
        {"id": "id", "t": "timeframe", "n": "int", "a": "cursor"},
    ),
    "dashboard": (
        "query($t: Timeframe!, $r: SessionRole, $c: Boolean, $n: Int, $a: String) { dashboard { "
        "sessions(timeframe: $t, role: $r, includeCancelled: $c, first: $n, after: $a) " + CONNECTION + " } }",
        {"t": "timeframe", "r": "role", "c": "bool", "n": "int", "a": "cursor"},
    ),
    "signIn": (
        "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { token " + PAYLOAD + " } }",
        {"e": "string", "p": "string"},
    ),
    "createGroupSession": (
        "mutation($i: CreateGroupSessionInput!) { createGroupSession(input: $i) { groupSession { id } " + PAYLOAD + " } }",
        {"i": "create_input"},
    ),
    "updateGroupSession": (
        "mutation($i: UpdateGroupSessionInput!) { updateGroupSession(input: $i) { groupSession { id } " + PAYLOAD + " } }",
        {"i": "update_input"},
    ),
    "cancelGroupSession": (
        "mutation($id: ID!, $r: String) { cancelGroupSession(input: {id: $id, reason: $r}) { groupSession { id } "
        + PAYLOAD + " } }",
        {"id": "id", "r": "string"},
    ),
    "joinGroupSession": (
        "mutation($id: ID!) { joinGroupSession(input: {id: $id}) { registration { id } " + PAYLOAD + " } }",
        {"id": "id"},
    ),
    "updateViewer": (
        "mutation($n: String, $z: String) { updateViewer(input: {name: $n, timeZone: $z}) { viewer { name timeZone } "
        + PAYLOAD + " } }",
        {"n": "string", "z": "string"},
    ),
    "leaveGroupSession": (
        "mutation($id: ID!) { leaveGroupSession(input: {id: $id}) { groupSession { id } " + PAYLOAD + " } }",
        {"id": "id"},
    ),
    "respondToInvitation": (
        "mutation($id: ID!, $a: Boolean!) { respondToInvitation(input: {groupSessionId: $id, accept: $a}) { "
        "invitation { status } groupSession { id } " + PAYLOAD + " } }",
        {"id": "id", "a": "bool"},
    ),
}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --- malicious values -----------------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.sampled_from([
        "", " ", "\x00", "\u202e\u0000\r\n\t", "😀" * 300, "a" * 20_000, "x\ny", "'; DROP TABLE user; --",
        "<script>alert(1)</script>", "${jndi:ldap://x}", "%s%n", "\ud800", "Robert'); --", "../../etc/passwd",
    ]),
)
huge_numbers = st.sampled_from([0, -1, 1, 2**31 - 1, -(2**31), 2**31, 2**53, 10**30, -(10**30)])
# Finite floats only: JSON has no NaN or Infinity (json.dumps below refuses them, and a
# client cannot send them), so they would test the test, not the API.
any_number = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40), huge_numbers, st.floats(allow_nan=False, allow_infinity=False)
)
wrong_type = st.one_of(
    st.none(), st.booleans(), any_number, nasty_text, st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
bad_ids = st.one_of(
    nasty_text,
    st.sampled_from([
        b64("GroupSession:0"), b64("GroupSession:-1"), b64("GroupSession:99999999999"), b64("GroupSession:1.5"),
        b64("GroupSession:"), b64("Nope:1"), b64("User:1") + "=", b64("GroupSession:１"), "R3JvdXBTZXNzaW9uOjE",
        "====", "Z" * 300, b64("GroupSession:" + "9" * 40),
        # keys no 32-bit primary key can have (PostgreSQL: 'value out of int32 range')
        b64("GroupSession:" + "1" * 23), b64("GroupSession:2147483648"), b64("Registration:4294967296"),
        b64("User:9223372036854775808"), b64("Program:2147483647"), b64("GroupSession:-2147483649"),
    ]),
    st.integers().map(lambda n: b64(f"GroupSession:{n}")),
    st.integers().map(lambda n: b64(f"User:{n}")),
    st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()),
)
# Valid ISO 8601, but at the edge of the calendar: some are no datetime once moved to UTC.
EDGE_INSTANTS = [
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00-14:00",
]
times = st.one_of(
    st.sampled_from([
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "1970-01-01T00:00:00+00:00", "2026-13-45T25:61:00Z",
        "2026-12-01T17:00:00", "tomorrow", "", "2026-12-01T17:00:00+25:00", "2026-12-01T17:00:00.123456789Z",
        "+275760-09-13T00:00:00Z", "2026-12-01 17:00:00Z",
    ]),
    st.sampled_from(EDGE_INSTANTS),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    wrong_type,
)


def cursor_of(values: list) -> str:
    return b64(json.dumps(values))


# Cursors that decode: the right shape with values no page can hold, and the wrong shapes.
crafted_pk = st.one_of(huge_numbers, st.sampled_from([10**22, 2**31, 2**63, -(2**31) - 1]), st.integers(), wrong_type)
cursor_times = st.one_of(st.sampled_from(["2026-01-01T00:00:00Z", "2030-06-01T12:00:00+02:00"]), st.sampled_from(EDGE_INSTANTS), times)
crafted_cursors = st.one_of(
    st.tuples(cursor_times, crafted_pk).map(lambda pair: cursor_of(list(pair))),
    crafted_pk.map(lambda pk: cursor_of([pk])),
    st.lists(wrong_type, max_size=3).map(cursor_of),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: b64(f"[{n}]")),
)


def mostly(valid: st.SearchStrategy, hostile: st.SearchStrategy, wrong: st.SearchStrategy = wrong_type):
    """Valid values 6 times in 10 (so calls reach the services), hostile values of the
    right type 3 in 10, values of the wrong type 1 in 10."""
    return st.integers(0, 9).flatmap(lambda n: valid if n < 6 else hostile if n < 9 else wrong)


@dataclass
class Seeds:
    """Real IDs, so that some values are valid and reach deep into the services."""

    ids: list[str]
    program_id: str
    cursors: list[str]


def values(kind: str, seeds: Seeds) -> st.SearchStrategy[Any]:
    real_id = st.sampled_from(seeds.ids)
    id_ = mostly(real_id, bad_ids)
    strategies = {
        "id": id_,
        "ids": mostly(st.lists(real_id, max_size=5), st.lists(st.one_of(real_id, bad_ids), max_size=120)),
        "int": mostly(st.integers(min_value=0, max_value=100), st.one_of(st.integers(-5, 200), huge_numbers)),
        "cursor": mostly(st.sampled_from(seeds.cursors), st.one_of(nasty_text, bad_ids, crafted_cursors)),
        "timeframe": mostly(st.sampled_from(["FUTURE", "PAST"]), nasty_text),
        "role": mostly(st.sampled_from(["HOST", "PARTICIPANT", None]), nasty_text),
        "bool": mostly(st.booleans(), st.none()),
        "string": mostly(st.text(max_size=30), nasty_text),
    }
    if kind in strategies:
        return strategies[kind]
    fields = {
        "title": mostly(st.just("A fine title"), nasty_text),
        "objective": mostly(st.just("Learn things."), nasty_text),
        "guestIds": mostly(st.lists(real_id, max_size=3), st.lists(st.one_of(real_id, bad_ids), max_size=5)),
        "minParticipants": mostly(st.integers(1, 10), st.one_of(st.integers(-3, 50), huge_numbers)),
        "maxParticipants": mostly(st.integers(2, 40), st.one_of(st.integers(-3, 50), huge_numbers)),
        "startsAt": mostly(st.sampled_from([in_days(2), in_days(30), in_days(-1)]), times),
        "durationMinutes": mostly(st.integers(5, 240), st.one_of(st.integers(-10, 2000), huge_numbers)),
    }
    if kind == "create_input":
        fields = {"programId": mostly(st.just(seeds.program_id), id_), **fields}
    else:
        fields = {"id": id_, **fields}
    required = ["programId", "title", "objective", "startsAt", "durationMinutes"] if kind == "create_input" else ["id"]
    inputs = st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )
    with_unknown_field = inputs.flatmap(lambda d: wrong_type.map(lambda w: {**d, "unknownField": w}))
    return mostly(inputs, with_unknown_field)


# --- the world, in a loop of its own (hypothesis calls a plain function per example) --------


@dataclass
class Fuzz:
    runner: asyncio.Runner
    http: httpx.AsyncClient
    world: World
    seeds: Seeds
    tokens: list[str | None]


async def snapshot() -> dict:
    """Everything a client could change, except token last-use times."""
    sessions = await GroupSession.all().order_by("id").values_list(
        "id", "title", "objective", "starts_at", "ends_at", "duration_minutes", "min_participants",
        "max_participants", "participant_count", "status", "cancellation_reason", "sequence",
    )
    return {
        "users": await User.all().order_by("id").values_list("id", "email", "name", "time_zone"),
        "programs": await Program.all().count(),
        "memberships": await Membership.all().count(),
        "tokens": await AccessToken.all().count(),
        "revoked": await AccessToken.filter(revoked_at__isnull=False).count(),
        "sessions": sessions,
        "registrations": await Registration.all().order_by("id").values_list("id", "session_id", "user_id"),
        "guests": await Guest.all().order_by("id").values_list("id", "session_id", "user_id", "status", "responded_at"),
        "outbox": await OutboxEmail.all().count(),
    }


@pytest.fixture
def fuzz(settings, request):
    with asyncio.Runner() as runner:
        app = create_app(settings.with_(sign_in_attempts_per_client=1_000_000))
        lifespan = app.router.lifespan_context(app)
        runner.run(lifespan.__aenter__())
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        try:
            world = runner.run(build_world())

            async def seed() -> tuple[list[str], list[str]]:
                from tests.conftest import GraphQLClient

                api = GraphQLClient(http)
                first = await create_session(api, world)
                second = await create_session(api, world, title="Second")
                joined = await join(api, world.mentees[0], first["id"])
                page = await api.data(
                    "{ dashboard { sessions(first: 1) { edges { cursor } } } }", token=world.host.token
                )
                cursors = [e["cursor"] for e in page["dashboard"]["sessions"]["edges"]]
                ids = [first["id"], second["id"], joined["registration"]["id"], world.program_gid,
                       to_global_id("Program", world.other_program.id), world.host.gid, world.outsider.gid]
                return ids, cursors

            ids, cursors = runner.run(seed())
            yield Fuzz(
                runner=runner, http=http, world=world,
                seeds=Seeds(ids=ids, program_id=world.program_gid, cursors=cursors),
                tokens=[world.host.token, world.mentees[1].token, world.outsider.token, None, "forged-token"],
            )
        finally:
            runner.run(http.aclose())
            runner.run(lifespan.__aexit__(None, None, None))


# --- the property ---------------------------------------------------------------------------


async def exercise(fuzz: Fuzz, name: str, variables: dict[str, Any], token: str | None) -> None:
    document, _ = OPERATIONS[name]
    before = await snapshot()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # json.dumps without allow_nan so hypothesis floats stay JSON; lone surrogates are sent escaped
    body = json.dumps({"query": document, "variables": variables}, allow_nan=False)
    response = await asyncio.wait_for(
        fuzz.http.post("/graphql", content=body, headers={**headers, "Content-Type": "application/json"}), 30
    )
    assert response.status_code in (200, 400), response.text[:500]
    result = response.json()
    assert isinstance(result, dict) and ("data" in result or "errors" in result), result
    for error in result.get("errors") or []:
        assert isinstance(error.get("message"), str) and error["message"], error
        assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_SERVER_ERROR"), error
    payload = (result.get("data") or {}).get(name) if name in {"signIn", "updateViewer", "respondToInvitation"} or name.endswith("GroupSession") else None
    refused = (
        result.get("data") is None
        or (result["data"].get(name) is None)
        or bool(isinstance(payload, dict) and payload.get("userErrors"))
    )
    if refused and name not in {"node", "nodes", "profile", "groupSession", "program", "dashboard"}:
        assert await snapshot() == before, (name, variables, result)
    elif name in {"node", "nodes", "profile", "groupSession", "program", "dashboard"}:
        assert await snapshot() == before, "a query changed the database"


@st.composite
def calls(draw, seeds: Seeds, tokens: list[str | None]):
    name = draw(st.sampled_from(sorted(OPERATIONS)))
    _, kinds = OPERATIONS[name]
    variables = {}
    for variable, kind in kinds.items():
        if draw(st.booleans()) or kind not in {"int", "cursor", "role", "bool", "string"}:
            variables[variable] = draw(values(kind, seeds))
    if draw(st.integers(0, 19)) == 0:
        variables[draw(st.text(min_size=1, max_size=8))] = draw(wrong_type)  # an undeclared variable
    return name, variables, draw(st.sampled_from(tokens))


@hypothesis_settings(
    max_examples=400, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_argument_survives_hostile_values(fuzz, data):
    name, variables, token = data.draw(calls(fuzz.seeds, fuzz.tokens))
    fuzz.runner.run(exercise(fuzz, name, variables, token))


def test_every_operation_with_arguments_is_fuzzed():
    """A new query or mutation argument must be added to OPERATIONS."""
    from app.api.schema import build_schema

    schema = build_schema()._schema
    covered = set(OPERATIONS) | {"signOut", "viewer", "dashboard"}
    for root in (schema.query_type, schema.mutation_type):
        for field_name, field in root.fields.items():
            if field.args or field_name in {"signOut"}:
                assert field_name in covered, f"{field_name} is not fuzzed"


def literal(value: Any) -> str:
    """`value` written as a GraphQL literal (input object keys that are not names are dropped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    fields = [f"{k}: {literal(v)}" for k, v in value.items() if k.isidentifier() and k.isascii()]
    return "{" + ", ".join(fields) + "}"


@hypothesis_settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_hostile_literals_in_the_document(fuzz, data):
    """The same values written into the document itself (parse and validation paths)."""
    name, variables, token = data.draw(calls(fuzz.seeds, fuzz.tokens))
    document, kinds = OPERATIONS[name]
    inlined = {k: v for k, v in variables.items() if k in kinds}
    # drop the variable definitions and write each value where its variable was used
    head, _, rest = document.partition("{")
    operation = head.split("(")[0].strip()
    body = "{" + rest
    for variable in sorted(kinds, key=len, reverse=True):
        body = body.replace(f"${variable}", literal(inlined.get(variable)))
    query = f"{operation} {body}"

    async def run() -> None:
        before = await snapshot()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await asyncio.wait_for(fuzz.http.post("/graphql", json={"query": query}, headers=headers), 30)
        assert response.status_code in (200, 400), response.text[:500]
        result = response.json()
        for error in result.get("errors") or []:
            assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_SERVER_ERROR"), (query, error)
        if result.get("data") is None or result["data"].get(name) is None:
            assert await snapshot() == before, (query, result)

    fuzz.runner.run(run())


# --- cursors, IDs and DateTimes written in the document --------------------------------------

# Each document has slots for literals: {id}, {session}, {program}, {cursor}, {when}.
_PAYLOAD = PAYLOAD.replace("{", "{{").replace("}", "}}")
LITERAL_DOCUMENTS = [
    "{{ node(id: {id}) {{ id }} nodes(ids: [{id}, {session}]) {{ id }} }}",
    "{{ groupSession(id: {session}) {{ id participants(first: 3, after: {cursor}) {{ totalCount edges {{ cursor }} }} }} }}",
    "{{ dashboard {{ sessions(first: 3, after: {cursor}) {{ totalCount edges {{ cursor }} }} }} }}",
    "{{ program(id: {program}) {{ groupSessions(timeframe: FUTURE, first: 3, after: {cursor}) {{ totalCount }} }} }}",
    "{{ profile(userId: {id}) {{ upcomingGroupSessions(after: {cursor}) {{ totalCount }} }} }}",
    "mutation {{ createGroupSession(input: {{programId: {program}, title: \"T\", objective: \"O\", startsAt: {when}, "
    "durationMinutes: 60, guestIds: [{id}]}}) {{ groupSession {{ id }} " + _PAYLOAD + " }} }}",
    "mutation {{ updateGroupSession(input: {{id: {session}, startsAt: {when}}}) {{ groupSession {{ id }} " + _PAYLOAD + " }} }}",
    "mutation {{ joinGroupSession(input: {{id: {session}}}) {{ registration {{ id }} " + _PAYLOAD + " }} }}",
    "mutation {{ leaveGroupSession(input: {{id: {session}}}) {{ groupSession {{ id }} " + _PAYLOAD + " }} }}",
    "mutation {{ cancelGroupSession(input: {{id: {session}}}) {{ groupSession {{ id }} " + _PAYLOAD + " }} }}",
    "mutation {{ respondToInvitation(input: {{groupSessionId: {session}, accept: true}}) {{ invitation {{ status }} "
    + _PAYLOAD + " }} }}",
]


@hypothesis_settings(
    max_examples=200, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_crafted_cursors_ids_and_datetimes_in_the_document(fuzz, data):
    """Cursors, IDs and DateTimes written as literals (the parse and validation paths, where
    a scalar's refusal surfaces differently from a variable's): never a bug, never a 5xx,
    nothing changed when refused."""
    template = data.draw(st.sampled_from(LITERAL_DOCUMENTS))
    id_ = mostly(st.sampled_from(fuzz.seeds.ids), bad_ids)
    slots = {
        "id": data.draw(id_),
        "session": data.draw(id_),
        "program": data.draw(mostly(st.just(fuzz.seeds.program_id), bad_ids)),
        "cursor": data.draw(st.one_of(st.sampled_from(fuzz.seeds.cursors), crafted_cursors, bad_ids)),
        "when": data.draw(st.one_of(st.just(in_days(3)), st.sampled_from(EDGE_INSTANTS), times)),
    }
    query = template.format(**{name: literal(value) for name, value in slots.items()})
    # mostly the host, who may see and change everything here, so values reach the services
    others = st.sampled_from(fuzz.tokens)
    token = data.draw(mostly(st.just(fuzz.world.host.token), others, others))

    async def run() -> None:
        before = await snapshot()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await asyncio.wait_for(fuzz.http.post("/graphql", json={"query": query}, headers=headers), 30)
        assert response.status_code in (200, 400), response.text[:500]
        result = response.json()
        for error in result.get("errors") or []:
            assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_SERVER_ERROR"), (query, error)
        payload = next(iter((result.get("data") or {}).values()), None)
        refused = result.get("data") is None or payload is None or bool(isinstance(payload, dict) and payload.get("userErrors"))
        if refused or not query.startswith("mutation"):
            assert await snapshot() == before, (query, result)

    fuzz.runner.run(run())
