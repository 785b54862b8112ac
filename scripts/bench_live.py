"""Live-update benchmark under a realistic load: many different people, each with their
own answer, delivery latency from commit to receipt, and server memory per idle subscriber.

Run through `scripts/bench_live` (creates .venv). Two scenarios, each against a fresh
`python -m app serve` on one worker (in-process broker) and on two workers with Redis:

  members  N distinct members watch one popular session's `groupSessionUpdated`, each
           with their own viewerIsAttending / viewerCanJoin / viewerCannotJoinReasons (a
           tenth of them are registered there); joins arrive one at a time, and each
           reaches all N.
  hosts    N distinct hosts each watch their own `registrationEvents`; joins arrive at
           random hosts' sessions, 8 in flight at a time, and each reaches its one host.

Latency = receipt time in this client - the commit instant, which the server stamps as
`occurredAt` right after the commit (same machine, same clock). A session pushed by
`groupSessionUpdated` carries no such stamp: its participantCount names the join, whose
`occurredAt` a host subscriber of the same session receives. It includes this client's
own time to read the frames, so it is an upper bound of the server's delivery time.
Every answer is checked against what that viewer should see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.accounts.models import AccessToken, Membership, Program, ProgramRole, User  # noqa: E402
from app.accounts.services import hash_token  # noqa: E402
from app.api.pagination import to_global_id  # noqa: E402
from app.db import migrate_database, tortoise_config  # noqa: E402
from app.group_sessions.models import GroupSession, Registration  # noqa: E402
from tests.databases import database_name  # noqa: E402
from tests.perf.procstat import cpu_seconds, rss_kb, worker_pids  # noqa: E402

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# The targets, for each scenario on one worker and on two workers with Redis.
TARGET_P99_MS = 250
TARGET_KB_PER_SUBSCRIBER = 40
WARM = 5  # subscribers per phase that warm the server up (not measured)

SESSION_UPDATED = """
subscription($id: ID!) { groupSessionUpdated(id: $id) {
  id participantCount spotsLeft isFull viewerIsAttending viewerCanJoin viewerCannotJoinReasons } }
"""
REGISTRATION_EVENTS = """
subscription($id: ID) { registrationEvents(sessionId: $id) {
  kind occurredAt registration { participant { name } } session { id participantCount spotsLeft } } }
