"""/metrics: protected, and its counters and gauges move with real requests, mail and sockets."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app import metrics
from app.main import create_app
from app.notifications.worker import OutboxWorker
from app.jobs.models import JobStatus, TimedJob
from tests.conftest import create_session, join
from tests.documents import SIGN_IN
from tests.email.mailbox import Mailbox
from tests.live.conftest import WS, wait_for_subscriptions
from tests.operations.conftest import METRICS_TOKEN, scrape
from tests.servers import free_port, serve_in_process


async def test_no_metrics_route_unless_a_token_or_port_is_configured(settings):
    app = create_app(settings.with_(metrics_token=None))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {METRICS_TOKEN[:-1]}", f"Bearer {METRICS_TOKEN}x", f"Basic {METRICS_TOKEN}", "Bearer "],
    ids=["none", "prefix", "longer", "wrong-scheme", "empty"],
)
async def test_a_missing_or_wrong_token_is_refused(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await api.http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "gs_" not in response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_joins_failed_joins_and_error_codes_are_counted(api, world):
    session = await create_session(api, world, maxParticipants=2)
    before = await scrape(api.http)

    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    refused = await join(api, world.mentees[1], session["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["SESSION_FULL"]
    body = (await api.post("query Broken { noSuchField }")).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = (await api.post("query Unparsable { viewer {")).json()  # no name can be read from it
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    await api.post("{ viewer { id } }")  # unnamed: shares the "anonymous" label

    after = await scrape(api.http)
    moved = lambda name, **labels: after.value(name, **labels) - before.value(name, **labels)  # noqa: E731
    assert moved("gs_graphql_operations_total", operation="Join", outcome="ok") == 1
    assert moved("gs_graphql_operations_total", operation="Join", outcome="userErrors") == 1
    assert moved("gs_graphql_operations_total", operation="Broken", outcome="GRAPHQL_VALIDATION_FAILED") == 1
    assert moved("gs_graphql_operations_total", operation="anonymous", outcome="GRAPHQL_PARSE_FAILED") == 1
    assert moved("gs_graphql_operations_total", operation="anonymous", outcome="ok") == 1
    assert moved("gs_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert moved("gs_graphql_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    assert moved("gs_graphql_operation_duration_seconds_count", operation="Join") == 2
    assert moved("gs_graphql_operation_duration_seconds_sum", operation="Join") > 0


async def test_sign_ins_refused_by_the_rate_limiter_are_counted(settings, world):
    app = create_app(settings.with_(sign_in_attempts_per_email=1))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            before = await scrape(http)
            for _ in range(3):
                await http.post("/graphql", json={
                    "query": SIGN_IN, "variables": {"email": world.mentor.user.email, "password": "wrong password"}
                })
            after = await scrape(http)
    # The first attempt is counted and fails; the next two are over the limit of 1.
    assert after.value("gs_sign_ins_refused_total") - before.value("gs_sign_ins_refused_total") == 2


async def test_outbox_backlog_and_its_age_move_as_mail_is_written_and_delivered(api, world, settings):
    mailbox = Mailbox()
    await mailbox.start()
    try:
        session = await create_session(api, world)
        worker = OutboxWorker(settings.with_(smtp_host="127.0.0.1", smtp_port=mailbox.port))
        await worker.drain()
        mailbox.take()
        empty = await scrape(api.http)
        assert empty.value("gs_outbox_pending") == 0 and empty.value("gs_outbox_oldest_pending_age_seconds") == 0

        await join(api, world.mentees[0], session["id"])  # a confirmation and a host notice
        waiting = await scrape(api.http)
        assert waiting.value("gs_outbox_pending") >= 1
        assert waiting.value("gs_outbox_oldest_pending_age_seconds") >= 0

        sent = await worker.drain()
        assert sent >= 1 and len(mailbox.take()) == sent
        drained = await scrape(api.http)
        assert drained.value("gs_outbox_pending") == 0
        assert drained.value("gs_outbox_failed") == 0
        assert drained.value("gs_outbox_oldest_pending_age_seconds") == 0
    finally:
        await mailbox.stop()


async def test_timed_jobs_pending_overdue_and_failed_are_reported(api):
    before = await scrape(api.http)
    assert before.value("gs_timed_jobs_pending") == 0 and before.value("gs_timed_jobs_overdue") == 0
    past, future = datetime.now(timezone.utc) - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(hours=1)
    for number, (status, run_at, lease_until) in enumerate(
        [
            (JobStatus.PENDING, past, None),  # overdue
            (JobStatus.PENDING, future, None),
            (JobStatus.RUNNING, past, past),  # its runner's lease ran out: overdue
            (JobStatus.RUNNING, past, future),  # being run
            (JobStatus.FAILED, past, None),
            (JobStatus.DONE, past, None),
        ]
    ):
        await TimedJob.create(kind=f"test:{number}", session_id=None, run_at=run_at, status=status, lease_until=lease_until)
    reported = await scrape(api.http)
    assert reported.value("gs_timed_jobs_pending") == 4
    assert reported.value("gs_timed_jobs_overdue") == 2
    assert reported.value("gs_timed_jobs_failed") == 1


async def test_database_pool_gauges_are_reported(api, world):
    reported = await scrape(api.http)
    assert reported.value("gs_db_pool_connections") >= 1
    assert reported.has("gs_db_pool_connections_in_use") and reported.has("gs_db_pool_waiting")


async def test_sockets_and_subscriptions_are_counted_while_open(app, settings, world):
    async with serve_in_process(app, settings) as url, httpx.AsyncClient(base_url=url, timeout=5) as http:
        before = await scrape(http)
        async with WS.signed_in(url, world.host.token) as client:
            await client.subscribe("1", "subscription Events { registrationEvents { kind } }")
            await wait_for_subscriptions(url, 1)
            during = await scrape(http)
            assert during.value("gs_websockets_open") - before.value("gs_websockets_open") == 1
            assert during.value("gs_subscriptions_active") - before.value("gs_subscriptions_active") == 1
        async with asyncio.timeout(5):
            while (after := await scrape(http)).value("gs_websockets_open") != before.value("gs_websockets_open"):
                await asyncio.sleep(0.02)  # the server notices the close a moment later; bounded
        assert after.value("gs_subscriptions_active") == before.value("gs_subscriptions_active")


async def test_metrics_port_serves_without_a_token_on_localhost_only(settings):
    port = free_port()
    app = create_app(settings.with_(metrics_token=None, metrics_port=port))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            response = await http.get("/metrics")
            assert response.status_code == 200 and "gs_graphql_operations_total" in response.text
            assert "gs_outbox_pending 0.0" in response.text  # the database is read there too
            assert (await http.get("/graphql")).status_code == 404  # only /metrics there
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            assert (await http.get("/metrics")).status_code == 404  # not on the public port


def test_operation_names_are_bounded_per_process():
    names = metrics.OperationNames(limit=2)
    assert [names.label(n) for n in ["A", "B", "C", "A", None, "no spaces please", "anonymous"]] == [
        "A", "B", "anonymous", "A", "anonymous", "anonymous", "anonymous",
    ]


def test_requests_refresh_the_pool_gauges_at_most_every_interval(monkeypatch):
    """After requests the pool is sampled once per interval (the clock here is driven by
    hand); a scrape samples it whatever the interval (`exposition` calls sample_pool)."""
    from app import metrics

    sampled: list[float] = []
    now = [1000.0]
    monkeypatch.setattr(metrics, "sample_pool", lambda: sampled.append(now[0]))
    monkeypatch.setattr(metrics, "_last_pool_sample", [float("-inf")])
    for step in (0.0, 0.1, 0.1, 0.04, 0.01, 0.3):
        now[0] += step
        metrics.sample_pool_after_request(lambda: now[0])
    interval = metrics.POOL_SAMPLE_INTERVAL_SECONDS
    assert sampled == [1000.0, 1000.25, 1000.55]
    assert all(later - earlier >= interval for earlier, later in zip(sampled, sampled[1:]))
