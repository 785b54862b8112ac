"""What an idle graphql-transport-ws subscriber holds in the server: Python heap (tracemalloc)
and resident memory per socket, grouped by where it was allocated.

Serves `app.main:app_from_env` with uvicorn in this process, with the options `python -m
app serve` gives it (`uvicorn_options`, uvloop when installed), seeds a throwaway database
as `scripts/bench_live` does, and opens the subscribers from a separate client process (so
the client's own memory is not counted): N distinct members on one session's
`groupSessionUpdated`, or N distinct hosts on their own `registrationEvents`. Snapshots
before and after the N sockets are open and idle; prints KB per subscriber (traced heap and
RSS) and the biggest allocation sites.

  .venv/bin/python -m tests.perf.ws_memory --subscribers 300 [--scenario members|hosts] [--top 25]
      [--group filename|lineno|traceback] [--depth 12]

Environment variables of the app (WS_PER_MESSAGE_DEFLATE...) apply to the server, as for
`serve`. tracemalloc slows the server down: keep N in the hundreds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WARM = 5


def _bench_live():
    """scripts/bench_live.py as a module (its seeding and subscription documents)."""
    spec = importlib.util.spec_from_file_location("bench_live", ROOT / "scripts" / "bench_live.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_live"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- the client process: opens the sockets, says "ready", holds them until stdin closes ---


async def _client(plan: dict) -> None:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(50)
    sockets = []

    async def one(token: str) -> None:
        async with gate:
            ws = await connect(plan["url"], subprotocols=["graphql-transport-ws"], open_timeout=30,
                               compression="deflate" if plan["deflate"] else None)
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert ack["type"] == "connection_ack", ack
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": plan["query"], "variables": plan["variables"][token]}}))
            sockets.append(ws)

    await asyncio.gather(*(one(t) for t in plan["tokens"]))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for ws in sockets:
        await ws.close()


# --- the server side --------------------------------------------------------------------


# Where an allocation belongs, by the frames of its traceback (innermost first).
COMPONENTS = [
    ("extensions (hooks held open)", ("extensions/context.py", "extension_hooks.py", "contextlib.py")),
    ("extension instances", ("strawberry/schema/schema.py:57",)),
    ("broker subscription", ("app/live/broker.py",)),
    ("subscription resolver", ("app/api/group_sessions/subscriptions.py",)),
    ("graphql-core executor", ("graphql/",)),
    ("strawberry schema/stream", ("strawberry/schema/",)),
    ("app websocket handler", ("app/api/websocket.py",)),
    ("strawberry ws handler", ("strawberry/subscriptions/",)),
    ("strawberry view", ("strawberry/http/", "strawberry/asgi/")),
    ("app view/context", ("app/web/graphql_view.py", "app/web/headers.py", "app/web/body_limit.py", "app/main.py",
                          "app/api/context.py", "app/api/socket_limits.py")),
    ("starlette", ("starlette/",)),
    # uvicorn's WebSocket protocol and the websockets library under it (and what the
    # protocol's task holds that no layer above claimed)
    ("uvicorn/websockets connection", ("websockets/", "app/web/websocket_protocol.py")),
    ("uvicorn http", ("uvicorn/",)),
]


def _components(stats) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for stat in stats:
        where = " ".join(f"{_short(f.filename)}:{f.lineno}" for f in stat.traceback)
        name = next((name for name, marks in COMPONENTS if any(m in where for m in marks)), "other")
        totals[name] = totals.get(name, 0) + stat.size_diff
    return sorted(totals.items(), key=lambda item: -item[1])


def _short(filename: str) -> str:
    return filename.split("site-packages/")[-1].split(str(ROOT) + "/")[-1]


def _rss_kb() -> int:
    from tests.perf.procstat import rss_kb

    return rss_kb(os.getpid())


async def _open(url: str, query: str, variables: dict[str, dict], tokens: list[str], deflate: bool):
    """A client process holding one subscribed socket per token (returned once all are open)."""
    plan = {"url": url, "query": query, "variables": variables, "tokens": tokens, "deflate": deflate}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.perf.ws_memory", "--client", json.dumps(plan),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), 300)
    assert line.strip() == b"ready", line
    return process


async def _settled(broker, expected: int) -> None:
    """Until the server has registered `expected` subscriptions (bounded)."""
    async with asyncio.timeout(60):
        while broker.fanout.subscription_count < expected:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the last operations reach their first wait


async def _measure(args: argparse.Namespace) -> None:
    bench = _bench_live()
    database_url, pg_name = await bench.make_database()
    world = await bench.seed(database_url, members=args.subscribers + WARM, hosts=args.subscribers + WARM,
                             joiners=1, popular_sessions=1)
    os.environ.update({
        "DATABASE_URL": database_url, "OUTBOX_WORKER_IN_SERVE": "false",
        "WS_MAX_CONNECTIONS_PER_USER": "100000", "WS_MAX_CONNECTIONS_PER_IP": "100000",
    })
    os.environ.pop("REDIS_URL", None)
    import uvicorn

    from app.__main__ import uvicorn_options
    from app.settings import Settings
    from tests.servers import listening_socket

    settings = Settings.from_env()
    deflate = settings.ws_per_message_deflate
    config = uvicorn.Config("app.main:app_from_env", factory=True, lifespan="on", log_level="warning",
                            **uvicorn_options(settings))
    config.load()
    app = config.loaded_app
    while not hasattr(app, "state") or not hasattr(app.state, "broker"):
        app = app.app  # through uvicorn's wrappers to the Starlette app
    broker = app.state.broker
    server = uvicorn.Server(config)
    sock = listening_socket()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:  # uvicorn has no event for this; bounded
                await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/graphql"
        if args.scenario == "members":
            query = bench.SESSION_UPDATED
            tokens = world.member_tokens
            variables = {t: {"id": world.popular_session_ids[0]} for t in tokens}
        else:
            query = bench.REGISTRATION_EVENTS
            tokens = world.host_tokens
            variables = {t: {"id": None} for t in tokens}
        warm = await _open(url, query, variables, tokens[:WARM], deflate)
        await _settled(broker, WARM)
        gc.collect()
        rss_before = _rss_kb()
        before = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
        clients = await _open(url, query, variables, tokens[WARM:WARM + args.subscribers], deflate)
        await _settled(broker, WARM + args.subscribers)
        gc.collect()
        after = tracemalloc.take_snapshot() if before is not None else None
        tracemalloc.stop()  # the analysis below is not traced (tracing it would double its cost)
        rss_after = _rss_kb()
        n = args.subscribers
        if after is None:
            print(f"{args.scenario}: {n} idle subscribers, RSS per subscriber: {(rss_after - rss_before) / n:.1f} KB")
            clients.stdin.close()
            warm.stdin.close()
            await asyncio.wait_for(clients.wait(), 60)
            await asyncio.wait_for(warm.wait(), 60)
            return
        filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
        stats = after.filter_traces(filters).compare_to(before.filter_traces(filters), args.group)
        total = sum(s.size_diff for s in stats)
        print(f"{args.scenario}: {n} idle subscribers, deflate {'on' if deflate else 'off'}, "
              f"ws implementation {type(config.ws_protocol_class).__name__ if not isinstance(config.ws_protocol_class, type) else config.ws_protocol_class.__name__}")
        print(f"traced heap per subscriber: {total / n / 1024:.1f} KB; RSS per subscriber: {(rss_after - rss_before) / n:.1f} KB")
        if args.group == "traceback":
            print("by component (first matching frame, innermost first):")
            for name, size in _components(stats):
                print(f"{size / n:8.0f} B  {name}")
        for stat in stats[:args.top]:
            if stat.size_diff <= 0:
                continue
            print(f"{stat.size_diff / n:8.0f} B  {stat.count_diff / n:6.1f} blocks  {stat.traceback.format()[-1].strip()}")
            if args.group == "traceback":
                frames = [f for f in stat.traceback if "site-packages" in f.filename or "/app/" in f.filename
                          or "contextlib" in f.filename or "asyncio" in f.filename]
                for frame in frames[-args.frames:-1]:
                    print(f"{'':>26}{_short(frame.filename)}:{frame.lineno}")
        clients.stdin.close()
        warm.stdin.close()
        await asyncio.wait_for(clients.wait(), 60)
        await asyncio.wait_for(warm.wait(), 60)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()
        await bench.drop_database(pg_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--scenario", choices=["members", "hosts"], default="members")
    parser.add_argument("--group", choices=["filename", "lineno", "traceback"], default="lineno")
    parser.add_argument("--depth", type=int, default=12, help="frames kept per allocation (traceback grouping)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=6, help="frames printed per site (traceback grouping)")
    parser.add_argument("--rss-only", action="store_true",
                        help="no tracemalloc (which inflates RSS): resident memory per subscriber only")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(json.loads(args.client)))
        return
    from tests.perf.procstat import rss_kb  # noqa: F401 - fail early off Linux

    if not args.rss_only:
        tracemalloc.start(args.depth if args.group == "traceback" else 1)
    try:
        import uvloop

        uvloop.run(_measure(args))
    except ImportError:
        asyncio.run(_measure(args))


if __name__ == "__main__":
    main()
