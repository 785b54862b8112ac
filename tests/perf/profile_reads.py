"""In-process timing and profile of the benchmark's hot requests, on PostgreSQL.

Seeds a throwaway database as scripts/bench does, serves it with create_app in this
process (httpx's ASGI transport: no sockets, no wrk), and sends each request N times after
a warm-up. Prints the median time per request over `--rounds` rounds (the spread is the
min-max) and the CPU time this process spent per request (server and client: compare
variants with it, not with the server-only figure of scripts/bench), and with `--profile` the top functions by own time (cProfile) over one round.
`--direct` calls the ASGI app without a client (the CPU is then the server's alone);
`--ab` alternates the generic and the lean path (app.api.lean) round by round in this
process and prints both, with the Python function calls each makes per request.

    .venv/bin/python -m tests.perf.profile_reads --requests 300 --rounds 3 [--profile public] [--generic | --ab] [--direct]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time

import asyncpg
import httpx
import orjson

from app.api.lean import lean_executor
from app.api.pagination import to_global_id
from app.db import migrate_database
from app.main import create_app
from app.settings import Settings
from tests.databases import database_name
from tests.perf.seed import seed
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE

PUBLIC_WEB_URL = "https://sessions.example.org"
REQUESTS = ["public", "dashboard", "viewer", "typename"]


async def main(args: argparse.Namespace) -> None:
    head = args.url.rstrip("/").rpartition("/")[0]
    name = database_name("profile")
    admin = await asyncpg.connect(args.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{head}/{name}"
    try:
        await migrate_database(database_url)
        conn = await asyncpg.connect(database_url)
        try:
            data = await seed(conn)
        finally:
            await conn.close()
        requests = {
            "public": ({"query": PUBLIC_SESSION_PAGE, "operationName": "PublicSessionPage",
                        "variables": {"id": to_global_id("GroupSession", data.public_session_id)}},
                       data.tokens[data.public_viewer - 1]),
            "dashboard": ({"query": DASHBOARD_FUTURE, "operationName": "DashboardFuture", "variables": {"first": 20}},
                          data.tokens[data.dashboard_viewer - 1]),
            "viewer": ({"query": "{ viewer { id name } }"}, data.tokens[data.public_viewer - 1]),
            # anonymous and one field: what the HTTP path costs around execution
            "typename": ({"query": "{ __typename }"}, None),
        }
        settings = Settings(database_url=database_url, public_web_url=PUBLIC_WEB_URL, outbox_worker_in_serve=False)
        app = create_app(settings)
        view = next(route.endpoint for route in app.routes if getattr(route, "path", None) == "/graphql")
        executor = lean_executor(view.schema)
        if args.generic and executor is not None:
            executor.enabled = False
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:

                async def send(key: str, n: int) -> None:
                    body, token = requests[key]
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    for _ in range(n):
                        response = await http.post("/graphql", json=body, headers=headers)
                        assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]

                if args.direct:
                    # No client: the ASGI app called with the messages a server would pass,
                    # so the CPU measured is the server's alone.
                    async def send(key: str, n: int) -> None:  # noqa: F811 - replaces the client's
                        body, token = requests[key]
                        raw = orjson.dumps(body)
                        headers = [(b"host", b"app"), (b"content-type", b"application/json"),
                                   (b"content-length", str(len(raw)).encode())]
                        if token:
                            headers.append((b"authorization", f"Bearer {token}".encode()))
                        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                                 "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "root_path": "",
                                 "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5000),
                                 "server": ("app", 80)}
                        for _ in range(n):
                            sent: list[dict] = []

                            async def receive() -> dict:
                                return {"type": "http.request", "body": raw, "more_body": False}

                            async def send_message(message: dict) -> None:
                                sent.append(message)

                            await app(dict(scope), receive, send_message)
                            assert sent[0]["status"] == 200 and b'"errors"' not in sent[1]["body"], sent[1]["body"][:300]

                if args.ab:
                    # Both paths in one process, alternated round by round (the order flipped
                    # every round), so that both see the same load of a shared machine.
                    assert executor is not None, "this app's schema has no lean path"
                    for key in args.only or requests:
                        cpu: dict[bool, list[float]] = {False: [], True: []}
                        calls: dict[bool, float] = {}
                        for enabled in (False, True):
                            executor.enabled = enabled
                            await send(key, 20)  # warm-up
                            profiler = cProfile.Profile()
                            profiler.enable()
                            await send(key, 10)
                            profiler.disable()
                            calls[enabled] = pstats.Stats(profiler).total_calls / 10
                        for round_ in range(args.rounds):
                            for enabled in ((False, True) if round_ % 2 == 0 else (True, False)):
                                executor.enabled = enabled
                                started = time.process_time()
                                await send(key, args.requests)
                                cpu[enabled].append((time.process_time() - started) / args.requests * 1e6)
                        generic, lean = statistics.median(cpu[False]), statistics.median(cpu[True])
                        where = "server only" if args.direct else "client included"
                        print(f"{key:<10} CPU of this process per request ({where}), medians of {args.rounds} "
                              f"alternated rounds of {args.requests}: generic {generic:6.0f} us "
                              f"({min(cpu[False]):.0f}-{max(cpu[False]):.0f}), lean {lean:6.0f} us "
                              f"({min(cpu[True]):.0f}-{max(cpu[True]):.0f}), {lean / generic:.2f}x; "
                              f"Python calls per request {calls[False]:.0f} -> {calls[True]:.0f}")
                    return
                for key in args.only or requests:
                    await send(key, 20)  # warm-up
                    per_round, cpu_round = [], []
                    for _ in range(args.rounds):
                        started, cpu = time.perf_counter(), time.process_time()
                        await send(key, args.requests)
                        per_round.append((time.perf_counter() - started) / args.requests * 1e6)
                        cpu_round.append((time.process_time() - cpu) / args.requests * 1e6)
                    print(f"{key:<10} {statistics.median(per_round):8.0f} us/request "
                          f"({min(per_round):.0f}-{max(per_round):.0f}), CPU of this process {statistics.median(cpu_round):6.0f} us "
                          f"({min(cpu_round):.0f}-{max(cpu_round):.0f}; client included) over {args.rounds} rounds of {args.requests}")
                for key in args.profile or []:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await send(key, args.requests)
                    profiler.disable()
                    if args.dump:
                        profiler.dump_stats(f"{args.dump}.{key}.prof")
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
                    print(f"--- profile: {key}, {args.requests} requests, by {args.sort} ---")
                    print(out.getvalue())
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=REQUESTS)
    parser.add_argument("--profile", nargs="*", choices=REQUESTS)
    parser.add_argument("--generic", action="store_true",
                        help="switch the lean path off (app.api.lean): every request through Strawberry's view")
    parser.add_argument("--ab", action="store_true",
                        help="generic and lean path alternated in this process, round by round")
    parser.add_argument("--direct", action="store_true",
                        help="call the ASGI app directly (no HTTP client): the server's CPU alone")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="also write each profile to <DUMP>.<request>.prof (pstats)")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
