"""Prometheus metrics (prometheus-client): what the process counts, and the scrape.

The metric objects live at module level, as prometheus-client intends: one registry per
process, whatever app objects the process builds. They are counted where things happen:

- GraphQL operations by operation name, outcome and duration, and errors by code
  (`app.api.extensions.RequestLog`);
- sign-ins refused by the rate limiter (`app.accounts.rate_limit`);
- open WebSockets (`app.api.socket_limits`), active subscriptions (`app.live.broker`),
  Redis connected (`app.live.redis_broker`);
- the database pool, sampled at each scrape and after HTTP requests, at most every quarter
  second (`sample_pool`, `sample_pool_after_request`).

What lives in the database (outbox backlog, timed jobs) is read at scrape time by
`DatabaseCollector`, a few indexed aggregate queries, never per request.

Several workers (`serve --workers N`) share one directory of value files
(PROMETHEUS_MULTIPROC_DIR, managed by `serve`, see `prepare_multiprocess_dir`): any worker
answering a scrape reports the sum of all (counters and histograms summed; gauges of
live things summed over live workers, `livesum`; Redis connected is the minimum,
`livemin`). Files of workers that died are pruned at scrape time.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.db import sql_parameter

logger = logging.getLogger(__name__)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The label shared by documents without an operation name and by names past the bound.
OTHER_OPERATIONS = "anonymous"

OPERATIONS = Counter(
    "gs_graphql_operations_total",
    "GraphQL operations (HTTP and WebSocket) by operation name and outcome: ok, userErrors, "
    "or the first error code.",
    ["operation", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "gs_graphql_operation_duration_seconds",
    "How long GraphQL operations took, by operation name (subscriptions: until their first result).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
GRAPHQL_ERRORS = Counter(
    "gs_graphql_errors_total",
    "Top-level GraphQL errors by extensions.code (INTERNAL_SERVER_ERROR for a masked bug).",
    ["code"],
)
SIGN_INS_REFUSED = Counter(
    "gs_sign_ins_refused_total", "Sign-in attempts refused by the rate limiter (RATE_LIMITED)."
)
OPEN_SOCKETS = Gauge(
    "gs_websockets_open", "Open WebSocket connections.", multiprocess_mode="livesum"
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "gs_subscriptions_active", "Active GraphQL subscriptions (live channels subscribed).", multiprocess_mode="livesum"
)
DB_POOL_SIZE = Gauge(
    "gs_db_pool_connections",
    "Database connections open (PostgreSQL: Tortoise's asyncpg pool and the read pool; SQLite: 1 once connected).",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "gs_db_pool_connections_in_use",
    "Database connections lent out now (both PostgreSQL pools; SQLite: its one connection busy, 0/1).",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "gs_db_pool_waiting",
    "Tasks waiting for a database connection (either PostgreSQL pool, or SQLite's connection lock).",
    multiprocess_mode="livesum",
)
_redis_connected: Gauge | None = None


def redis_connected(connected: bool) -> None:
    """Record whether this process's Redis connection is up. The gauge exists only once a
    Redis broker reported: a deployment without Redis has no such series."""
    global _redis_connected
    if _redis_connected is None:
        _redis_connected = Gauge(
            "gs_redis_connected", "1 when Redis (REDIS_URL) is connected, else 0 (the minimum over workers).",
            multiprocess_mode="livemin",
        )
    _redis_connected.set(1 if connected else 0)


# --- operation names, bounded -------------------------------------------------------------------

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class OperationNames:
    """Operation names as metric labels, at most `limit` distinct ones per process: a
    client choosing names cannot grow the series without bound. Unnamed documents, names
    that are not GraphQL names and names past the bound all get `OTHER_OPERATIONS`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def label(self, name: object) -> str:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name == OTHER_OPERATIONS:
            return OTHER_OPERATIONS
        if name in self._seen:
            return name
        if len(self._seen) >= self.limit:
            return OTHER_OPERATIONS
        self._seen.add(name)
        return name


operation_names = OperationNames(500)


def configure(*, max_operation_names: int) -> None:
    """Apply the settings that shape labels (METRICS_MAX_OPERATION_NAMES)."""
    operation_names.limit = max_operation_names


def record_operation(name: object, outcome: str, seconds: float, error_codes: Iterable[str]) -> None:
    """Count one GraphQL operation and its top-level errors."""
    label = operation_names.label(name)
    OPERATIONS.labels(label, outcome).inc()
    OPERATION_SECONDS.labels(label).observe(seconds)
    for code in error_codes:
        GRAPHQL_ERRORS.labels(code).inc()


