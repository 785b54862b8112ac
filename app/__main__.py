"""The command line: python -m app <command>. See docs/operations.md, "Command line"."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable

from tortoise import Tortoise
from tortoise.exceptions import DBConnectionError, OperationalError

from app.accounts import services as accounts
from app.accounts.models import ProgramRole
from app.api.pagination import pk_of, to_global_id
from app.db import database_config, migrate_database
from app.errors import DomainError, ErrorCode
from app.settings import ConfigError, Settings


async def _with_db(settings: Settings, action: Callable[[], Awaitable[int | None]]) -> int:
    await Tortoise.init(config=database_config(settings))
    try:
        return await action() or 0
    finally:
        await Tortoise.close_connections()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(migrate_database(settings.database_url))
    print(f"database is up to date ({_safe_url(settings.database_url)})")
    return 0


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def http_implementation() -> str:
    """uvicorn's HTTP/1.1 parser: httptools (C, in the app's lock) when installed, else h11."""
    return "httptools" if _installed("httptools") else "h11"


def event_loop() -> str:
    """The event loop `serve` runs: uvloop (in the app's lock) when installed, else asyncio's."""
    return "uvloop" if _installed("uvloop") else "asyncio"


# By import path, not the class: uvicorn's worker processes import it themselves.
WEBSOCKET_PROTOCOL = "app.web.websocket_protocol:LeanWebSocketsProtocol"


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """The uvicorn options `serve` takes from the settings: the WebSocket message-size limit
    (uvicorn closes with 1009 above it), compression, client addresses from trusted
    proxies, and how long in-flight requests may finish at shutdown; the HTTP parser; and
    the WebSocket protocol (uvicorn's own, keeping less per idle connection:
    app.web.websocket_protocol). Tests serve the app with these too, so they check what
    production runs."""
    return {
        "http": http_implementation(),
        "ws": WEBSOCKET_PROTOCOL,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "proxy_headers": True,
        "timeout_graceful_shutdown": max(1, int(settings.shutdown_grace.total_seconds())),
    }


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then stop gracefully (docs/operations.md#shutdown):
    stop accepting, close WebSockets with 1012, let in-flight requests finish within
    SHUTDOWN_GRACE, stop the outbox worker after its message in flight, exit 0."""
    import os

    import uvicorn

    from app import metrics
    from app.logging_config import logging_config
    from app.web.serving import GracefulServer

    settings.check_workers(args.workers)
    options = {
        **uvicorn_options(settings),
        # uvloop and httptools cut the server's own share of a small request's CPU (docs/performance.md).
        "loop": event_loop(),
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": args.log_level,
        "log_config": logging_config(settings, level=args.log_level),
    }
    if args.workers <= 1:
        if metrics.multiprocess_dir():
            # An operator's PROMETHEUS_MULTIPROC_DIR with one worker: this process counts
            # there already (since its imports); what earlier runs left goes.
            metrics.prepare_multiprocess_dir(keep_pid=os.getpid())
        config = uvicorn.Config("app.main:app_from_env", **options)
        config.load_app()
        server = GracefulServer(config)
        server.run()
        return 0 if server.started else 3  # 3: uvicorn's "failed to start"
    # Several workers count into one directory of value files, so a scrape answered by
    # any of them reports them all: a fresh one per serve, removed at exit.
    path, made = metrics.prepare_multiprocess_dir()
    os.environ[metrics.MULTIPROC_DIR_VARIABLE] = path  # read by the workers, spawned after this
    try:
        uvicorn.run("app.main:app_from_env", **options)
    finally:
        if made:
            metrics.remove_multiprocess_dir(path)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import DemoRefused, check_demo_allowed, load_demo_data

    try:
        check_demo_allowed(settings)  # before the database is even opened
    except DemoRefused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1

    async def run() -> None:
        accounts_made = await load_demo_data(settings)
        print("Demo data is loaded. Sign in with any of these (signIn mutation or GraphiQL):")
        for email, password, role in accounts_made:
            print(f"  {email:<28} password: {password:<16} ({role})")

    return asyncio.run(_with_db(settings, run))


def cmd_create_program(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> None:
        program = await accounts.create_program(name=args.name)
        print(to_global_id("Program", program.id))

    return asyncio.run(_with_db(settings, run))


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> None:
        user = await accounts.create_user(
            email=args.email, name=args.name, password=args.password, time_zone=args.time_zone
        )
        print(to_global_id("User", user.id))

    return asyncio.run(_with_db(settings, run))


def _program_id(text: str) -> int:
    program_id = pk_of(text, "Program") or (int(text) if text.isdigit() else None)
    if program_id is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, f"Not a program ID: {text!r}.")
    return program_id


def cmd_add_member(settings: Settings, args: argparse.Namespace) -> int:
    program_id = _program_id(args.program)

    async def run() -> None:
        membership = await accounts.add_member(
            program_id=program_id, email=args.email, role=ProgramRole(args.role.upper())
        )
        print(f"{args.email} is {membership.role.value.lower()} of program {to_global_id('Program', program_id)}")

    return asyncio.run(_with_db(settings, run))


def cmd_create_token(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        user = await accounts.User.get_or_none(email=accounts.normalize_email(args.email))
        if user is None:
            print(f"error: no user with email {args.email}", file=sys.stderr)
            return 1
        print(await accounts.issue_token(user, label=args.label))
        return 0

    return asyncio.run(_with_db(settings, run))


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        tokens = await accounts.tokens_of(args.email)
        if tokens is None:
            print(f"error: no user with email {args.email}", file=sys.stderr)
            return 1
        print(f"{'ID':>6}  {'LABEL':<20}  {'CREATED':<20}  {'LAST USED':<20}  REVOKED")
        for token in tokens:
            print(
                f"{token.id:>6}  {token.label[:20]:<20}  {_when(token.created_at):<20}  "
                f"{_when(token.last_used_at):<20}  {_when(token.revoked_at)}"
            )
        active = sum(1 for t in tokens if t.revoked_at is None)
        print(f"{len(tokens)} token(s), {active} active; revoke one with: python -m app revoke-token --id ID")
        return 0

    return asyncio.run(_with_db(settings, run))


async def _tell_open_sockets(settings: Settings, user_ids: list[int], broker=None) -> None:
    """Publish the users' "access changed" signal, so their open WebSockets check their
    token and roles again now. Only a shared broker (REDIS_URL) reaches the servers from
    here; without one, servers find revoked tokens and removed memberships (the
    access-change log) within REVOCATION_POLL_INTERVAL (app.live.revocation_watch).
    `broker`: one the command started already (else one is started for this)."""
    if not user_ids:
        return
    if not settings.redis_url:
        print(
            "note: without REDIS_URL, servers find this change and tell its open WebSockets "
            "within REVOCATION_POLL_INTERVAL",
            file=sys.stderr,
        )
        return
    from app.live.access import announce_access_changed
    from app.main import make_broker

    own = broker is None
    if own:
        broker = make_broker(settings)
        await broker.start()
    try:
        if not broker.available:
            print(
                "warning: Redis is unreachable: servers find this change and tell its open WebSockets "
                "within REVOCATION_POLL_INTERVAL",
                file=sys.stderr,
            )
        await announce_access_changed(broker, user_ids)
    finally:
        if own:
            await broker.stop()


def cmd_revoke_token(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        if args.token:
            user_id = await accounts.revoke_token(args.token)
            user_ids, revoked = [user_id] if user_id else [], int(user_id is not None)
        elif args.id is not None:
            user_id = await accounts.revoke_token_id(args.id)
            user_ids, revoked = [user_id] if user_id else [], int(user_id is not None)
        else:
            user_id, revoked = await accounts.revoke_tokens_of(args.email)
            user_ids = [user_id] if user_id and revoked else []
        await _tell_open_sockets(settings, user_ids)
        print(f"revoked {revoked} token(s)")
        return 0 if revoked else 1

    return asyncio.run(_with_db(settings, run))


def _read_new_password(args: argparse.Namespace) -> str:
    """The new password: typed twice at a terminal, or the first line of standard input
    (for scripts); never an argument, which other users could read in the process list."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise DomainError.of(ErrorCode.INVALID, "The two passwords differ; nothing was changed.")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def cmd_set_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_new_password(args)

    async def run() -> int:
        user_id, revoked = await accounts.set_password(email=args.email, password=password)
        await _tell_open_sockets(settings, [user_id])
        print(f"password set for {accounts.normalize_email(args.email)}; revoked {revoked} token(s): sign in again")
        return 0

    return asyncio.run(_with_db(settings, run))


def cmd_remove_member(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.removal import remove_member
    from app.handlers import build_handlers
    from app.live.broker import InMemoryBroker
    from app.main import make_broker

    program_id = _program_id(args.program)

    async def run() -> int:
        # Withdrawals and cancellations go through the session commands, with the app's
        # handlers: emails become outbox rows (the worker sends them), live events reach
        # the servers through Redis when REDIS_URL is set.
        broker = make_broker(settings) if settings.redis_url else InMemoryBroker()
        await broker.start()
        try:
            removal = await remove_member(
                program_id=program_id,
                email=args.email,
                effects=build_handlers(settings, broker),
                cancel_hosted=args.cancel_hosted,
            )
            await _tell_open_sockets(settings, [removal.user_id], broker)
        finally:
            await broker.stop()
        what = "removed from" if removal.was_member else "was already out of"
        print(
            f"{accounts.normalize_email(args.email)} {what} program {to_global_id('Program', program_id)}: "
            f"{removal.withdrawn} registration(s) withdrawn, {removal.cancelled} hosted session(s) cancelled; "
            "past sessions are kept"
        )
        return 0

    return asyncio.run(_with_db(settings, run))


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import logging.config
    import signal

    from app.logging_config import logging_config
    from app.notifications.worker import OutboxWorker

    # serve's format and filters: an SMTP refusal quoting an address is logged without it
    logging.config.dictConfig(logging_config(settings))

    async def run() -> int:
        worker = OutboxWorker(settings)
        jobs, broker = _job_runner(settings, worker)
        await broker.start()
        try:
            return await work(worker, jobs)
        finally:
            await broker.stop()

    async def work(worker, jobs) -> int:
        if args.once:
            ran = await jobs.drain()
            tried = await worker.drain()
            print(f"ran {ran} timed job(s)")
            print(f"tried {tried} message(s)")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"outbox worker: sending through {settings.smtp_host}:{settings.smtp_port} "
            f"(security: {settings.smtp_security}); Ctrl-C to stop",
            file=sys.stderr,
        )
        worker.start()
        jobs.start()
        await stop.wait()
        # Said before waiting, so whoever sent the signal can see it was heard.
        print("outbox worker: stopping after the message in flight, if any", file=sys.stderr)
        await jobs.stop()
        await worker.stop()
        return 0

    return asyncio.run(_with_db(settings, run))


def _job_runner(settings: Settings, outbox_worker):
    """The timed-jobs runner of a worker process, and the broker to start: its jobs' events have the app's effects
    (emails into the outbox, which `outbox_worker` is woken to send; live events through
    the configured broker, which reaches subscribers of other processes with REDIS_URL)."""
    from app.handlers import build_handlers
    from app.jobs.runner import JobRunner
    from app.jobs.table import build_job_handlers
    from app.main import make_broker

    broker = make_broker(settings)
    effects = build_handlers(settings, broker, outbox_worker)
    return JobRunner(settings, build_job_handlers(settings), effects), broker


def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from app.jobs import runner
    from app.jobs.models import JobStatus

    async def run() -> int:
        counts = await runner.count_by_status()
        print(" · ".join(f"{status.value.lower()} {counts[status]}" for status in JobStatus))
        jobs = await runner.list_jobs(limit=args.limit)
        if not jobs:
            print("nothing pending or failed")
            return 0
        print(f"{'ID':>6}  {'STATUS':<8} {'TRIES':>5}  {'RUN AT (UTC)':<19}  {'KIND':<20}  SESSION")
        for job in jobs:
            print(f"{job.id:>6}  {job.status.value:<8} {job.attempts:>5}  {job.run_at:%Y-%m-%d %H:%M:%S}  "
                  f"{job.kind[:20]:<20}  {job.session_id if job.session_id is not None else '-'}")
            if job.last_error:
                print(f"{'':>6}  last error: {job.last_error[:200]}")
        return 0

    return asyncio.run(_with_db(settings, run))


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    from app.notifications import outbox
    from app.notifications.models import OutboxStatus

    async def run() -> int:
        if args.action == "retry":
            count = await outbox.retry_failed(args.id)
            print(f"re-queued {count} failed message(s)")
            return 0
        counts = await outbox.count_by_status()
        print(" · ".join(f"{status.value.lower()} {counts[status]}" for status in OutboxStatus))
        rows = await outbox.list_outbox(limit=args.limit)
        if not rows:
            print("nothing pending or failed")
            return 0
        print(f"{'ID':>6}  {'STATUS':<8} {'TRIES':>5}  {'NEXT ATTEMPT (UTC)':<17}  {'TO':<30}  SUBJECT")
        for row in rows:
            unsendable = row.status in (OutboxStatus.FAILED, OutboxStatus.REFUSED)
            when = "-" if unsendable else row.next_attempt_at.strftime("%Y-%m-%d %H:%M")
            print(f"{row.id:>6}  {row.status.value:<8} {row.attempts:>5}  {when:<17}  {row.recipient[:30]:<30}  "
                  f"{row.subject[:70]}")
            if row.last_error:
                print(f"{'':>6}  last error: {row.last_error[:200]}")
        return 0

    return asyncio.run(_with_db(settings, run))


def cmd_check(args: argparse.Namespace) -> int:
    """One line per problem with the configuration and what it names (exit 1), or one
    line saying all is well (exit 0). Reads the environment itself: a bad setting is one
    of the problems it reports."""
    from app.check import run_check

    problems, settings = run_check()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(
        f"OK: configuration valid; database {_safe_url(settings.database_url)} reachable and migrated; "
        f"Redis {'reachable' if settings.redis_url else 'not configured'}; "
        f"SMTP {settings.smtp_host}:{settings.smtp_port} reachable"
    )
    return 0


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from app.api.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def _safe_url(url: str) -> str:
    """The database URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Group sessions GraphQL backend.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)

    serve = sub.add_parser("serve", help="serve GraphQL at /graphql with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("demo", help="load idempotent demo data and print sign-ins").set_defaults(func=cmd_demo)

    program = sub.add_parser("create-program", help="create a program; prints its global ID")
    program.add_argument("name")
    program.set_defaults(func=cmd_create_program)

    user = sub.add_parser("create-user", help="create a user; prints its global ID")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--password")
    user.add_argument("--time-zone", default="UTC")
    user.set_defaults(func=cmd_create_user)

    member = sub.add_parser("add-member", help="add a user to a program (or change their role)")
    member.add_argument("--program", required=True, help="the program's global ID")
    member.add_argument("--email", required=True)
    member.add_argument("--role", required=True, choices=["mentor", "mentee", "admin"])
    member.set_defaults(func=cmd_add_member)

    remove = sub.add_parser(
        "remove-member",
        help="remove a user from a program: withdraws their registrations in sessions that have not started "
        "(hosts are told), keeps past ones",
    )
    remove.add_argument("--program", required=True, help="the program's global ID")
    remove.add_argument("--email", required=True)
    remove.add_argument(
        "--cancel-hosted",
        action="store_true",
        help="also cancel the sessions they host that have not started (refused without it)",
    )
    remove.set_defaults(func=cmd_remove_member)

    password = sub.add_parser(
        "set-password",
        help="set a user's password (typed twice, or the first line of stdin) and revoke all their tokens",
    )
    password.add_argument("--email", required=True)
    password.set_defaults(func=cmd_set_password)

    token = sub.add_parser("create-token", help="issue a bearer token (printed as the last line)")
    token.add_argument("--email", required=True)
    token.add_argument("--label", default="cli")
    token.set_defaults(func=cmd_create_token)

    tokens = sub.add_parser("tokens", help="list a user's tokens (id, label, created, last used, revoked)")
    tokens.add_argument("--email", required=True)
    tokens.set_defaults(func=cmd_tokens)

    revoke = sub.add_parser("revoke-token", help="revoke one token (by value or id), or every token of a user")
    group = revoke.add_mutually_exclusive_group(required=True)
    group.add_argument("--token")
    group.add_argument("--id", type=int, help="a token id as `tokens` lists it")
    group.add_argument("--email")
    revoke.set_defaults(func=cmd_revoke_token)

    worker = sub.add_parser("worker", help="run the email delivery worker alone (see OUTBOX_WORKER_IN_SERVE)")
    worker.add_argument("--once", action="store_true", help="send what is due now, then exit")
    worker.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="list pending, running and failed timed jobs (minimum warnings and decisions)")
    jobs.add_argument("--limit", type=int, default=100, help="list at most this many jobs")
    jobs.set_defaults(func=cmd_jobs)

    outbox = sub.add_parser("outbox", help="list pending and failed mail; 'outbox retry' re-queues failed mail")
    outbox.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    outbox.add_argument("--id", type=int, action="append", help="retry only this row (repeatable)")
    outbox.add_argument("--limit", type=int, default=100, help="list at most this many rows")
    outbox.set_defaults(func=cmd_outbox)

    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=cmd_export_schema)
    sub.add_parser(
        "check",
        help="validate the configuration; reach the database (migrations applied?), Redis and SMTP; "
        "one line per problem, exit 1 on any",
    ).set_defaults(func=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return cmd_check(args)
    try:
        settings = Settings.from_env()
        return args.func(settings, args)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OSError, DBConnectionError, OperationalError) as error:
        # An unreachable or misconfigured database: one line, not a traceback.
        print(f"database error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