"""
JOIN = "mutation($id: ID!) { joinGroupSession(input: {id: $id}) { userErrors { code } } }"


@dataclass
class World:
    star_host_token: str  # hosts the popular sessions
    popular_session_ids: list[str]  # one per members phase
    member_tokens: list[str]  # watchers of the popular session (WARM spare ones first)
    registered_members: set[int]  # indexes into member_tokens registered in every popular session
    host_tokens: list[str]  # WARM spare ones first
    host_session_ids: list[str]  # each host's own session, by the same index
    joiner_tokens: list[str]


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


async def seed(database_url: str, *, members: int, hosts: int, joiners: int, popular_sessions: int) -> World:
    """Everyone in bulk (a handful of multi-row INSERTs per table, on either database):
    one program; a star host with `popular_sessions` sessions; `members` mentees, a tenth of
    them registered in every popular session; `hosts` mentors with one session each;
    `joiners` mentees; a bearer token for each."""
    from tortoise import Tortoise

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        run = secrets.token_hex(4)
        program = await Program.create(name="Bench")
        people = (
            [("star", 0, ProgramRole.MENTOR)]
            + [("member", i, ProgramRole.MENTEE) for i in range(members)]
            + [("host", i, ProgramRole.MENTOR) for i in range(hosts)]
            + [("joiner", i, ProgramRole.MENTEE) for i in range(joiners)]
        )
        await User.bulk_create(
            [User(email=f"{kind}{i}@bench.example", name=f"{kind.title()} {i}") for kind, i, _ in people],
            batch_size=1000,
        )
        ids = dict(await User.all().values_list("email", "id"))
        user_id = [ids[f"{kind}{i}@bench.example"] for kind, i, _ in people]
        await Membership.bulk_create(
            [Membership(program_id=program.id, user_id=u, role=role) for u, (_, _, role) in zip(user_id, people)],
            batch_size=1000,
        )
        tokens = [f"bench-{run}-{kind}-{i}" for kind, i, _ in people]
        await AccessToken.bulk_create(
            [AccessToken(user_id=u, token_hash=hash_token(t), label="bench") for u, t in zip(user_id, tokens)],
            batch_size=1000,
        )
        star = user_id[0]
        member_ids = user_id[1:1 + members]
        host_ids = user_id[1 + members:1 + members + hosts]
        registered = set(range(WARM, members, 10))
        starts = datetime.now(timezone.utc) + timedelta(days=2)

        def session(host: int, title: str, seats: int, count: int) -> GroupSession:
            return GroupSession(
                program_id=program.id, host_id=host, title=title, objective="Measure live delivery.",
                starts_at=starts, ends_at=starts + timedelta(minutes=60), duration_minutes=60,
                min_participants=1, max_participants=seats, participant_count=count,
                # As createGroupSession leaves it: the host alone reaches a minimum of 1, so a
                # join announces no MINIMUM_REACHED (one frame per join, as the bench counts).
                minimum_deadline=starts - timedelta(days=1), minimum_reached_at=datetime.now(timezone.utc),
            )

        popular_seats = members + joiners + 10
        await GroupSession.bulk_create(
            [session(star, f"Popular {p}", popular_seats, 1 + len(registered)) for p in range(popular_sessions)]
            + [session(h, f"Session of host {i}", 10, 1) for i, h in enumerate(host_ids)],
            batch_size=1000,
        )
        by_host = dict(await GroupSession.filter(host_id__in=host_ids).values_list("host_id", "id"))
        popular = list(await GroupSession.filter(host_id=star).order_by("id").values_list("id", flat=True))
        await Registration.bulk_create(
            [Registration(session_id=s, user_id=star, is_host=True) for s in popular]
            + [Registration(session_id=s, user_id=member_ids[m], is_host=False) for s in popular for m in sorted(registered)]
            + [Registration(session_id=by_host[h], user_id=h, is_host=True) for h in host_ids],
            batch_size=1000,
        )
        return World(
            star_host_token=tokens[0],
            popular_session_ids=[to_global_id("GroupSession", s) for s in popular],
            member_tokens=tokens[1:1 + members],
            registered_members=registered,
            host_tokens=tokens[1 + members:1 + members + hosts],
            host_session_ids=[to_global_id("GroupSession", by_host[h]) for h in host_ids],
            joiner_tokens=tokens[1 + members + hosts:],
        )
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
            # Every subscriber connects from 127.0.0.1: lift the per-address (and per-user)
            # socket caps, which exist for real clients.
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
    """One socket, one subscription; keeps each frame's payload with its receipt time."""

    def __init__(self, token: str, query: str, variables: dict, index: int = -1) -> None:
        self.token, self.query, self.variables, self.index = token, query, variables, index
        self.frames: list[tuple[float, dict]] = []  # (receipt time, data)
        self.ws = None
        self.task: asyncio.Task | None = None
        self.error: str | None = None

    async def start(self, url: str) -> None:
        self.ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30, max_size=2**20)
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert ack["type"] == "connection_ack", ack
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                       "payload": {"query": self.query, "variables": self.variables}}))
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                received = time.time()
                message = json.loads(frame)
                if message["type"] != "next" or message["payload"].get("errors"):
                    self.error = str(frame)[:200]
                    return
                self.frames.append((received, message["payload"]["data"]))
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.error = repr(error)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.ws:
            await self.ws.close()


async def start_all(subscribers: list[Subscriber], url: str) -> None:
    gate = asyncio.Semaphore(50)

    async def one(subscriber: Subscriber) -> None:
        async with gate:
            await subscriber.start(url)

    await asyncio.gather(*(one(s) for s in subscribers))


