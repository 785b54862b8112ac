"""Live-update benchmark: N WebSocket subscribers on one session, joins fired, delivery
latency from commit to receipt and server memory per idle subscriber.

Run through `scripts/bench_live` (creates .venv). Phases, each against a fresh
`python -m app serve` process on a free port:
  baseline   1 worker, in-process broker, 10 subscribers (the same run's reference)
  1 worker   1 worker, in-process broker, N subscribers
  2 workers  2 workers, Redis broker, N subscribers (skipped when Redis is not reachable)

Latency = receipt time in this client - the event's occurredAt, which the server stamps
right after the commit (same machine, same clock). It includes this client's own time to
read N frames, so it is an upper bound of the server's delivery time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.accounts import services as accounts  # noqa: E402
from app.accounts.models import ProgramRole  # noqa: E402
from app.api.pagination import to_global_id  # noqa: E402
from app.db import migrate_database, tortoise_config  # noqa: E402
from app.group_sessions import services as sessions  # noqa: E402
from app.group_sessions.events import Effects  # noqa: E402
from tests.databases import database_name  # noqa: E402

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
TARGET_P99_MS = 250
TARGET_KB_PER_SUBSCRIBER = 50

SUBSCRIPTION = """
subscription($id: ID) { registrationEvents(sessionId: $id) {
  kind occurredAt registration { participant { name } } session { participantCount spotsLeft } } }