# --- the database pool ------------------------------------------------------------------------------


def pool_state() -> tuple[int, int, int] | None:
    """(open, in use, waiting) for the default Tortoise connection, or None when there is
    none. PostgreSQL: the asyncpg pool's sizes and the waiters of its internal queue
    (asyncpg has no public count of them), plus the read pool's (app/read_pool.py): both
    hold connections to the server. SQLite: one connection behind a lock: in use when the
    lock is held, waiting are the lock's waiters."""
    from tortoise.connection import connections

    try:
        client = connections.get("default")
    except Exception:  # noqa: BLE001 - no Tortoise context here (not serving)
        return None
    pool = getattr(client, "_pool", None)
    if pool is not None and hasattr(pool, "get_size"):
        size = pool.get_size()
        queue = getattr(pool, "_queue", None)
        waiting = sum(1 for waiter in (getattr(queue, "_getters", None) or ()) if not waiter.done())
        in_use = size - pool.get_idle_size()
        reads = getattr(client, "reads", None)
        if reads is not None:
            read_open, read_in_use, read_waiting = reads.counts()
            size, in_use, waiting = size + read_open, in_use + read_in_use, waiting + read_waiting
        return size, in_use, waiting
    lock = getattr(client, "_lock", None)
    if getattr(client, "_connection", None) is not None and lock is not None:
        waiting = sum(1 for waiter in (getattr(lock, "_waiters", None) or ()) if not waiter.done())
        return 1, int(lock.locked()), waiting
    return None


def sample_pool() -> None:
    """Copy the pool's state into its gauges (at each scrape, and after requests: see
    `sample_pool_after_request`)."""
    state = pool_state()
    if state is None:
        return
    DB_POOL_SIZE.set(state[0])
    DB_POOL_IN_USE.set(state[1])
    DB_POOL_WAITING.set(state[2])


# How often requests refresh the pool gauges. A scrape samples the pool itself; the samples
# taken after requests are what another worker's scrape reads of this one in multiprocess
# mode, so they need to be recent, not one per request (reading asyncpg's sizes costs
# ~6-9 us, a few percent of a small query's CPU).
POOL_SAMPLE_INTERVAL_SECONDS = 0.25
_last_pool_sample = [float("-inf")]


def sample_pool_after_request(clock: Callable[[], float] = time.monotonic) -> None:
    """`sample_pool`, unless a request sampled it less than POOL_SAMPLE_INTERVAL_SECONDS ago."""
    now = clock()
    if now - _last_pool_sample[0] >= POOL_SAMPLE_INTERVAL_SECONDS:
        _last_pool_sample[0] = now
        sample_pool()


# --- database-derived gauges, read at scrape time ----------------------------------------------------