async def wait_until(condition, seconds: float) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False)."""
    try:
        async with asyncio.timeout(seconds):
            while not condition():
                await asyncio.sleep(0.005)
        return True
    except TimeoutError:
        return False


def stamp(occurred_at: str) -> float:
    return datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
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
    delivered: float  # share of the expected frames received
    wrong: int  # frames that did not say what that viewer should see
    kb_per_subscriber: float
    server_us: float  # server CPU per delivered frame
    failed: int  # subscribers that got an error or lost their socket

    @property
    def met(self) -> bool:
        return (self.p99_ms < TARGET_P99_MS and self.kb_per_subscriber < TARGET_KB_PER_SUBSCRIBER
                and self.delivered == 1 and self.wrong == 0 and self.failed == 0)


async def join(http: httpx.AsyncClient, token: str, session_id: str) -> None:
    body = (await http.post("/graphql", json={"query": JOIN, "variables": {"id": session_id}},
                            headers={"Authorization": f"Bearer {token}"})).json()
    assert body["data"]["joinGroupSession"]["userErrors"] == [], body


async def subscribe_measuring_memory(server: Server, ws_url: str, warm: list[Subscriber],
                                     clients: list[Subscriber]) -> float:
    """Subscribe the warm-up sockets, then the measured ones; KB of worker RSS per measured one."""
    await start_all(warm, ws_url)
    await asyncio.sleep(0.5)
    before = server.rss_kb()
    await start_all(clients, ws_url)
    await asyncio.sleep(2)  # let the server finish registering (no ack in the protocol)
    return (server.rss_kb() - before) / len(clients)


async def members_phase(name: str, world: World, popular: str, joiner_tokens: list[str], *, database_url: str,
                        workers: int, redis_url: str | None, subscribers: int) -> Result:
    """N distinct members on one session's groupSessionUpdated; joins one at a time."""
    server = Server(database_url, workers, redis_url)
    variables = {"id": popular}
    clock = Subscriber(world.star_host_token, REGISTRATION_EVENTS, variables)
    warm = [clock] + [Subscriber(world.member_tokens[i], SESSION_UPDATED, variables, i) for i in range(WARM)]
    clients = [Subscriber(world.member_tokens[i], SESSION_UPDATED, variables, i)
               for i in range(WARM, WARM + subscribers)]
    try:
        await server.ready()
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            kb_each = await subscribe_measuring_memory(server, ws_url, warm, clients)
            everyone = clients + warm
            server_cpu = server.cpu_seconds()
            for i, token in enumerate(joiner_tokens):
                await join(http, token, popular)
                # Until this event reached everyone (bounded), so events do not overlap.
                await wait_until(lambda: all(len(c.frames) > i or c.error for c in everyone), 20)
            deliveries = len(everyone) * len(joiner_tokens)
            server_us = (server.cpu_seconds() - server_cpu) / deliveries * 1e6
    finally:
        for c in clients + warm:
            await c.close()
        server.stop()

    committed = {data["registrationEvents"]["session"]["participantCount"]: stamp(data["registrationEvents"]["occurredAt"])
                 for _, data in clock.frames}
    latencies, wrong = [], 0
    for c in clients:
        registered = c.index in world.registered_members
        for received, data in c.frames:
            session = data["groupSessionUpdated"]
            reasons = ["ALREADY_REGISTERED"] if registered else []
            wrong += (session["viewerIsAttending"] is not registered or session["viewerCanJoin"] is registered
                      or session["viewerCannotJoinReasons"] != reasons)
            if session["participantCount"] in committed:
                latencies.append((received - committed[session["participantCount"]]) * 1000)
            else:
                wrong += 1
    return summarize(name, clients, len(joiner_tokens), latencies, subscribers * len(joiner_tokens), wrong,
                     kb_each, server_us)


async def hosts_phase(name: str, world: World, hosts: list[int], joiner_tokens: list[str], *, database_url: str,
                      workers: int, redis_url: str | None, subscribers: int) -> Result:
    """N distinct hosts on their own registrationEvents; each join reaches its one host."""
    server = Server(database_url, workers, redis_url)
    warm = [Subscriber(world.host_tokens[i], REGISTRATION_EVENTS, {"id": None}, i) for i in range(WARM)]
    clients = [Subscriber(world.host_tokens[i], REGISTRATION_EVENTS, {"id": None}, i)
               for i in range(WARM, WARM + subscribers)]
    by_host = {c.index: c for c in clients}
    try:
        await server.ready()
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            kb_each = await subscribe_measuring_memory(server, ws_url, warm, clients)
            server_cpu = server.cpu_seconds()
            gate = asyncio.Semaphore(8)  # joins in flight at a time

            async def one(token: str, host: int) -> None:
                async with gate:
                    await join(http, token, world.host_session_ids[host])

            await asyncio.gather(*(one(t, h) for t, h in zip(joiner_tokens, hosts)))
            await wait_until(lambda: all(len(by_host[h].frames) >= 1 or by_host[h].error for h in hosts), 20)
            server_us = (server.cpu_seconds() - server_cpu) / len(hosts) * 1e6
    finally:
        for c in clients + warm:
            await c.close()
        server.stop()

    latencies, wrong = [], 0
    for c in clients:
        for received, data in c.frames:
            event = data["registrationEvents"]
            wrong += event["kind"] != "JOINED" or event["session"]["id"] != world.host_session_ids[c.index]
            latencies.append((received - stamp(event["occurredAt"])) * 1000)
        wrong += len(c.frames) > 1  # one join per host
    return summarize(name, clients, len(hosts), latencies, len(hosts), wrong, kb_each, server_us)


