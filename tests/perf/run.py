"""scripts/bench: the GraphQL endpoint against a raw Starlette + asyncpg baseline, on
PostgreSQL, over loopback, with wrk as the load generator, in one run.

Seeds a throwaway database (tests/perf/seed.py), starts the app and the baseline side by
side (both pinned to the first core for one worker, wrk on the last), then for 1 and 2
uvicorn workers runs `--rounds` interleaved rounds, each measuring for a fixed time: the
public session page (40 participants), the Dashboard Future query (20 sessions with
participants), both also as Automatic Persisted Queries (hash only), the join mutation on
fresh (member, session) pairs; and the baseline of each of the three right after. Warm-up
runs once, before the first round. Prints, per query, the median over rounds with the
spread (min-max): requests/s, p50 and p99 latency, server CPU per request (the serving
processes' user + system time over the run, from /proc, divided by the requests), SQL
statements per request, and the ratio GraphQL / baseline (per round, then the median);
then the issue's targets with met / not met. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
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
from tests.perf.procstat import cpu_seconds, worker_pids
from tests.perf.seed import BenchData, seed
from tests.servers import free_port, stop_process_group
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE
from tests.scale.statements import count_statements

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_WEB_URL = "https://sessions.example.org"




# The targets: on one worker, this query's plain POST at least this fraction of
# its baseline's requests/s (median over rounds).
TARGETS = {"public page": 0.5, "dashboard Future": 0.3, "join mutation (fresh pairs)": 0.3}


@dataclass
class Result:
    label: str
    workers: int
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU per request
    statements: int | None
    errors: int
    baseline_of: str | None = None  # label of the baseline row to compare with


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def requests_made(output: str) -> int:
    return int(re.search(r"(\d+) requests in", output).group(1))


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
        f"  local body = '{{\"query\":' .. [==[{query}]==] .. ',\"operationName\":\"Join\",\"variables\":{{\"id\":\"' .. s .. '\"}}}}'\n"
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

    def cpu_seconds(self, workers: int) -> float:
        """CPU time used so far by the processes that serve (uvicorn's workers)."""
        return sum(cpu_seconds(pid) for pid in worker_pids(self.process.pid, workers))


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
        self.join_pairs = len(mentees) * len(data.fresh_session_ids)

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

    def join(self, session_id: int) -> dict:
        return {"query": JOIN, "operationName": "Join", "variables": {"id": to_global_id("GroupSession", session_id)}}

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
        fresh = self.data.fresh_session_ids[-1]
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
                for name, body, member in (
                    ("public", self.public_page(), self.data.public_viewer),
                    ("dashboard", self.dashboard(), self.data.dashboard_viewer),
                    ("join", self.join(fresh), 1999),
                ):
                    await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(member)}"})
                    # Member 1998's token in steady use (its first use records the time, once).
                    await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {self.token(1998)}"})
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
                    ("baseline join", self.join(fresh), 1997),  # another fresh pair
                ):
                    before = baseline.state.baseline.statements
                    response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {self.token(member)}"})
                    assert "errors" not in response.json(), response.text[:500]
                    # (the join's BEGIN and COMMIT are not counted, as for the app)
                    self.statements[name] = baseline.state.baseline.statements - before

    # --- load ------------------------------------------------------------------------------------

    def wrk(self, url: str, script: Path, connections: int, seconds: int, *script_args: str) -> str:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script), url]
        if script_args:
            argv += ["--", *script_args]
        if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1:
            argv = ["taskset", "-c", str(os.cpu_count() - 1), *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout

    def _join_args(self, output: str | None = None) -> tuple[str, ...]:
        """The Lua script's first pair for the next run, past every pair used so far (each
        request may use one, failed or not)."""
        if output is not None:
            self.join_offset += requests_made(output) + 1000
        if self.join_offset >= self.join_pairs:
            raise RuntimeError("the join benchmark ran out of fresh (member, session) pairs: use fewer rounds or a shorter run")
        return (str(self.join_offset),)

    def measure(self, label: str, url: str, script: Path, server: Process, workers: int, round_: int,
                statements: int | None, baseline_of: str | None = None, join: bool = False) -> Result:
        connections = self.args.connections * workers
        if round_ == 1 and self.args.warmup > 0:
            output = self.wrk(url, script, connections, self.args.warmup, *(self._join_args() if join else ()))
            if join:
                self._join_args(output)
        cpu_before = server.cpu_seconds(workers)
        output = self.wrk(url, script, connections, self.args.duration, *(self._join_args() if join else ()))
        cpu = server.cpu_seconds(workers) - cpu_before
        if join:
            self._join_args(output)
        rps, p50, p99, errors = parse_wrk(output)
        cpu_us = cpu / max(requests_made(output), 1) * 1e6
        result = Result(label, workers, round_, rps, p50, p99, cpu_us, statements, errors, baseline_of)
        self.results.append(result)
        print(f"  round {round_}  {label:<34} {workers}w {rps:>9.0f} req/s  p50 {p50:>7.2f} ms  "
              f"p99 {p99:>7.2f} ms  cpu {cpu_us:>6.0f} us/req", flush=True)
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

    def start_app(self, workers: int) -> tuple[Process, str]:
        port = free_port()
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
        server = Process(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
            env, self._cpus(workers),
        )
        return server, f"http://127.0.0.1:{port}/graphql"

    def start_baseline(self, workers: int) -> tuple[Process, str]:
        port = free_port()
        env = {"BASELINE_DATABASE_URL": self.database_url, "PUBLIC_WEB_URL": PUBLIC_WEB_URL}
        server = Process(
            [sys.executable, "-m", "uvicorn", "tests.perf.baseline:app_from_env", "--factory", "--port", str(port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            env, self._cpus(workers),
        )
        return server, f"http://127.0.0.1:{port}/graphql"

    @staticmethod
    def _cpus(workers: int) -> str | None:
        # One worker: pinned to the first core (wrk gets the last); more: wherever the OS puts them.
        return "0" if workers == 1 and (os.cpu_count() or 1) > 1 else None

    async def run(self, workers: int) -> None:
        """Both servers up side by side (an idle one costs nothing), then the rounds: each
        query on the app, then right after on the baseline."""
        app, app_url = self.start_app(workers)
        base, base_url = self.start_baseline(workers)
        try:
            await wait_ready(app_url, app)
            await wait_ready(base_url, base)
            await asyncio.sleep(1)  # the workers of a multi-worker server finish starting
            w = self.workdir
            public, dashboard = self.data.public_viewer, self.data.dashboard_viewer
            await self.register_persisted(app_url, self.public_page(), public)
            await self.register_persisted(app_url, self.dashboard(), dashboard)
            scripts = {
                "public": lua_post(w / "q1.lua", self.public_page(), self.token(public)),
                "public apq": lua_post(w / "q1apq.lua", self.public_page(apq=True), self.token(public)),
                "dashboard": lua_post(w / "q2.lua", self.dashboard(), self.token(dashboard)),
                "dashboard apq": lua_post(w / "q2apq.lua", self.dashboard(apq=True), self.token(dashboard)),
            }
            before = await self.fresh_registrations()
            for n in range(1, self.args.rounds + 1):
                m = self.measure
                m("public page", app_url, scripts["public"], app, workers, n, self.statements["public"],
                  "public page (baseline)")
                m("public page, APQ hash only", app_url, scripts["public apq"], app, workers, n,
                  self.statements["public"], "public page (baseline)")
                m("public page (baseline)", base_url, scripts["public"], base, workers, n,
                  self.statements["baseline public"])
                m("dashboard Future", app_url, scripts["dashboard"], app, workers, n, self.statements["dashboard"],
                  "dashboard Future (baseline)")
                m("dashboard Future, APQ hash only", app_url, scripts["dashboard apq"], app, workers, n,
                  self.statements["dashboard"], "dashboard Future (baseline)")
                m("dashboard Future (baseline)", base_url, scripts["dashboard"], base, workers, n,
                  self.statements["baseline dashboard"])
                m("join mutation (fresh pairs)", app_url, self.join_script, app, workers, n, self.statements["join"],
                  "join mutation (baseline)", join=True)
                m("join mutation (baseline)", base_url, self.join_script, base, workers, n,
                  self.statements["baseline join"], join=True)
            joined = await self.fresh_registrations() - before
            print(f"    ({joined:,} registrations made by the joins, warm-up included)", flush=True)
        finally:
            app.stop()
            base.stop()

    async def fresh_registrations(self) -> int:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM registration WHERE session_id = ANY($1::int[])", self.data.fresh_session_ids
            )
        finally:
            await conn.close()

    # --- the report ------------------------------------------------------------------------------

    def _rounds(self, label: str, workers: int) -> list[Result]:
        return [r for r in self.results if r.label == label and r.workers == workers]

    def ratios(self, label: str, workers: int) -> list[float]:
        """GraphQL / baseline requests/s, round by round (the two ran minutes apart at most)."""
        mine = self._rounds(label, workers)
        if not mine or mine[0].baseline_of is None:
            return []
        base = {r.round: r.rps for r in self._rounds(mine[0].baseline_of, workers)}
        return [r.rps / base[r.round] for r in mine if base.get(r.round)]

    def table(self) -> str:
        def spread(values: list[float], fmt: str) -> str:
            middle = format(statistics.median(values), fmt)
            return middle if len(values) == 1 else f"{middle} ({format(min(values), fmt)}-{format(max(values), fmt)})"

        lines = [
            f"{'query':<34} {'w':>2} {'req/s median (min-max)':>24} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'CPU us/req':>17} {'SQL':>4} {'vs baseline':>22} {'errors':>6}"
        ]
        seen = []
        for r in self.results:
            if (r.label, r.workers) not in seen:
                seen.append((r.label, r.workers))
        for label, workers in seen:
            rounds = self._rounds(label, workers)
            ratios = self.ratios(label, workers)
            lines.append(
                f"{label:<34} {workers:>2} {spread([r.rps for r in rounds], '.0f'):>24} "
                f"{statistics.median(r.p50_ms for r in rounds):>7.2f} {statistics.median(r.p99_ms for r in rounds):>7.2f} "
                f"{spread([r.cpu_us for r in rounds], '.0f'):>17} "
                f"{rounds[0].statements if rounds[0].statements is not None else '-':>4} "
                f"{spread(ratios, '.2f') + 'x' if ratios else '-':>22} {sum(r.errors for r in rounds):>6}"
            )
        by = {(r.label, r.workers): statistics.median(x.rps for x in self._rounds(r.label, r.workers)) for r in self.results}
        for label in ("public page", "dashboard Future", "public page (baseline)"):
            if (label, 1) in by and (label, 2) in by:
                lines.append(f"scaling 1 -> 2 workers, {label}: {by[(label, 2)] / by[(label, 1)]:.2f}x")
        return "\n".join(lines)

    def targets(self) -> tuple[str, bool]:
        """The issue's targets on one worker, with met / not met (median ratio over rounds)."""
        lines = [f"{'target (1 worker, vs its baseline)':<40} {'wanted':>8} {'measured':>10}  verdict"]
        met_all = True
        for label, wanted in TARGETS.items():
            ratios = self.ratios(label, 1)
            if not ratios:
                lines.append(f"{label:<40} {wanted:>7.2f}x {'-':>10}  not measured (no 1-worker run)")
                continue
            got = statistics.median(ratios)
            met = got >= wanted
            met_all &= met
            lines.append(f"{label:<40} {wanted:>7.2f}x {got:>9.2f}x  {'met' if met else 'not met'}")
        return "\n".join(lines), met_all


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
                print(f"{workers} worker(s), {args.rounds} round(s):", flush=True)
                await bench.run(workers)
        print()
        print(f"machine: {machine()}, PostgreSQL {server_version}")
        print(
            f"wrk: 1 thread, {args.connections} connections per worker; {args.warmup}s warm-up before round 1, "
            f"then {args.rounds} interleaved round(s) of {args.duration}s per query; medians (min-max over rounds)"
        )
        print(bench.table())
        print()
        report, met = bench.targets()
        print(report)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 1 if args.check and not met else 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="a database on the PostgreSQL server, used to create and drop the benchmark's own")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per query (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per query before round 1 (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians and spreads over them (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per server worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--registrations", type=int, default=15_000)
    return asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(cli())