# The durable timed jobs are being built apart (model TimedJob, table `timed_job`: status
# PENDING due at `run_at`, RUNNING claimed until `lease_until`, FAILED given up on): their
# table is read when it exists, and nothing is reported otherwise.
TIMED_JOBS_TABLE = "timed_job"


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class DatabaseCollector(Collector):
    """The outbox backlog and the timed jobs, read when Prometheus scrapes: aggregates
    over the (status, next_attempt_at) index of a few small sets of rows (what is pending
    or failed), never the sent history. `now` is the app's clock."""

    def __init__(self, now) -> None:
        self.now = now
        self.samples: list[GaugeMetricFamily] = []

    async def refresh(self) -> None:
        """Run the queries (async: the scrape handler awaits this before `collect`)."""
        from tortoise.connection import connections

        connection = connections.get("default")
        now = self.now()
        families: list[GaugeMetricFamily] = []
        rows = await connection.execute_query_dict(
            "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_email "
            "WHERE status IN ('PENDING', 'SENDING', 'FAILED') GROUP BY status"
        )
        by_status = {row["status"]: row for row in rows}
        pending = [by_status[s] for s in ("PENDING", "SENDING") if s in by_status]
        family = GaugeMetricFamily("gs_outbox_pending", "Outbox emails not sent yet (pending or being sent).")
        family.add_metric([], sum(row["n"] for row in pending))
        families.append(family)
        family = GaugeMetricFamily("gs_outbox_failed", "Outbox emails given up on (FAILED; `python -m app outbox retry`).")
        family.add_metric([], by_status["FAILED"]["n"] if "FAILED" in by_status else 0)
        families.append(family)
        oldest = min((_as_utc(row["oldest"]) for row in pending if row["oldest"] is not None), default=None)
        family = GaugeMetricFamily(
            "gs_outbox_oldest_pending_age_seconds", "Age of the oldest email not sent yet (0 when none)."
        )
        family.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        families.append(family)
        families.extend(await self._timed_jobs(connection, now))
        self.samples = families

    async def _timed_jobs(self, connection, now: datetime) -> list[GaugeMetricFamily]:
        columns = await _table_columns(connection, TIMED_JOBS_TABLE)
        if not {"status", "run_at"} <= columns:
            return []  # no timed jobs here (yet): nothing reported
        # Overdue: pending and due, or claimed by a runner whose lease ran out (it died).
        p1, p2 = sql_parameter(connection, 1), sql_parameter(connection, 2)
        late_claim = f"lease_until <= {p2}" if "lease_until" in columns else "1 = 0"
        rows = await connection.execute_query_dict(
            "SELECT status, COUNT(*) AS n, "  # noqa: S608 (constants and placeholders only)
            f"SUM(CASE WHEN (status = 'PENDING' AND run_at <= {p1}) OR (status = 'RUNNING' AND {late_claim}) "
            f"THEN 1 ELSE 0 END) AS overdue FROM {TIMED_JOBS_TABLE} "
            "WHERE status IN ('PENDING', 'RUNNING', 'FAILED') GROUP BY status",
            [now, now],
        )
        by_status = {row["status"]: row for row in rows}
        pending = GaugeMetricFamily("gs_timed_jobs_pending", "Timed jobs not run yet (pending or running).")
        pending.add_metric([], sum(by_status[s]["n"] for s in ("PENDING", "RUNNING") if s in by_status))
        overdue = GaugeMetricFamily(
            "gs_timed_jobs_overdue", "Timed jobs whose time has passed and that no live runner is running."
        )
        overdue.add_metric([], sum(int(row["overdue"] or 0) for row in rows))
        failed = GaugeMetricFamily("gs_timed_jobs_failed", "Timed jobs given up on (FAILED).")
        failed.add_metric([], by_status["FAILED"]["n"] if "FAILED" in by_status else 0)
        return [pending, overdue, failed]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.samples


async def _table_columns(connection, table: str) -> set[str]:
    """The column names of `table`, or an empty set when it does not exist."""
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_name = $1 AND table_schema = current_schema()",
            [table],
        )
    else:
        rows = await connection.execute_query_dict(f"SELECT name FROM pragma_table_info('{table}')")
    return {row["name"] for row in rows}


# --- the scrape -----------------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


def prepare_multiprocess_dir(*, keep_pid: int | None = None) -> tuple[str, bool]:
    """The directory `serve --workers N` shares metrics through, empty: the operator's
    PROMETHEUS_MULTIPROC_DIR (its old value files removed: counters restart with the
    server; `keep_pid`'s own files kept) or a fresh temporary directory. Returns it and
    whether serve made it (and so removes it at exit)."""
    path = multiprocess_dir()
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            if keep_pid is None or not stale.endswith(f"_{keep_pid}.db"):
                os.remove(stale)
        return path, False
    return tempfile.mkdtemp(prefix="gs-metrics-"), True


def remove_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead_workers(path: str) -> None:
    """Drop the live-gauge files of workers that are gone (a crash, a restart by the
    supervisor): their sockets and connections no longer exist. Their counters stay:
    what happened, happened."""
    pids = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        stem = os.path.basename(name)[: -len(".db")]
        pid = stem.rsplit("_", 1)[-1]
        if pid.isdigit():
            pids.add(int(pid))
    for pid in pids:
        if not _pid_alive(pid):
            multiprocess.mark_process_dead(pid, path)


def mark_this_process_dead() -> None:
    """At a worker's shutdown: its live gauges leave the sums."""
    path = multiprocess_dir()
    if path:
        multiprocess.mark_process_dead(os.getpid(), path)


async def exposition(now) -> tuple[bytes, str]:
    """The text Prometheus scrapes: this process's metrics (or every worker's, in
    multiprocess mode) and the database-derived gauges, read now."""
    database = DatabaseCollector(now)
    try:
        await database.refresh()
    except Exception as error:  # noqa: BLE001 - a scrape must still answer with the rest
        logger.warning("metrics: database gauges unavailable: %s", error)
    sample_pool()
    path = multiprocess_dir()
    if path:
        prune_dead_workers(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        from prometheus_client import REGISTRY

        registry = CollectorRegistry()
        registry.register(_Everything(REGISTRY))
    registry.register(database)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Everything(Collector):
    """The default registry's metrics, wrapped so they can sit beside a per-scrape collector."""

    def __init__(self, registry) -> None:
        self.registry = registry

    def collect(self):
        return self.registry.collect()