def summarize(name: str, clients: list[Subscriber], joins: int, latencies: list[float], expected: int, wrong: int,
              kb_each: float, server_us: float) -> Result:
    errors = [c.error for c in clients if c.error]
    if errors:
        print(f"  {len(errors)} subscriber(s) failed, e.g. {errors[0]}")
    return Result(name, len(clients), joins, percentile(latencies, 0.5), percentile(latencies, 0.99),
                  max(latencies, default=float("nan")), len(latencies) / expected if expected else 0.0, wrong,
                  kb_each, server_us, len(errors))


def redis_reachable(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return True
    except (redis.RedisError, OSError):
        return False


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="distinct people subscribed per phase")
    parser.add_argument("--joins", type=int, default=20,
                        help="joins per members phase (one at a time); the hosts phases get ten times as many, "
                             "at most one per host")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args()
    raise_fd_limit()
    n = args.subscribers
    host_joins = min(10 * args.joins, n // 2)

    database_url, pg_name = await make_database()
    use_redis = redis_reachable(REDIS_URL)
    setups = [("1 worker", 1, None)] + ([("2 workers + Redis", 2, REDIS_URL)] if use_redis else [])
    started = time.monotonic()
    world = await seed(database_url, members=n + WARM, hosts=n + WARM, joiners=max(args.joins, host_joins),
                       popular_sessions=len(setups))
    print(f"database: {'PostgreSQL' if pg_name else 'SQLite'}; Redis: {REDIS_URL if use_redis else 'not reachable, phases skipped'}")
    print(f"seeded {2 * (n + WARM) + max(args.joins, host_joins) + 1:,} people with tokens and "
          f"{n + WARM + len(setups):,} sessions in {time.monotonic() - started:.1f} s")
    print(f"members: {n:,} distinct members on one session's groupSessionUpdated, {args.joins} joins one at a time")
    print(f"hosts:   {n:,} distinct hosts on their own registrationEvents, {host_joins} joins at random hosts, 8 in flight")
    print("latency = commit (occurredAt) -> receipt by this client\n")

    results = []
    # Each hosts phase joins hosts of its own (distinct sessions), with the same joiners.
    picked = random.Random(7).sample(range(WARM, WARM + n), host_joins * len(setups))
    try:
        async with asyncio.timeout(1500):
            for index, (setup, workers, redis_url) in enumerate(setups):
                result = await members_phase(
                    f"members, {setup}", world, world.popular_session_ids[index], world.joiner_tokens[:args.joins],
                    database_url=database_url, workers=workers, redis_url=redis_url, subscribers=n,
                )
                results.append(result)
                report(result)
                hosts = picked[index * host_joins:(index + 1) * host_joins]
                result = await hosts_phase(
                    f"hosts, {setup}", world, hosts, world.joiner_tokens[:host_joins],
                    database_url=database_url, workers=workers, redis_url=redis_url, subscribers=n,
                )
                results.append(result)
                report(result)
    finally:
        await drop_database(pg_name)

    print(f"\ntargets (issue 14): p99 < {TARGET_P99_MS} ms from commit to receipt, < {TARGET_KB_PER_SUBSCRIBER} KB "
          "per idle subscriber, every frame delivered and right")
    print(f"  {'phase':<32} {'p99':>10} {'KB/subscriber':>14}  verdict")
    for r in results:
        print(f"  {r.name:<32} {r.p99_ms:>7.1f} ms {r.kb_per_subscriber:>11.1f} KB  {'met' if r.met else 'not met'}")
    print(f"\n(total {time.monotonic() - started:.0f} s; cpu count {os.cpu_count()}; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    return 0 if all(r.met for r in results) or not args.check else 1


def report(r: Result) -> None:
    print(f"{r.name:<32} subs={r.subscribers:<5} joins={r.joins:<4} p50={r.p50_ms:7.1f} ms  p99={r.p99_ms:7.1f} ms  "
          f"max={r.max_ms:7.1f} ms  delivered={r.delivered:.1%}  wrong={r.wrong}  "
          f"memory/idle subscriber={r.kb_per_subscriber:6.1f} KB  server cpu per frame (joins included)={r.server_us:5.0f} us", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
