"""Sign-in, bearer tokens and what needs a user."""

import pytest

from app.accounts import services as accounts
from app.accounts.models import AccessToken
from tests.documents import SIGN_IN
from tests.responses import without_cost

VIEWER = "{ viewer { id name email } }"


@pytest.fixture
async def alice(app):
    return await accounts.create_user(
        email="Alice@Example.org", name="Alice", password="correct horse battery", time_zone="Europe/Paris"
    )


async def test_sign_in_returns_a_token_that_identifies_the_viewer(api, alice):
    data = await api.data(SIGN_IN, {"email": "  ALICE@example.org ", "password": "correct horse battery"})
    result = data["signIn"]
    assert result["userErrors"] == []
    assert result["viewer"]["name"] == "Alice" and result["viewer"]["timeZone"] == "Europe/Paris"
    assert len(result["token"]) >= 43  # 32 random bytes, url-safe base64

    viewer = (await api.data(VIEWER, token=result["token"]))["viewer"]
    assert viewer["email"] == "alice@example.org"

    stored = await AccessToken.get()
    assert stored.token_hash != result["token"] and result["token"] not in stored.token_hash
    assert stored.token_hash == accounts.hash_token(result["token"])


async def test_sign_in_shows_the_signed_in_user_their_own_email(api, alice):
    result = (await api.data(SIGN_IN, {"email": alice.email, "password": "correct horse battery"}))["signIn"]
    assert result["viewer"]["email"] == "alice@example.org"


async def test_sign_in_while_signed_in_as_someone_else_shows_the_new_user(api, alice):
    bob = await accounts.create_user(email="bob@example.org", name="Bob", password="another horse")
    bob_token = await accounts.issue_token(bob)
    data = await api.data(SIGN_IN, {"email": alice.email, "password": "correct horse battery"}, token=bob_token)
    assert data["signIn"]["viewer"]["name"] == "Alice"
    assert data["signIn"]["viewer"]["email"] == "alice@example.org"
    # Bob's token still signs Bob in: signIn changed only what its own payload shows.
    assert (await api.data(VIEWER, token=bob_token))["viewer"]["email"] == "bob@example.org"


async def test_each_sign_in_issues_a_new_token(api, alice):
    first = (await api.data(SIGN_IN, {"email": alice.email, "password": "correct horse battery"}))["signIn"]["token"]
    second = (await api.data(SIGN_IN, {"email": alice.email, "password": "correct horse battery"}))["signIn"]["token"]
    assert first != second
    assert await AccessToken.filter(user=alice).count() == 2


async def test_wrong_password_and_unknown_email_get_the_same_answer(api, alice):
    wrong = (await api.data(SIGN_IN, {"email": alice.email, "password": "nope"}))["signIn"]
    unknown = (await api.data(SIGN_IN, {"email": "nobody@example.org", "password": "nope"}))["signIn"]
    assert wrong == unknown
    assert wrong["token"] is None and wrong["viewer"] is None
    assert [e["code"] for e in wrong["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert await AccessToken.all().count() == 0


async def test_user_without_password_cannot_sign_in(api, app):
    await accounts.create_user(email="nopass@example.org", name="No Pass")
    result = (await api.data(SIGN_IN, {"email": "nopass@example.org", "password": ""}))["signIn"]
    assert [e["code"] for e in result["userErrors"]] == ["INVALID_CREDENTIALS"]


async def test_viewer_is_null_without_a_token(api, app):
    assert (await api.data(VIEWER))["viewer"] is None


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "nonsense", "Bearer " + "x" * 5000]
)
async def test_a_bad_token_is_the_same_as_none(api, world, header):
    response = await api.http.post("/graphql", json={"query": VIEWER}, headers={"Authorization": header})
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"viewer": None}}
    response = await api.http.post(
        "/graphql", json={"query": "{ dashboard { sessions { totalCount } } }"}, headers={"Authorization": header}
    )
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "query",
    [
        "{ dashboard { sessions { totalCount } } }",
        '{ groupSession(id: "R3JvdXBTZXNzaW9uOjE") { id } }',
        '{ profile(userId: "VXNlcjox") { id } }',
        '{ node(id: "VXNlcjox") { id } }',
        '{ program(id: "UHJvZ3JhbTox") { id } }',
        'mutation { joinGroupSession(input: {id: "R3JvdXBTZXNzaW9uOjE"}) { userErrors { code } } }',
    ],
)
async def test_what_needs_a_user_answers_one_unauthenticated_error(api, world, query):
    body = await api.execute(query)
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not any((body["data"] or {}).values())  # null data, or the nullable root field null


async def test_a_revoked_token_no_longer_works(api, world):
    assert (await api.data(VIEWER, token=world.host.token))["viewer"]["name"] == "Hannah"
    assert await accounts.revoke_token(world.host.token)
    assert (await api.data(VIEWER, token=world.host.token))["viewer"] is None


async def test_email_is_visible_to_the_user_alone(api, world):
    query = "query($id: ID!) { profile(userId: $id) { name email } }"
    own = await api.data(query, {"id": world.host.gid}, token=world.host.token)
    other = await api.data(query, {"id": world.host.gid}, token=world.mentees[0].token)
    assert own["profile"]["email"] == "hannah@example.org"
    assert other["profile"] == {"name": "Hannah", "email": None}


UPDATE_VIEWER = """
mutation($input: UpdateViewerInput!) {
  updateViewer(input: $input) { viewer { name timeZone } userErrors { field code } }
}
"""


async def test_viewer_changes_name_and_time_zone(api, world):
    result = (await api.data(UPDATE_VIEWER, {"input": {"timeZone": "America/Sao_Paulo", "name": " Hannah A. "}},
                             token=world.host.token))["updateViewer"]
    assert result == {"viewer": {"name": "Hannah A.", "timeZone": "America/Sao_Paulo"}, "userErrors": []}
    await world.host.user.refresh_from_db()
    assert world.host.user.time_zone == "America/Sao_Paulo"


@pytest.mark.parametrize("input_, field", [({"timeZone": "Mars/Base"}, "timeZone"), ({"timeZone": "../etc/passwd"}, "timeZone"),
                                           ({"name": ""}, "name"), ({"name": "a\nb"}, "name")])
async def test_invalid_profile_changes_are_refused_and_change_nothing(api, world, input_, field):
    result = (await api.data(UPDATE_VIEWER, {"input": input_}, token=world.host.token))["updateViewer"]
    assert result["viewer"] is None and result["userErrors"] == [{"field": ["input", field], "code": "INVALID"}]
    await world.host.user.refresh_from_db()
    assert (world.host.user.name, world.host.user.time_zone) == ("Hannah", "Europe/Paris")


async def test_lone_surrogates_in_credentials_are_wrong_credentials(api, alice):
    import json

    body = json.dumps({"query": SIGN_IN, "variables": {"email": "alice\ud800@example.org", "password": "x\udfff"}})
    response = await api.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert [e["code"] for e in response.json()["data"]["signIn"]["userErrors"]] == ["INVALID_CREDENTIALS"]
