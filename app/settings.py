"""Settings: the only module that reads the environment.

Everything else receives a `Settings` instance (see `create_app(settings)`), so tests
build their own without patching globals.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from email.utils import parseaddr
from urllib.parse import urlparse

DEFAULT_DATABASE_URL = "sqlite://data/app.sqlite3"
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "asyncpg"})
DATABASE_SCHEMES = POSTGRES_SCHEMES | {"sqlite"}
DEFAULT_PUBLIC_WEB_URL = "http://127.0.0.1:8000"


class ConfigError(Exception):
    """Configuration that cannot work; the message is one line meant for an operator."""


def _int(env: Mapping[str, str], name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


# --- durations (TOKEN_TTL and others): one parser for every setting that is a duration ---

_DURATION_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class Duration(timedelta):
    """A timedelta that prints the way it is written in the environment (`30d`, `1h30m`),
    so defaults read the same in Settings, docs/configuration.md and .env.example."""

    def __str__(self) -> str:
        return format_duration(self)


def format_duration(value: timedelta) -> str:
    """`value` as `parse_duration` reads it: whole units, largest first (`1d12h`, `90s` -> `1m30s`)."""
    left = int(value.total_seconds())
    if left <= 0:
        return "0s"
    parts = []
    for unit, seconds in _DURATION_UNITS.items():
        count, left = divmod(left, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_duration(text: str, *, name: str = "duration") -> Duration:
    """A duration written as whole days, hours, minutes and seconds, largest unit first
    (`30d`, `12h`, `1h30m`, `2d12h`, `45s`), or a bare number of seconds (`90`).
    Raises ConfigError naming `name` for anything else (units out of order or repeated,
    fractions, signs, spaces inside)."""
    raw = text.strip().lower()
    match = _DURATION.fullmatch(raw) if not raw.isdigit() else None
    if not raw or (match is None and not raw.isdigit()) or len(raw) > 30:
        raise ConfigError(
            f"{name} must be a duration such as 30d, 12h, 1h30m, 45s or a number of seconds, got {text!r}"
        )
    try:
        if match is None:
            return Duration(seconds=int(raw))
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return Duration(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ConfigError(f"{name} is too long a duration, got {text!r}") from None


def _duration(
    env: Mapping[str, str], name: str, default: timedelta, *, low: timedelta, high: timedelta
) -> Duration:
    raw = env.get(name, "").strip()
    if not raw:
        return Duration(seconds=default.total_seconds())
    value = parse_duration(raw, name=name)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {format_duration(low)} and {format_duration(high)}, got {raw!r}")
    return value


class Durations(tuple):
    """Durations that print the way they are written in the environment (`1d,1h`)."""

    def __str__(self) -> str:
        return ",".join(format_duration(value) for value in self)


def _durations(
    env: Mapping[str, str], name: str, default: tuple[timedelta, ...], *, low: timedelta, high: timedelta,
    most: int = 10,
) -> Durations:
    """A comma-separated list of durations (`24h,1h`), each within [low, high], without
    repeats, longest first; `none` for the empty list, unset for `default`."""
    raw = env.get(name, "").strip()
    if not raw:
        return Durations(default)
    if raw.lower() == "none":
        return Durations()
    values = [parse_duration(part, name=name) for part in raw.split(",")]
    for value in values:
        if not low <= value <= high:
            raise ConfigError(
                f"{name}: each duration must be between {format_duration(low)} and {format_duration(high)}, got {raw!r}"
            )
    if len(set(values)) != len(values) or len(values) > most:
        raise ConfigError(f"{name} must list up to {most} different durations, got {raw!r}")
    return Durations(sorted(values, reverse=True))


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else ""


def is_postgres_url(database_url: str) -> bool:
    """True for a PostgreSQL database URL (postgres://, postgresql:// or asyncpg://): the
    one test of which database the app runs on (`Settings.uses_postgres`)."""
    return _scheme(database_url) in POSTGRES_SCHEMES


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one process. docs/configuration.md documents every field."""

    app_env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL: connections per process kept for the hot reads, beside Tortoise's pool
    # (app/read_pool.py); 0: the reads share Tortoise's pool.
    read_pool_size: int = 5
    public_web_url: str = DEFAULT_PUBLIC_WEB_URL
    redis_url: str | None = None
    # Prefix of every Redis key (sign-in counters) and pub/sub channel (live updates) this
    # app uses, so deployments and test runs sharing one Redis do not collide.
    redis_key_prefix: str = "gs:"
    cors_origins: tuple[str, ...] = ()

    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"  # none | starttls | tls
    # PEM file of the CAs that may sign the SMTP server's certificate (an internal relay);
    # unset: the system's trusted CAs.
    smtp_ca_file: str | None = None
    smtp_timeout_seconds: int = 10
    mail_from: str = "Group Sessions <no-reply@localhost>"
    # Run the outbox delivery worker inside `serve`; turn off where `python -m app worker` runs apart.
    outbox_worker_in_serve: bool = True
    outbox_max_attempts: int = 12
    # Retry n waits about base * 2**(n-1) seconds (with jitter), never more than the cap.
    outbox_retry_base_seconds: int = 30
    outbox_retry_max_seconds: int = 3600
    # How often an idle worker looks for due mail (a commit in the same process wakes it at once).
    outbox_poll_seconds: int = 5
    outbox_batch_size: int = 20
    # How long the host's notices about one member flipping on one session (join, leave,
    # join...) after the first are folded into one summary (0: no folding).
    host_notice_coalesce_window: timedelta = Duration(minutes=10)
    # Timed jobs (minimum decisions, later reminders): run wherever the outbox worker runs.
    # How often an idle runner looks for due jobs.
    jobs_poll_seconds: int = 5
    # Attempts of a failing job (with backoff) before it is recorded FAILED.
    jobs_max_attempts: int = 5
    # A session's minimum is decided this long before its start (at the start when
    # created or moved later than that), and the host warned this long before the decision.
    minimum_decision_lead: timedelta = Duration(hours=24)
    minimum_warning_lead: timedelta = Duration(hours=24)

    # Limits (see docs/security.md).
    max_page_size: int = 100
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_query_cost: int = 50_000
    max_document_bytes: int = 15_000
    max_body_bytes: int = 100_000
    max_batch_operations: int = 10
    # Automatic Persisted Queries: documents remembered by hash, per process (0: APQ off).
    persisted_queries_max: int = 1000
    request_timeout_seconds: int = 15
    ws_connection_init_timeout_seconds: int = 5
    ws_max_subscriptions: int = 20
    ws_max_message_bytes: int = 64_000
    ws_subscriber_queue_size: int = 256
    # permessage-deflate costs ~40 KB of zlib state per connection and CPU per message, for
    # messages of a few hundred bytes: off unless asked for.
    ws_per_message_deflate: bool = False
    sign_in_attempts_per_email: int = 10
    sign_in_attempts_per_client: int = 50
    sign_in_window_seconds: int = 300
    # Counters kept per process (in memory, or as Redis's fallback); a full store refuses.
    sign_in_max_counters: int = 100_000
    # Open WebSockets: across processes with Redis, else per process (see docs/live.md#connection-limits).
    ws_max_connections_per_user: int = 10
    ws_max_connections_per_ip: int = 50
    # With Redis the two caps above count every process's sockets: each process refreshes
    # its sockets' entries this often, and an entry not refreshed for three heartbeats (a
    # process that died) stops counting (see app/api/socket_limits.py).
    ws_connection_heartbeat: timedelta = Duration(seconds=10)
    # Bearer tokens end TOKEN_TTL after they were issued, or TOKEN_IDLE_TTL after their last
    # use, whichever comes first; sockets signed in with one close then (see docs/security.md).
    token_ttl: timedelta = Duration(days=30)
    token_idle_ttl: timedelta = Duration(days=7)
    # How long createGroupSession remembers an idempotency key (per viewer): a retry within
    # it returns the first result instead of creating another session.
    idempotency_key_ttl: timedelta = Duration(hours=24)

    # The day of the session (docs/day-of-the-session.md). Sessions without a meeting link
    # of their own get a room at MEETING_BASE_URL/<unguessable name>; the room is shown to
    # those registered from JOIN_WINDOW before the start until the end.
    meeting_base_url: str = "https://meet.jit.si"
    join_window: timedelta = Duration(minutes=10)
    # Reminders go to the host and confirmed participants this long before the start, once
    # per duration (app/jobs/day_of.py); the room opening is told live at the join window.
    reminder_offsets: tuple[timedelta, ...] = Durations((Duration(hours=24), Duration(hours=1)))
    # Derives each user's private calendar feed token (HMAC), so the database holds only a
    # hash of it and the URL can still be shown again; required in production.
    calendar_feed_secret: str = "development-only-calendar-feed-secret"
    # Fetches of one calendar feed per minute (calendar apps poll every few minutes).
    calendar_feed_requests_per_minute: int = 30

    # How often a serving process looks for tokens revoked and memberships removed by other
    # processes (the command line, another worker) to tell their open sockets without Redis
    # (0: never; see app/live/revocation_watch.py).
    revocation_poll_interval: timedelta = Duration(seconds=5)
    # Operations (see docs/operations.md): /metrics answers only a bearer METRICS_TOKEN, or
    # on METRICS_PORT bound to 127.0.0.1; with neither, there is no /metrics at all.
    metrics_token: str | None = None
    metrics_port: int | None = None
    # Distinct operation names kept as metric labels per process; the rest share one.
    metrics_max_operation_names: int = 500
    # On SIGTERM: how long in-flight requests (and the outbox's message in flight) may take
    # to finish before they are cut; the process exits 0 within about this bound.
    shutdown_grace: timedelta = Duration(seconds=30)
    # Tracing: an OTLP/HTTP collector (needs the `otel` extra); unset: no OpenTelemetry at all.
    otel_exporter_otlp_endpoint: str | None = None

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def uses_postgres(self) -> bool:
        """True when DATABASE_URL names PostgreSQL (otherwise it is SQLite)."""
        return is_postgres_url(self.database_url)

    def check_workers(self, workers: int) -> None:
        """Refuse a multi-process server that would misbehave: SQLite locks up under
        several writers, and without Redis each process would keep its own live-update
        fan-out and its own sign-in counters (the limits would multiply)."""
        if workers <= 1:
            return
        if not self.uses_postgres:
            raise ConfigError(f"--workers {workers} needs PostgreSQL: SQLite allows one writer at a time")
        if not self.redis_url:
            raise ConfigError(
                f"--workers {workers} needs REDIS_URL: live updates and sign-in limits must be shared by the workers"
            )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests use this instead of patching)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raises ConfigError with one clear line."""
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "development").strip() or "development"
        if app_env not in {"development", "production"}:
            raise ConfigError(f"APP_ENV must be development or production, got {app_env!r}")
        production = app_env == "production"

        database_url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        if _scheme(database_url) not in DATABASE_SCHEMES:
            raise ConfigError(
                "DATABASE_URL must start with sqlite:// or postgres://, "
                f"got {database_url.split('://', 1)[0]!r}"
            )

        public_web_url = env.get("PUBLIC_WEB_URL", "").strip()
        if not public_web_url:
            if production:
                raise ConfigError("PUBLIC_WEB_URL must be set in production (the share links are built from it)")
            public_web_url = DEFAULT_PUBLIC_WEB_URL
        parsed = urlparse(public_web_url)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ConfigError(f"PUBLIC_WEB_URL must be an http(s) URL, got {public_web_url!r}")

        if production and parsed.scheme != "https":
            raise ConfigError(f"PUBLIC_WEB_URL must be https in production, got {public_web_url!r}")
        if production and not env.get("DATABASE_URL", "").strip():
            raise ConfigError(
                "DATABASE_URL must be set in production (the default is a SQLite file for development)"
            )

        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url!r}")
        redis_key_prefix = env.get("REDIS_KEY_PREFIX", "").strip() or cls.redis_key_prefix
        if len(redis_key_prefix) > 100 or any(c.isspace() for c in redis_key_prefix):
            raise ConfigError(f"REDIS_KEY_PREFIX must be up to 100 characters without spaces, got {redis_key_prefix!r}")

        cors_origins = _list(env, "CORS_ORIGINS")
        for origin in cors_origins:
            if origin == "*" and production:
                raise ConfigError("CORS_ORIGINS may not be * in production: list the web app's origins")
            if origin != "*" and urlparse(origin).scheme not in {"http", "https"}:
                raise ConfigError(f"CORS_ORIGINS entries must be origins like https://app.example.org, got {origin!r}")

        smtp_security = env.get("SMTP_SECURITY", "none").strip().lower() or "none"
        if smtp_security not in {"none", "starttls", "tls"}:
            raise ConfigError(f"SMTP_SECURITY must be none, starttls or tls, got {smtp_security!r}")
        smtp_ca_file = env.get("SMTP_CA_FILE", "").strip() or None
        if smtp_ca_file and not os.path.isfile(smtp_ca_file):
            raise ConfigError(f"SMTP_CA_FILE must name a PEM file, and {smtp_ca_file!r} is not a file")
        if production and smtp_security == "none" and (env.get("SMTP_USERNAME") or env.get("SMTP_PASSWORD")):
            raise ConfigError(
                "SMTP_SECURITY=none would send SMTP_PASSWORD in clear in production: use starttls or tls"
            )

        smtp_username = env.get("SMTP_USERNAME") or None
        smtp_password = env.get("SMTP_PASSWORD") or None
        if (smtp_username is None) != (smtp_password is None):
            raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD go together: set both, or neither")

        mail_from = env.get("MAIL_FROM", "").strip() or cls.mail_from
        _, mail_from_address = parseaddr(mail_from)
        if "@" not in mail_from_address or any(c in mail_from for c in "\r\n"):
            raise ConfigError(
                f"MAIL_FROM must be an address like 'Group Sessions <no-reply@example.org>', got {mail_from!r}"
            )

        meeting_base_url = (env.get("MEETING_BASE_URL", "").strip() or cls.meeting_base_url).rstrip("/")
        meeting = urlparse(meeting_base_url)
        if meeting.scheme != "https" or not meeting.netloc or meeting.query or meeting.fragment:
            raise ConfigError(f"MEETING_BASE_URL must be an https URL without query, got {meeting_base_url!r}")

        calendar_feed_secret = env.get("CALENDAR_FEED_SECRET", "").strip()
        if not calendar_feed_secret:
            if production:
                raise ConfigError(
                    "CALENDAR_FEED_SECRET must be set in production (32+ random characters; it signs calendar feed links)"
                )
            calendar_feed_secret = cls.calendar_feed_secret
        elif len(calendar_feed_secret) < 32:
            raise ConfigError("CALENDAR_FEED_SECRET must be at least 32 characters")

        metrics_token = env.get("METRICS_TOKEN", "").strip() or None
        if metrics_token is not None and (len(metrics_token) < 16 or any(c.isspace() for c in metrics_token)):
            raise ConfigError("METRICS_TOKEN must be at least 16 characters without spaces (a random secret)")
        metrics_port_text = env.get("METRICS_PORT", "").strip()
        metrics_port = _int(env, "METRICS_PORT", 0, low=1, high=65535) if metrics_port_text else None
        otel_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None
        if otel_endpoint and urlparse(otel_endpoint).scheme not in {"http", "https"}:
            raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got {otel_endpoint!r}")

        defaults = cls()
        return cls(
            app_env=app_env,
            database_url=database_url,
            read_pool_size=_int(env, "READ_POOL_SIZE", defaults.read_pool_size, low=0, high=1000),
            public_web_url=public_web_url.rstrip("/"),
            redis_url=redis_url,
            redis_key_prefix=redis_key_prefix,
            cors_origins=cors_origins,
            smtp_host=env.get("SMTP_HOST", "").strip() or defaults.smtp_host,
            smtp_port=_int(env, "SMTP_PORT", defaults.smtp_port, low=1, high=65535),
            smtp_username=smtp_username,
            smtp_password=smtp_password,
            smtp_security=smtp_security,
            smtp_ca_file=smtp_ca_file,
            smtp_timeout_seconds=_int(env, "SMTP_TIMEOUT_SECONDS", defaults.smtp_timeout_seconds, low=1, high=300),
            mail_from=mail_from,
            outbox_worker_in_serve=_bool(env, "OUTBOX_WORKER_IN_SERVE", True),
            outbox_max_attempts=_int(env, "OUTBOX_MAX_ATTEMPTS", defaults.outbox_max_attempts, low=1, high=100),
            outbox_retry_base_seconds=_int(
                env, "OUTBOX_RETRY_BASE_SECONDS", defaults.outbox_retry_base_seconds, low=1, high=86_400
            ),
            outbox_retry_max_seconds=_int(
                env, "OUTBOX_RETRY_MAX_SECONDS", defaults.outbox_retry_max_seconds, low=1, high=7 * 86_400
            ),
            outbox_poll_seconds=_int(env, "OUTBOX_POLL_SECONDS", defaults.outbox_poll_seconds, low=1, high=3600),
            outbox_batch_size=_int(env, "OUTBOX_BATCH_SIZE", defaults.outbox_batch_size, low=1, high=1000),
            host_notice_coalesce_window=_duration(
                env, "HOST_NOTICE_COALESCE_WINDOW", defaults.host_notice_coalesce_window,
                low=Duration(0), high=Duration(days=1),
            ),
            jobs_poll_seconds=_int(env, "JOBS_POLL_SECONDS", defaults.jobs_poll_seconds, low=1, high=3600),
            jobs_max_attempts=_int(env, "JOBS_MAX_ATTEMPTS", defaults.jobs_max_attempts, low=1, high=100),
            minimum_decision_lead=_duration(
                env, "MINIMUM_DECISION_LEAD", defaults.minimum_decision_lead, low=Duration(0), high=Duration(days=365)
            ),
            minimum_warning_lead=_duration(
                env, "MINIMUM_WARNING_LEAD", defaults.minimum_warning_lead, low=Duration(0), high=Duration(days=365)
            ),
            max_page_size=_int(env, "MAX_PAGE_SIZE", defaults.max_page_size, low=1, high=1000),
            max_query_depth=_int(env, "MAX_QUERY_DEPTH", defaults.max_query_depth, low=2, high=100),
            max_aliases=_int(env, "MAX_ALIASES", defaults.max_aliases, low=1, high=1000),
            max_tokens=_int(env, "MAX_TOKENS", defaults.max_tokens, low=10, high=100_000),
            max_query_cost=_int(env, "MAX_QUERY_COST", defaults.max_query_cost, low=1),
            max_document_bytes=_int(env, "MAX_DOCUMENT_BYTES", defaults.max_document_bytes, low=100),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes, low=1000),
            max_batch_operations=_int(env, "MAX_BATCH_OPERATIONS", defaults.max_batch_operations, low=0, high=100),
            persisted_queries_max=_int(
                env, "PERSISTED_QUERIES_MAX", defaults.persisted_queries_max, low=0, high=1_000_000
            ),
            request_timeout_seconds=_int(env, "REQUEST_TIMEOUT_SECONDS", defaults.request_timeout_seconds, low=1),
            ws_connection_init_timeout_seconds=_int(
                env, "WS_CONNECTION_INIT_TIMEOUT_SECONDS", defaults.ws_connection_init_timeout_seconds, low=1
            ),
            ws_max_subscriptions=_int(env, "WS_MAX_SUBSCRIPTIONS", defaults.ws_max_subscriptions, low=1),
            ws_max_message_bytes=_int(env, "WS_MAX_MESSAGE_BYTES", defaults.ws_max_message_bytes, low=1000),
            ws_subscriber_queue_size=_int(env, "WS_SUBSCRIBER_QUEUE_SIZE", defaults.ws_subscriber_queue_size, low=1),
            ws_per_message_deflate=_bool(env, "WS_PER_MESSAGE_DEFLATE", defaults.ws_per_message_deflate),
            sign_in_attempts_per_email=_int(env, "SIGN_IN_ATTEMPTS_PER_EMAIL", defaults.sign_in_attempts_per_email, low=1),
            sign_in_attempts_per_client=_int(
                env, "SIGN_IN_ATTEMPTS_PER_CLIENT", defaults.sign_in_attempts_per_client, low=1
            ),
            sign_in_window_seconds=_int(env, "SIGN_IN_WINDOW_SECONDS", defaults.sign_in_window_seconds, low=1),
            sign_in_max_counters=_int(env, "SIGN_IN_MAX_COUNTERS", defaults.sign_in_max_counters, low=100),
            ws_max_connections_per_user=_int(
                env, "WS_MAX_CONNECTIONS_PER_USER", defaults.ws_max_connections_per_user, low=1
            ),
            ws_max_connections_per_ip=_int(env, "WS_MAX_CONNECTIONS_PER_IP", defaults.ws_max_connections_per_ip, low=1),
            ws_connection_heartbeat=_duration(
                env, "WS_CONNECTION_HEARTBEAT", defaults.ws_connection_heartbeat,
                low=Duration(seconds=1), high=Duration(hours=1),
            ),
            token_ttl=_duration(env, "TOKEN_TTL", defaults.token_ttl, low=Duration(seconds=1), high=Duration(days=3650)),
            token_idle_ttl=_duration(
                env, "TOKEN_IDLE_TTL", defaults.token_idle_ttl, low=Duration(seconds=1), high=Duration(days=3650)
            ),
            meeting_base_url=meeting_base_url,
            join_window=_duration(env, "JOIN_WINDOW", defaults.join_window, low=Duration(0), high=Duration(days=1)),
            reminder_offsets=_durations(
                env, "REMINDER_OFFSETS", defaults.reminder_offsets, low=Duration(seconds=1), high=Duration(days=30)
            ),
            calendar_feed_secret=calendar_feed_secret,
            calendar_feed_requests_per_minute=_int(
                env, "CALENDAR_FEED_REQUESTS_PER_MINUTE", defaults.calendar_feed_requests_per_minute, low=1, high=10_000
            ),
            idempotency_key_ttl=_duration(
                env, "IDEMPOTENCY_KEY_TTL", defaults.idempotency_key_ttl, low=Duration(minutes=1), high=Duration(days=30)
            ),
            revocation_poll_interval=_duration(
                env, "REVOCATION_POLL_INTERVAL", defaults.revocation_poll_interval, low=Duration(0), high=Duration(hours=1)
            ),
            metrics_token=metrics_token,
            metrics_port=metrics_port,
            metrics_max_operation_names=_int(
                env, "METRICS_MAX_OPERATION_NAMES", defaults.metrics_max_operation_names, low=1, high=100_000
            ),
            shutdown_grace=_duration(
                env, "SHUTDOWN_GRACE", defaults.shutdown_grace, low=Duration(seconds=1), high=Duration(hours=1)
            ),
            otel_exporter_otlp_endpoint=otel_endpoint,
        )

