"""The Tortoise configuration for a PostgreSQL URL (no database needed: only the config is read)."""

from __future__ import annotations

from app.db import database_config, tortoise_config
from app.read_pool import PostgresClient
from app.settings import Settings


def test_postgres_urls_get_the_light_reset_and_keep_pool_options():
    config = tortoise_config("postgres://postgres@127.0.0.1:5432/app?maxsize=12")
    credentials = config["connections"]["default"]["credentials"]
    assert credentials["maxsize"] == "12" and callable(credentials["reset"])
    # Tortoise's asyncpg client with the read pool of fetch_rows (app/read_pool.py)
    assert config["connections"]["default"]["engine"] == "app.read_pool"
    assert credentials["read_pool_size"] == 5 and credentials["read_pool_wait_seconds"] == 15


def test_the_read_pool_follows_the_settings():
    settings = Settings(database_url="postgres://postgres@127.0.0.1:5432/app", read_pool_size=3, request_timeout_seconds=7)
    credentials = database_config(settings)["connections"]["default"]["credentials"]
    assert (credentials["read_pool_size"], credentials["read_pool_wait_seconds"]) == (3, 7.0)
    client = PostgresClient(connection_name="default", **credentials)
    # the read pool's options are the client's, not connection options passed on to asyncpg
    assert (client.read_pool_size, client.read_pool_wait_seconds) == (3, 7.0)
    assert "read_pool_size" not in client.extra and "read_pool_wait_seconds" not in client.extra
