"""The Tortoise configuration for a PostgreSQL URL (no database needed: only the config is read)."""

from __future__ import annotations

from app.db import tortoise_config


def test_postgres_urls_get_the_light_reset_and_keep_pool_options():
    config = tortoise_config("postgres://postgres@127.0.0.1:5432/app?maxsize=12")
    credentials = config["connections"]["default"]["credentials"]
    assert credentials["maxsize"] == "12" and callable(credentials["reset"])
    assert config["connections"]["default"]["engine"] == "tortoise.backends.asyncpg"
