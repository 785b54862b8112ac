"""Reminders end to end, against a real `python -m app serve` process whose reminder
offsets and join window are seconds: the participant gets each reminder once over real
SMTP, the early one saying when the room opens, the late one (inside the window) with
the room link. Every wait is on the mailbox, bounded; nothing sleeps to let time pass."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from app.settings import Duration
from tests.documents import CREATE, JOIN
from tests.email.test_minimum_server import mail_matching
from tests.servers import app_process

ROOM = "https://meet.example.org/our-room"


async def test_the_server_sends_each_reminder_once_with_the_link_once_the_room_is_open(
    app, world, settings, mailbox, tmp_path
):
    served = settings.with_(
        outbox_worker_in_serve=True,
        outbox_poll_seconds=1,
        jobs_poll_seconds=1,
        reminder_offsets=(Duration(seconds=12), Duration(seconds=3)),
        join_window=Duration(seconds=6),
    )
    async with app_process("serve", served, tmp_path / "serve.log") as server, httpx.AsyncClient(
        base_url=server.url, timeout=10
    ) as http:

        async def gql(query: str, variables: dict, token: str) -> dict:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
            )
            body = response.json()
            assert response.status_code == 200 and not body.get("errors"), body
            return body["data"]

        starts_at = (datetime.now(timezone.utc) + timedelta(seconds=19)).replace(microsecond=0)
        created = await gql(
            CREATE,
            {
                "input": {
                    "programId": world.program_gid,
                    "title": "Salary talks",
                    "objective": "Practise the conversation.",
                    "startsAt": starts_at.isoformat(),
                    "durationMinutes": 60,
                    "meetingUrl": ROOM,
                }
            },
            world.host.token,
        )
        session_id = created["createGroupSession"]["groupSession"]["id"]
        joined = await gql(JOIN, {"id": session_id}, world.mentees[0].token)
        assert joined["joinGroupSession"]["userErrors"] == []

        participant = world.mentees[0].user.email

        def reminder(m) -> bool:
            return m.to == participant and m.subject.startswith("Reminder: Salary talks")

        early = await mail_matching(mailbox, reminder, timeout=20)
        assert "(UTC)" in early.subject
        assert "appears on the session page from" in early.text and ROOM not in early.text
        assert str(early.calendar["method"]) == "REQUEST"

        late = await mail_matching(mailbox, lambda m: reminder(m) and m is not early, timeout=20)
        assert f"Enter the room: {ROOM}" in late.text
        # The host got both too, and nobody got one twice so far (that each job runs once is proved pass
        # by pass in tests/email/test_reminders.py).
        await mail_matching(
            mailbox, lambda m: m.to == world.host.user.email and "Enter the room" in m.text, timeout=10
        )
        reminders = [m.to for m in mailbox.received if m.subject.startswith("Reminder:")]
        assert sorted(reminders) == sorted([participant, participant, world.host.user.email, world.host.user.email])
