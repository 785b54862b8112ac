"""The minimum end to end, against a real `python -m app serve` process whose lead times
are seconds: the host is warned, then the session short of its minimum is cancelled, and
the participant receives the cancellation over real SMTP. Every wait is on the mailbox,
bounded; nothing sleeps to let time pass."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.api.pagination import pk_of
from app.group_sessions.models import GroupSession, SessionStatus
from app.settings import Duration
from tests.conftest import create_session, join
from tests.documents import CREATE, JOIN
from tests.email.mailbox import Mailbox, Received
from tests.servers import app_process

SESSION = "query S($id: ID!) { groupSession(id: $id) { status cancellationReason minimumDeadline minimumReached } }"


async def mail_matching(mailbox: Mailbox, wanted: Callable[[Received], bool], timeout: float) -> Received:
    """The first message `wanted` accepts, waiting (at most `timeout` seconds) for more mail."""
    async with asyncio.timeout(timeout):
        while True:
            found = [m for m in mailbox.received if wanted(m)]
            if found:
                return found[0]
            await mailbox.wait_for(len(mailbox.received) + 1, timeout=timeout)


async def test_a_session_short_of_its_minimum_is_warned_then_cancelled_by_the_server(
    app, world, settings, mailbox, tmp_path
):
    served = settings.with_(
        outbox_worker_in_serve=True,
        outbox_poll_seconds=1,
        jobs_poll_seconds=1,
        minimum_decision_lead=Duration(seconds=6),
        minimum_warning_lead=Duration(seconds=3),
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

        starts_at = (datetime.now(timezone.utc) + timedelta(seconds=14)).replace(microsecond=0)
        created = await gql(
            CREATE,
            {
                "input": {
                    "programId": world.program_gid,
                    "title": "Salary talks",
                    "objective": "Practise the conversation.",
                    "startsAt": starts_at.isoformat(),
                    "durationMinutes": 60,
                    "minParticipants": 3,
                }
            },
            world.host.token,
        )
        session_id = created["createGroupSession"]["groupSession"]["id"]
        joined = await gql(JOIN, {"id": session_id}, world.mentees[0].token)
        assert joined["joinGroupSession"]["userErrors"] == []
        seen = (await gql(SESSION, {"id": session_id}, world.host.token))["groupSession"]
        assert seen["minimumDeadline"] == (starts_at - timedelta(seconds=6)).isoformat().replace("+00:00", "Z")
        assert (seen["status"], seen["minimumReached"]) == ("SCHEDULED", False)

        host, participant = world.host.user.email, world.mentees[0].user.email
        warning = await mail_matching(mailbox, lambda m: m.to == host and "needed:" in m.subject, timeout=15)
        assert warning.subject == "2 of 3 needed: Salary talks"
        assert "2 of the 3 needed so far" in warning.text

        cancelled = await mail_matching(
            mailbox, lambda m: m.to == participant and m.subject.startswith("Cancelled:"), timeout=15
        )
        assert "Cancelled automatically" in cancelled.text
        assert str(cancelled.calendar["method"]) == "CANCEL"
        await mail_matching(mailbox, lambda m: m.to == host and m.subject.startswith("Cancelled:"), timeout=10)
        # The warning came first, and only once.
        subjects = [m.subject for m in mailbox.received if m.to == host]
        assert subjects.count(warning.subject) == 1
        assert subjects.index(warning.subject) < max(i for i, s in enumerate(subjects) if s.startswith("Cancelled:"))

        seen = (await gql(SESSION, {"id": session_id}, world.host.token))["groupSession"]
        assert seen["status"] == "CANCELLED"
        assert seen["cancellationReason"].startswith("Cancelled automatically: it had 2 of the 3")


@pytest.mark.settings(minimum_decision_lead=Duration(seconds=4), minimum_warning_lead=Duration(seconds=2))
async def test_the_worker_process_takes_the_decisions_of_sessions_another_process_created(
    api, world, settings, mailbox, tmp_path
):
    starts_at = (datetime.now(timezone.utc) + timedelta(seconds=10)).replace(microsecond=0)
    session = await create_session(api, world, minParticipants=3, startsAt=starts_at.isoformat())
    await join(api, world.mentees[0], session["id"])
    worker = settings.with_(outbox_poll_seconds=1, jobs_poll_seconds=1)
    async with app_process("worker", worker, tmp_path / "worker.log"):
        participant = world.mentees[0].user.email
        cancelled = await mail_matching(
            mailbox, lambda m: m.to == participant and m.subject.startswith("Cancelled:"), timeout=20
        )
        assert "Cancelled automatically" in cancelled.text
    assert (await GroupSession.get(id=pk_of(session["id"], "GroupSession"))).status == SessionStatus.CANCELLED
