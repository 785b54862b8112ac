"""Tortoise configuration shared by the app, the command line, migrations and tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from app.read_pool import PostgresClient
from app.settings import Settings, is_postgres_url

MODEL_MODULES = [
    "app.accounts.models",
    "app.group_sessions.models",
    "app.notifications.models",
    "app.jobs.models",
]


async def _reset_pooled_connection(connection: Any) -> None:
    """What a PostgreSQL connection needs before it serves the next request.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` on every release: a round trip per request, for session state this app
    never leaves on a pooled connection (no advisory locks, cursors, LISTEN or SET). Only
    a transaction left open (a cancelled request) must not leak into the next one.
    """
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


# The read pool's defaults (READ_POOL_SIZE; its wait: REQUEST_TIMEOUT_SECONDS), for the
# callers that have no settings at hand (the command line, migrations, tests).
DEFAULT_READ_POOL_SIZE = 5
DEFAULT_READ_POOL_WAIT_SECONDS = 15.0


def tortoise_config(
    database_url: str,
    *,
    read_pool_size: int = DEFAULT_READ_POOL_SIZE,
    read_pool_wait_seconds: float = DEFAULT_READ_POOL_WAIT_SECONDS,
) -> dict[str, Any]:
    """The Tortoise config dict for `database_url` (one app, label "models", migrations in `migrations/`).

    PostgreSQL URLs may carry pool options as query parameters (`?minsize=1&maxsize=10`,
    Tortoise's names); the pool skips asyncpg's per-release reset query (see above). On
    PostgreSQL the client is `app.read_pool.PostgresClient`: Tortoise's, plus a pool of at
    most `read_pool_size` connections for `fetch_rows` (0: none), whose callers wait for a
    free connection at most `read_pool_wait_seconds`.
    """
    url: Any = database_url
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "busy_timeout" not in url:
            # Several processes (serve + worker) may share the file: wait for locks instead of failing.
            url += ("&" if "?" in url else "?") + "busy_timeout=10000"
    elif is_postgres_url(url):
        url = expand_db_url(url)
        url["engine"] = "app.read_pool"
        url["credentials"].setdefault("reset", _reset_pooled_connection)
        url["credentials"]["read_pool_size"] = read_pool_size
        url["credentials"]["read_pool_wait_seconds"] = read_pool_wait_seconds
    return {
        "connections": {"default": url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def database_config(settings: Settings) -> dict[str, Any]:
    """`tortoise_config` for a process configured by `settings` (DATABASE_URL, READ_POOL_SIZE;
    a read waits for a connection of the read pool at most REQUEST_TIMEOUT_SECONDS)."""
    return tortoise_config(
        settings.database_url,
        read_pool_size=settings.read_pool_size,
        read_pool_wait_seconds=float(settings.request_timeout_seconds),
    )


def sql_parameter(connection: BaseDBAsyncClient, index: int) -> str:
    """The placeholder for the `index`-th (from 1) parameter of a raw SQL statement run on
    `connection`: `$1` for asyncpg (PostgreSQL), `?` for SQLite. A statement's syntax
    follows the connection it runs on, which the reads that need it are handed."""
    return f"${index}" if connection.capabilities.dialect == "postgres" else "?"


async def fetch_rows(connection: BaseDBAsyncClient, sql: str, values: Sequence[Any] = ()) -> Sequence[Any]:
    """The rows of the read-only statement `sql` (a SELECT) with `values` bound, run on
    `connection` (a model's `_meta.db`: Tortoise's client, or the transaction's inside
    `in_transaction()`): the same rows as `connection.execute_query(sql, values)[1]`
    (asyncpg Records, SQLite rows), logged as one statement to `tortoise.db_client` and
    raising the same exceptions.

    On PostgreSQL, outside a transaction, the statement runs on a connection of the read
    pool (`app.read_pool`), past Tortoise's per-call wrappers and asyncpg's pool (a
    sampling profile of the public session page put them at ~4% and ~5% of the request's
    CPU, asyncpg's own fetch at 7%). A transaction's client (another class, bound to the
    transaction's connection), SQLite, a client not connected yet and one without a read
    pool (READ_POOL_SIZE=0) go through `execute_query`.
    """
    reads = connection.reads if type(connection) is PostgresClient else None
    if reads is None:
        _, rows = await connection.execute_query(sql, list(values))
        return rows
    try:
        # Logs the statement as Tortoise does (the statement counts of the tests and the
        # log's SQL lines read it).
        return await reads.fetch(sql, values, connection.log)
    # Tortoise's translation of asyncpg's errors (AsyncpgDBClient._translate_exceptions);
    # anything else (a connection refused or lost) passes through as it does there.
    except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as error:
        raise OperationalError(error) from error
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(error) from error
    except asyncpg.InvalidTransactionStateError as error:
        raise TransactionManagementError(error) from error


# For the `tortoise` command line (makemigrations): `tortoise -c app.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config("sqlite://data/app.sqlite3")


async def migrate_database(database_url: str) -> None:
    """Apply every committed migration to the database at `database_url` (idempotent)."""
    from tortoise.migrations.api.migrate import migrate

    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


def migration_names() -> list[str]:
    """The migrations committed in `migrations/`, in order (`0001_initial`, ...)."""
    import pkgutil

    import migrations

    return sorted(module.name for module in pkgutil.iter_modules(migrations.__path__) if module.name[:4].isdigit())


async def pending_migrations(connection: BaseDBAsyncClient) -> list[str]:
    """The committed migrations that the database at `connection` has not applied, as
    recorded by Tortoise's migrator (table `tortoise_migrations`, app "models"). All of
    them on a database never migrated. Raises when the database does not answer."""
    await connection.execute_query("SELECT 1")  # an unreachable database raises here, not below
    try:
        rows = await connection.execute_query_dict(
            "SELECT name FROM tortoise_migrations WHERE app = " + sql_parameter(connection, 1), ["models"]
        )
    except Exception:  # noqa: BLE001 - no such table: nothing was ever migrated
        rows = []
    applied = {row["name"] for row in rows}
    return [name for name in migration_names() if name not in applied]