"""
JOIN = "mutation($id: ID!) { joinGroupSession(input: {id: $id}) { userErrors { code } } }"


@dataclass
class World:
    host_token: str
    joiner_tokens: list[str]
    session_ids: list[str] = field(default_factory=list)


# --- database ---------------------------------------------------------------------------


async def make_database() -> tuple[str, str | None]:
    """A throwaway PostgreSQL database when reachable, else a SQLite file. (url, pg name)"""
    try:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=2)
        name = database_name("bench")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = POSTGRES_ADMIN.rpartition("/")[0] + "/" + name
    except Exception:  # noqa: BLE001 - any failure means: no PostgreSQL here
        url, name = f"sqlite://{tempfile.mkdtemp(prefix='bench-live-')}/bench.sqlite3", None
    await migrate_database(url)
    return url, name


async def drop_database(name: str | None) -> None:
    if name:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def seed(database_url: str, joiners: int, sessions_needed: int) -> World:
    from tortoise import Tortoise

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        program = await accounts.create_program(name="Bench")
        host = await accounts.create_user(email="host@bench.example", name="Host")
        await accounts.add_member(program_id=program.id, email=host.email, role=ProgramRole.MENTOR)
        tokens = []
        for i in range(joiners):
            user = await accounts.create_user(email=f"m{i}@bench.example", name=f"Mentee {i}")
            await accounts.add_member(program_id=program.id, email=user.email, role=ProgramRole.MENTEE)
            tokens.append(await accounts.issue_token(user))
        world = World(await accounts.issue_token(host), tokens)
        for i in range(sessions_needed):
            row = await sessions.create_group_session(
                viewer_id=host.id,
                program_id=program.id,
                title=f"Bench session {i}",
                objective="Measure live delivery.",
                starts_at=datetime.now(timezone.utc) + timedelta(days=2),
                duration_minutes=60,
                min_participants=1,
                max_participants=joiners + 1,
                effects=Effects(),
            )
            world.session_ids.append(to_global_id("GroupSession", row.id))
        return world
    finally:
        await Tortoise.close_connections()


# --- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(pid: int, workers: int) -> list[int]:
    """The processes that serve: the process itself for 1 worker, its children for more."""
    if workers == 1:
        return [pid]
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    # uvicorn's workers, not multiprocessing's resource tracker.
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


class Server:
    def __init__(self, database_url: str, workers: int, redis_url: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "OUTBOX_WORKER_IN_SERVE": "false",
            "WS_SUBSCRIBER_QUEUE_SIZE": "256",
            # Every subscriber connects from 127.0.0.1 and signs in as the host: lift the
            # per-address and per-user socket caps, which exist for real clients.
            "WS_MAX_CONNECTIONS_PER_USER": "100000",
            "WS_MAX_CONNECTIONS_PER_IP": "100000",
        }
        env.pop("REDIS_URL", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
            env["REDIS_KEY_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}:"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-live-server-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--workers", str(workers),
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
        )

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=1) as http, asyncio.timeout(60):
            while True:
                if self.process.poll() is not None:
                    raise SystemExit(f"server exited; see {self.log.name}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        if len(worker_pids(self.process.pid, self.workers)) == self.workers:
                            return
                except httpx.TransportError as error:
                    self.last_error = error
                await asyncio.sleep(0.2)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in worker_pids(self.process.pid, self.workers))

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in worker_pids(self.process.pid, self.workers))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- subscribers ------------------------------------------------------------------------


class Subscriber:
    def __init__(self) -> None:
        self.latencies: dict[str, float] = {}  # occurredAt -> seconds from commit to receipt
        self.ws = None
        self.task: asyncio.Task | None = None
        self.error: str | None = None

    async def start(self, url: str, token: str, session_id: str) -> None:
        self.ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30, max_size=2**20)
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert ack["type"] == "connection_ack", ack
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                       "payload": {"query": SUBSCRIPTION, "variables": {"id": session_id}}}))
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                received = time.time()
                message = json.loads(frame)
                if message["type"] != "next":
                    self.error = frame[:200]
                    return
                occurred = message["payload"]["data"]["registrationEvents"]["occurredAt"]
                committed = datetime.fromisoformat(occurred.replace("Z", "+00:00")).timestamp()
                self.latencies[occurred] = received - committed
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.error = repr(error)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.ws:
            await self.ws.close()


async def start_all(subscribers: list[Subscriber], url: str, token: str, session_id: str) -> None:
    gate = asyncio.Semaphore(50)

    async def one(subscriber: Subscriber) -> None:
        async with gate:
            await subscriber.start(url, token, session_id)

    await asyncio.gather(*(one(s) for s in subscribers))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Result:
    name: str
    subscribers: int
    joins: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    delivered: float
    kb_per_subscriber: float
    server_us: float
    client_us: float


async def run_phase(name: str, world: World, session_id: str, joiner_tokens: list[str], *, database_url: str,
                    workers: int, redis_url: str | None, subscribers: int) -> Result:
    server = Server(database_url, workers, redis_url)
    clients = [Subscriber() for _ in range(subscribers)]
    try:
        await server.ready()
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            # Warm up: a few subscriptions and one event, so imports and caches are not counted.
            warm = [Subscriber() for _ in range(5)]
            await start_all(warm, ws_url, world.host_token, session_id)
            await asyncio.sleep(0.5)
            before = server.rss_kb()
            await start_all(clients, ws_url, world.host_token, session_id)
            await asyncio.sleep(2)  # let the server finish registering (no ack in the protocol)
            after = server.rss_kb()
            kb_each = (after - before) / subscribers

            everyone = clients + warm
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            for i, token in enumerate(joiner_tokens):
                body = (await http.post("/graphql", json={"query": JOIN, "variables": {"id": session_id}},
                                        headers={"Authorization": f"Bearer {token}"})).json()
                assert body["data"]["joinGroupSession"]["userErrors"] == [], body
                # Wait until this event reached everyone (bounded), so events do not overlap.
                async with asyncio.timeout(20):
                    while sum(len(c.latencies) >= i + 1 or c.error is not None for c in everyone) < len(everyone):
                        await asyncio.sleep(0.005)
            deliveries = len(everyone) * len(joiner_tokens)
            server_us = (server.cpu_seconds() - server_cpu) / deliveries * 1e6
            client_us = (time.process_time() - client_cpu) / deliveries * 1e6
            for c in warm:
                await c.close()
    finally:
        for c in clients:
            await c.close()
        server.stop()

    errors = [c.error for c in clients if c.error]
    if errors:
        print(f"  {len(errors)} subscriber(s) failed, e.g. {errors[0]}")
    latencies = [v * 1000 for c in clients for v in c.latencies.values()]
    expected = subscribers * len(joiner_tokens)
    return Result(name, subscribers, len(joiner_tokens), percentile(latencies, 0.5), percentile(latencies, 0.99),
                  max(latencies), len(latencies) / expected, kb_each, server_us, client_us)


def redis_reachable(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return True
    except (redis.RedisError, OSError):
        return False


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--joins", type=int, default=20, help="joins fired per phase")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args()
    raise_fd_limit()

    database_url, pg_name = await make_database()
    use_redis = redis_reachable(REDIS_URL)
    phases = [("baseline: 1 worker, 10 subscribers", 1, None, 10), ("1 worker, in-process broker", 1, None, args.subscribers)]
    if use_redis:
        phases.append(("2 workers + Redis", 2, REDIS_URL, args.subscribers))
    world = await seed(database_url, args.joins * len(phases), len(phases))
    print(f"database: {'PostgreSQL' if pg_name else 'SQLite'}; Redis: {REDIS_URL if use_redis else 'not reachable, phase skipped'}")
    print(f"{args.joins} joins per phase, one at a time; latency = commit (occurredAt) -> receipt by this client\n")

    results = []
    started = time.monotonic()
    try:
        async with asyncio.timeout(900):
            for index, (name, workers, redis_url, n) in enumerate(phases):
                tokens = world.joiner_tokens[index * args.joins:(index + 1) * args.joins]
                result = await run_phase(name, world, world.session_ids[index], tokens, database_url=database_url,
                                         workers=workers, redis_url=redis_url, subscribers=n)
                results.append(result)
                print(f"{result.name:<36} subs={result.subscribers:<5} p50={result.p50_ms:7.1f} ms  "
                      f"p99={result.p99_ms:7.1f} ms  max={result.max_ms:7.1f} ms  delivered={result.delivered:.1%}  "
                      f"memory/idle subscriber={result.kb_per_subscriber:6.1f} KB  "
                      f"cpu per delivery: server {result.server_us:5.0f} us, client {result.client_us:5.0f} us")
    finally:
        await drop_database(pg_name)

    base = results[0]
    print("\nratios vs. baseline (10 subscribers):")
    for r in results[1:]:
        print(f"  {r.name:<34} p50 x{r.p50_ms / base.p50_ms:5.1f}   p99 x{r.p99_ms / base.p99_ms:5.1f}")
    print("\ntargets (issue 3): p99 < 250 ms for 1,000 subscribers, < 50 KB per idle subscriber")
    ok = True
    for r in results[1:]:
        verdict = r.p99_ms < TARGET_P99_MS and r.kb_per_subscriber < TARGET_KB_PER_SUBSCRIBER and r.delivered == 1
        ok &= verdict
        print(f"  {r.name:<34} {'met' if verdict else 'NOT met'}")
    print(f"\n(total {time.monotonic() - started:.0f} s; cpu count {os.cpu_count()}; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
