"""Migration 0005 indexes the names of users who existed before it: their sort keys and
searchable words, so the member search finds them at once."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate

from app.db import migrate_database, tortoise_config
from tests import backends


async def _backfill_on(url: str) -> None:
    config = tortoise_config(url)
    await migrate(config=config, target="models.0004_outbox_coalescing_guest_invitations")
    await Tortoise.init(config=config)
    try:
        db = Tortoise.get_connection("default")
        mark = "$1, $2" if db.capabilities.dialect == "postgres" else "?, ?"
        for email, name in [("ada@example.org", "Ada Lovelace"), ("elo@example.org", "Éloïse  O'Brien")]:
            await db.execute_query(
                f'INSERT INTO "user" (email, name, time_zone, created_at) VALUES ({mark}, \'UTC\', CURRENT_TIMESTAMP)',
                [email, name],
            )
    finally:
        await Tortoise.close_connections()
    await migrate_database(url)
    await Tortoise.init(config=config)
    try:
        db = Tortoise.get_connection("default")
        _, users = await db.execute_query('SELECT id, sort_name FROM "user" ORDER BY id')
        _, words = await db.execute_query('SELECT user_id, word FROM "user_name_word" ORDER BY user_id, word')
        if db.capabilities.dialect == "postgres":
            # Byte-order comparison, so a prefix is an index range whatever the server's locale.
            _, collations = await db.execute_query(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE (table_name, column_name) IN (('user_name_word', 'word'), ('user', 'sort_name')) "
                "ORDER BY table_name"
            )
            assert [tuple(dict(c).values()) for c in collations] == [
                ("user", "sort_name", "C"), ("user_name_word", "word", "C")]
    finally:
        await Tortoise.close_connections()
    users = [dict(u) for u in users]
    assert [u["sort_name"] for u in users] == ["ada lovelace", "eloise o'brien"]
    ada, elo = (u["id"] for u in users)
    assert [(dict(w)["user_id"], dict(w)["word"]) for w in words] == [
        (ada, "ada"), (ada, "lovelace"), (elo, "brien"), (elo, "eloise"), (elo, "o"), (elo, "obrien"),
    ]


async def test_existing_names_are_indexed_by_the_migration(tmp_path):
    if backends.current_pass() == "postgres":
        async with backends.postgres_database(backends.require_postgres(), "migration") as url:
            await _backfill_on(url)
    else:
        await _backfill_on(f"sqlite://{tmp_path / 'old.sqlite3'}")
