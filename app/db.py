"""Tortoise configuration shared by the app, the command line, migrations and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise

MODEL_MODULES = [
    "app.accounts.models",
    "app.group_sessions.models",
    "app.notifications.models",
]


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for `database_url` (one app, label "models", migrations in `migrations/`)."""
    url = database_url
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "busy_timeout" not in url:
            # Several processes (serve + worker) may share the file: wait for locks instead of failing.
            url += ("&" if "?" in url else "?") + "busy_timeout=10000"
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


# For the `tortoise` command line (makemigrations): `tortoise -c app.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config("sqlite://data/app.sqlite3")


async def migrate_database(database_url: str) -> None:
    """Apply every committed migration to the database at `database_url` (idempotent)."""
    from tortoise.migrations.api.migrate import migrate

    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()
