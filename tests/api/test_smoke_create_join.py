from tests.conftest import create_session, join


async def test_host_creates_and_mentee_joins(api, world):
    session = await create_session(api, world)
    assert session["participantCount"] == 1
    result = await join(api, world.mentees[0], session["id"])
    assert result["userErrors"] == []
    assert result["groupSession"]["participantCount"] == 2
