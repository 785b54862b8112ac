"""Behind a proxy: `python -m app serve` takes the client address from X-Forwarded-For only
when the request comes from an address in FORWARDED_ALLOW_IPS; seen through the sign-in
limit per client address (each forwarded client has its own allowance, and an untrusted
sender's header is ignored, so its requests share one)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.documents import SIGN_IN
from tests.servers import app_process

PROXY = "127.0.0.2"  # the trusted proxy (all of 127.0.0.0/8 is loopback on Linux)
ELSEWHERE = "127.0.0.1"  # not in FORWARDED_ALLOW_IPS here, though it is in uvicorn's default
PER_CLIENT = 2


@pytest.fixture
async def server(settings, tmp_path):
    # No REDIS_URL: counters in this process's memory, nothing shared with other tests.
    limited = settings.with_(redis_url=None, sign_in_attempts_per_client=PER_CLIENT, sign_in_attempts_per_email=1000)
    log = tmp_path / "serve.log"
    async with app_process("serve", limited, log, "--log-level", "warning", env={"FORWARDED_ALLOW_IPS": PROXY}) as process:
        yield process.url


def client_from(url: str, local_address: str) -> httpx.AsyncClient:
    """Requests that leave from `local_address`, as a proxy on that address would send them."""
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=10)


async def attempt(http: httpx.AsyncClient, forwarded_for: str) -> str:
    """One failed sign-in (a fresh email each time: only the per-client limit can refuse it)."""
    response = await http.post(
        "/graphql",
        json={"query": SIGN_IN, "variables": {"email": f"{uuid.uuid4().hex[:8]}@example.org", "password": "wrong"}},
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert response.status_code == 200, response.text
    [error] = response.json()["data"]["signIn"]["userErrors"]
    return error["code"]


async def test_a_trusted_proxy_forwards_each_clients_address(server):
    async with client_from(server, PROXY) as proxy:
        first = [await attempt(proxy, "203.0.113.1") for _ in range(PER_CLIENT + 1)]
        assert first == ["INVALID_CREDENTIALS"] * PER_CLIENT + ["RATE_LIMITED"]
        # Another client behind the same proxy has an allowance of its own.
        assert await attempt(proxy, "203.0.113.2") == "INVALID_CREDENTIALS"


async def test_an_untrusted_sender_cannot_choose_its_address(server):
    async with client_from(server, ELSEWHERE) as sender:
        spoofed = [await attempt(sender, f"198.51.100.{i}") for i in range(1, PER_CLIENT + 2)]
    # Each request claimed another address; all were counted against the sender's own.
    assert spoofed == ["INVALID_CREDENTIALS"] * PER_CLIENT + ["RATE_LIMITED"]
