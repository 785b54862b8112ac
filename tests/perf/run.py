"""scripts/bench: the GraphQL endpoint against a raw Starlette + asyncpg baseline, on
PostgreSQL, over loopback, with wrk as the load generator, in one run.

Seeds a throwaway database (tests/perf/seed.py), then for 1 and 2 uvicorn workers measures, each
for a fixed time after a short warm-up: the public session page (40 participants), the
Dashboard Future query (20 sessions with participants), both also as Automatic Persisted
Queries (hash only), the join mutation on fresh sessions; and the baseline for the first
two. Prints requests/s, p50 and p99 latency, SQL statements per request and the ratio
GraphQL / baseline. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from app.api.persisted_queries import sha256_of
from app.api.pagination import to_global_id
from app.db import migrate_database
from app.main import create_app
from app.settings import Settings
from tests.databases import database_name
from tests.documents import JOIN
from tests.perf.baseline import create_baseline_app
from tests.perf.seed import BenchData, seed
from tests.servers import free_port, stop_process_group
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE
from tests.scale.statements import count_statements

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_WEB_URL = "https://sessions.example.org"




@dataclass
class Result:
    label: str
    workers: int
    rps: float
    p50_ms: float
    p99_ms: float
    statements: int | None
    errors: int
    baseline_of: str | None = None  # label of the baseline row to compare with


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(g) for g in match.groups())
    return rps, p50, p99, errors


def lua_post(path: Path, body: dict, token: str) -> Path:
    text = json.dumps(body, separators=(",", ":"))
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{text}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return path


def lua_join(path: Path, tokens: list[str], session_gids: list[str]) -> Path:
    """Each request joins a (member, session) pair no earlier request used; the first
    pair is chosen with `-- <offset>` so consecutive wrk runs never repeat one."""
    query = json.dumps(JOIN)
    path.write_text(
        "local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"
        "local sessions = {" + ",".join(f'"{s}"' for s in session_gids) + "}\n"
        "local n = 0\n"
        "function init(args) n = tonumber(args[1]) or 0 end\n"
        "function request()\n"
        "  local s = sessions[(n % #sessions) + 1]\n"
        "  local t = tokens[(math.floor(n / #sessions) % #tokens) + 1]\n"
        "  n = n + 1\n"
        f"  local body = '{{\"query\":' .. [==[{query}]==] .. ',\"variables\":{{\"id\":\"' .. s .. '\"}}}}'\n"
        '  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", '
        '["Authorization"] = "Bearer " .. t}, body)\n'
        "end\n"
    )
    return path


class Process:
    def __init__(self, argv: list[str], env: dict[str, str], cpus: str | None) -> None:
        if cpus and shutil.which("taskset"):
            argv = ["taskset", "-c", cpus, *argv]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        stop_process_group(self.process)


async def wait_ready(url: str, server: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited: {server.process.stderr.read().decode()[-2000:]}")
            try:
                await http.post(url, json={}, timeout=2)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2)  # the port is not open yet; bounded by the deadline
    raise RuntimeError(f"{url} not ready after {timeout}s")


class Bench:
    def __init__(self, args: argparse.Namespace, data: BenchData, database_url: str, workdir: Path) -> None:
        self.args = args
        self.data = data
        self.database_url = database_url
        self.workdir = workdir
        self.results: list[Result] = []
        self.join_offset = 0
        self.statements: dict[str, int] = {}
        mentees = [t for n, t in enumerate(data.tokens, start=1) if (n - 1) % 10 != 0]  # not hosts
        self.join_script = lua_join(
            workdir / "join.lua", mentees, [to_global_id("GroupSession", s) for s in data.fresh_session_ids]
        )

    # --- requests ------------------------------------------------------------------------------

    def public_page(self, apq: bool = False) -> dict:
        body = {
            "query": PUBLIC_SESSION_PAGE,
            "variables": {"id": to_global_id("GroupSession", self.data.public_session_id)},
            "operationName": "PublicSessionPage",
        }
        return self._apq(body) if apq else body

    def dashboard(self, apq: bool = False) -> dict:
        body = {"query": DASHBOARD_FUTURE, "variables": {"first": 20}, "operationName": "DashboardFuture"}
        return self._apq(body) if apq else body

    @staticmethod
    def _apq(body: dict) -> dict:
        hashed = {k: v for k, v in body.items() if k != "query"}
        hashed["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": sha256_of(body["query"])}}
        return hashed

    def token(self, member: int) -> str:
        return self.data.tokens[member - 1]

    # --- statement counts (in-process, one request each) ----------------------------------------

    async def count_statements(self) -> None:
        app = create_app(Settings(database_url=self.database_url, public_web_url=PUBLIC_WEB_URL, outbox_worker_in_serve=False))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
                for name, body, member in (
                    ("public", self.public_page(), self.data.public_viewer),
                    ("dashboard", self.dashboard(), self.data.dashboard_viewer),
                    ("join", {"query": JOIN, "variables": {"id": to_global_id("GroupSession", self.data.fresh_session_ids[-1])}}, 1999),
                ):
                    await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(member)}"})
                    with count_statements() as log:
                        if name == "join":  # a fresh pair: member 1998 has not joined it
                            await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(1998)}"})
                        else:
                            await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(member)}"})
                    self.statements[name] = len(log)
        baseline = create_baseline_app(self.database_url, PUBLIC_WEB_URL)
        async with baseline.router.lifespan_context(baseline):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=baseline), base_url="http://b") as http:
                for name, body, member in (
                    ("baseline public", self.public_page(), self.data.public_viewer),
                    ("baseline dashboard", self.dashboard(), self.data.dashboard_viewer),
                ):
                    before = baseline.state.baseline.statements
                    await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(member)}"})
                    self.statements[name] = baseline.state.baseline.statements - before

    # --- load ------------------------------------------------------------------------------------

    def wrk(self, url: str, script: Path, connections: int, seconds: int, *script_args: str) -> str:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script), url]
        if script_args:
            argv += ["--", *script_args]
        if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1:
            argv = ["taskset", "-c", str(os.cpu_count() - 1), *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout

    def measure(self, label: str, url: str, script: Path, workers: int, statements: int | None,
                baseline_of: str | None = None, join: bool = False) -> Result:
        connections = self.args.connections * workers
        if join:
            self.wrk(url, script, connections, self.args.warmup, str(self.join_offset))
            self.join_offset += 100_000
            output = self.wrk(url, script, connections, self.args.duration, str(self.join_offset))
            self.join_offset += 100_000
        else:
            self.wrk(url, script, connections, self.args.warmup)
            output = self.wrk(url, script, connections, self.args.duration)
        rps, p50, p99, errors = parse_wrk(output)
        result = Result(label, workers, rps, p50, p99, statements, errors, baseline_of)
        self.results.append(result)
        print(f"  {label:<34} {workers}w {rps:>9.0f} req/s  p50 {p50:>7.2f} ms  p99 {p99:>7.2f} ms", flush=True)
        return result

    async def register_persisted(self, url: str, body: dict, member: int) -> None:
        """Teach every worker the documents: APQ stores are per process, and a new
        connection may land on either worker."""
        headers = {"Authorization": f"Bearer {self.token(member)}", "Connection": "close"}
        full = {**body, "extensions": self._apq(body)["extensions"]}
        for _ in range(40):
            async with httpx.AsyncClient(timeout=120) as http:
                response = await http.post(url, json=full, headers=headers)
                assert response.status_code == 200 and "errors" not in response.json(), response.text[:500]
        missing = 0
        for _ in range(20):
            async with httpx.AsyncClient(timeout=120) as http:
                answer = (await http.post(url, json=self._apq(body), headers=headers)).json()
                missing += "errors" in answer
        if missing:
            print(f"  warning: {missing}/20 hash-only requests were answered PersistedQueryNotFound", flush=True)

    async def run_app(self, workers: int) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/graphql"
        env = {
            "DATABASE_URL": self.database_url,
            "PUBLIC_WEB_URL": PUBLIC_WEB_URL,
            "OUTBOX_WORKER_IN_SERVE": "false",
            "APP_ENV": "development",
            # Several workers share live updates and sign-in limits through Redis (serve
            # refuses --workers N>1 without it).
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "REDIS_KEY_PREFIX": f"bench-{os.getpid()}:",
        }
        cpus = "0" if workers == 1 and (os.cpu_count() or 1) > 1 else None
        server = Process(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
            env, cpus,
        )
        try:
            await wait_ready(url, server)
            w = self.workdir
            public, dashboard = self.data.public_viewer, self.data.dashboard_viewer
            self.measure("public page", url, lua_post(w / "q1.lua", self.public_page(), self.token(public)), workers,
                         self.statements["public"], "public page (baseline)")
            await self.register_persisted(url, self.public_page(), public)
            self.measure("public page, APQ hash only", url,
                         lua_post(w / "q1apq.lua", self.public_page(apq=True), self.token(public)), workers,
                         self.statements["public"], "public page (baseline)")
            self.measure("dashboard Future", url, lua_post(w / "q2.lua", self.dashboard(), self.token(dashboard)),
                         workers, self.statements["dashboard"], "dashboard Future (baseline)")
            await self.register_persisted(url, self.dashboard(), dashboard)
            self.measure("dashboard Future, APQ hash only", url,
                         lua_post(w / "q2apq.lua", self.dashboard(apq=True), self.token(dashboard)), workers,
                         self.statements["dashboard"], "dashboard Future (baseline)")
            before = await self.fresh_registrations()
            result = self.measure("join mutation (fresh sessions)", url, self.join_script, workers,
                                  self.statements["join"], join=True)
            joined = await self.fresh_registrations() - before
            total = int(result.rps * self.args.duration)
            print(f"    ({joined} registrations made during warm-up and run, about {total} requests measured)", flush=True)
        finally:
            server.stop()

    async def fresh_registrations(self) -> int:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM registration WHERE session_id = ANY($1::int[])", self.data.fresh_session_ids
            )
        finally:
            await conn.close()

    async def run_baseline(self, workers: int) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/graphql"
        env = {"BASELINE_DATABASE_URL": self.database_url, "PUBLIC_WEB_URL": PUBLIC_WEB_URL}
        cpus = "0" if workers == 1 and (os.cpu_count() or 1) > 1 else None
        server = Process(
            [sys.executable, "-m", "uvicorn", "tests.perf.baseline:app_from_env", "--factory", "--port", str(port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            env, cpus,
        )
        try:
            await wait_ready(url, server)
            w = self.workdir
            self.measure("public page (baseline)", url,
                         lua_post(w / "b1.lua", self.public_page(), self.token(self.data.public_viewer)), workers,
                         self.statements["baseline public"])
            self.measure("dashboard Future (baseline)", url,
                         lua_post(w / "b2.lua", self.dashboard(), self.token(self.data.dashboard_viewer)), workers,
                         self.statements["baseline dashboard"])
        finally:
            server.stop()

    def table(self) -> str:
        lines = [
            f"{'query':<34} {'workers':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'SQL/req':>8} {'vs baseline':>12} {'errors':>7}"
        ]
        for r in self.results:
            base = next((b for b in self.results if b.label == r.baseline_of and b.workers == r.workers), None)
            ratio = f"{r.rps / base.rps:.2f}x" if base else "-"
            lines.append(
                f"{r.label:<34} {r.workers:>7} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
                f"{r.statements if r.statements is not None else '-':>8} {ratio:>12} {r.errors:>7}"
            )
        by = {(r.label, r.workers): r.rps for r in self.results}
        for label in ("public page", "dashboard Future", "public page (baseline)"):
            if (label, 1) in by and (label, 2) in by:
                lines.append(f"scaling 1 -> 2 workers, {label}: {by[(label, 2)] / by[(label, 1)]:.2f}x")
        return "\n".join(lines)


def machine() -> str:
    model = "?"
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"load average {load[0]:.2f} at start"
    )


async def main(args: argparse.Namespace) -> int:
    if not shutil.which("wrk"):
        print("wrk is not installed (scripts/bench installs it with apt-get)", file=sys.stderr)
        return 2
    head = args.url.rstrip("/").rpartition("/")[0]
    name = database_name("bench")
    admin = await asyncpg.connect(args.url)
    server_version = await admin.fetchval("SHOW server_version")
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{head}/{name}"
    try:
        await migrate_database(database_url)
        conn = await asyncpg.connect(database_url)
        try:
            started = time.monotonic()
            data = await seed(conn, members=args.members, sessions=args.sessions, registrations=args.registrations)
            print(
                f"seeded 1 program, {args.members:,} members, {args.sessions:,} future sessions, "
                f"{data.registrations:,} registrations in {time.monotonic() - started:.1f}s"
            )
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(args, data, database_url, Path(tmp))
            await bench.count_statements()
            for workers in args.workers:
                print(f"{workers} worker(s):", flush=True)
                await bench.run_app(workers)
                await bench.run_baseline(workers)
        print()
        print(f"machine: {machine()}, PostgreSQL {server_version}")
        print(f"wrk: 1 thread, {args.connections} connections per worker, {args.warmup}s warm-up + {args.duration}s each")
        print(bench.table())
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="a database on the PostgreSQL server, used to create and drop the benchmark's own")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per query (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per server worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--registrations", type=int, default=15_000)
    return asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(cli())
