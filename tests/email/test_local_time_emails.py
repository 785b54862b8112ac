"""A session created from a local time: each recipient's email shows the start in their own
zone, and names it (through /graphql, the worker and a real SMTP server)."""

from __future__ import annotations

from app.accounts.models import User
from tests.conftest import join

CREATE = """
mutation Create($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) { groupSession { id startsAt timeZone } userErrors { field message code } }
}
"""


async def test_emails_show_each_recipients_zone_by_name(api, world, worker, mailbox):
    mentee = world.mentees[0]
    await User.filter(id=mentee.user.id).update(time_zone="America/New_York")
    data = await api.data(CREATE, {"input": {
        "programId": world.program_gid, "title": "Salary talk", "objective": "Practise it.",
        "startsAtLocal": "2027-03-29T17:00", "durationMinutes": 60}}, token=world.host.token)
    session = data["createGroupSession"]["groupSession"]
    assert (session["startsAt"], session["timeZone"]) == ("2027-03-29T15:00:00Z", "Europe/Paris")
    await worker.drain()
    mailbox.take()

    assert (await join(api, mentee, session["id"]))["userErrors"] == []
    assert await worker.drain() == 2
    # The host (Paris) reads 17:00 as typed; the mentee in New York 11:00 (EDT since 14 March).
    assert "Mon 29 Mar 2027, 17:00–18:00 (Europe/Paris)" in mailbox.one_to(world.host.user.email).text
    assert "Mon 29 Mar 2027, 11:00–12:00 (America/New_York)" in mailbox.one_to(mentee.user.email).text
