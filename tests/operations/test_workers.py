"""`serve --workers 2` (real processes, PostgreSQL and Redis): whichever worker answers a
scrape reports the same totals, for requests either of them served, and the sockets
either of them holds."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.backends import require_redis
from tests.conftest import create_session
from tests.documents import JOIN
from tests.live.conftest import WS
from tests.live.redis_support import unique_prefix
from tests.operations.conftest import Scrape, scrape
from tests.servers import app_process, free_port

SCRAPES = 8


async def scrapes(url: str) -> list[Scrape]:
    """`SCRAPES` scrapes, each on a new connection (so both workers answer some)."""
    found = []
    for _ in range(SCRAPES):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            found.append(await scrape(http))
    return found


@pytest.mark.timeout(200)
async def test_two_workers_report_one_consistent_set(api, world, settings, tmp_path):
    if not settings.uses_postgres:
        pytest.skip("runs in the PostgreSQL pass: several workers need PostgreSQL")
    session = await create_session(api, world, maxParticipants=3)
    metrics_port = free_port()
    shared = settings.with_(redis_url=require_redis(), redis_key_prefix=unique_prefix(), metrics_port=metrics_port)
    values = tmp_path / "metrics"
    values.mkdir()
    (values / "counter_1.db").write_bytes(b"left over from an earlier run")  # cleaned at start
    async with app_process(
        "serve", shared, tmp_path / "serve.log", "--workers", "2", env={"PROMETHEUS_MULTIPROC_DIR": str(values)}
    ) as server:
        assert not (values / "counter_1.db").exists()
        for member in [world.mentees[0], world.mentees[1], world.mentees[2]]:  # 2 seats left: ok, ok, full
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                response = await http.post(
                    "/graphql", json={"query": JOIN, "variables": {"id": session["id"]}},
                    headers={"Authorization": f"Bearer {member.token}"},
                )
                assert response.status_code == 200
        for _ in range(10):
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                assert (await http.post("/graphql", json={"query": "{ __typename }"})).status_code == 200

        workers = {path.stem.rsplit("_", 1)[1] for path in values.glob("gauge_livesum_*.db")}
        assert len(workers) == 2, workers
        for seen in await scrapes(server.url):
            assert seen.value("gs_graphql_operations_total", operation="Join", outcome="ok") == 2
            assert seen.value("gs_graphql_operations_total", operation="Join", outcome="userErrors") == 1
            assert seen.value("gs_graphql_operations_total", operation="anonymous", outcome="ok") == 10
            assert seen.value("gs_websockets_open") == 0
            assert seen.value("gs_redis_connected") == 1
        for _ in range(SCRAPES):  # METRICS_PORT: both workers listen on it; any answers for all
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}", timeout=10) as http:
                response = await http.get("/metrics")
                assert response.status_code == 200
                assert Scrape(response.text).value("gs_graphql_operations_total", operation="Join", outcome="ok") == 2

        async with WS.signed_in(server.url, world.host.token):
            for seen in await scrapes(server.url):
                assert seen.value("gs_websockets_open") == 1
        async with asyncio.timeout(10):
            while any(seen.value("gs_websockets_open") != 0 for seen in await scrapes(server.url)):
                await asyncio.sleep(0.05)  # the worker notices the close a moment later; bounded
        assert await server.stop() == 0, server.log()  # SIGTERM: the supervisor exits 0
    # A graceful stop took each worker's live gauges out of the sums.
    assert list(values.glob("gauge_livesum_*.db")) == []
