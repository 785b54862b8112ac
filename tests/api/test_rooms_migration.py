"""Migration 0011 on a database with sessions and users already: every session gets its own
random room name, every user keeps getting reminders. Runs on the pass's database (SQLite,
or PostgreSQL with TEST_PASS=postgres)."""

from __future__ import annotations


from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.migrate import migrate

from app.db import tortoise_config
from tests.api.conftest import rows



async def test_existing_sessions_get_distinct_random_rooms_and_users_keep_reminders(empty_database):
    config = tortoise_config(empty_database)
    EXECUTOR_CACHE.clear()
    try:
        await migrate(config=config, target="models.0006_invitation_answers")
        db = connections.get("default")
        now = "2030-01-01 10:00:00+00:00"
        for sql in [
            f"INSERT INTO program (id, name, created_at) VALUES (1, 'P', '{now}')",
            "INSERT INTO \"user\" (id, email, name, password_hash, time_zone, created_at) "
            f"VALUES (1, 'u1@example.org', 'U1', NULL, 'UTC', '{now}')",
            *(
                "INSERT INTO group_session (id, program_id, host_id, title, objective, starts_at, ends_at, "
                "duration_minutes, min_participants, max_participants, participant_count, status, sequence, "
                f"created_at, updated_at) VALUES ({i}, 1, 1, 'T', 'O', '{now}', '{now}', 60, 1, 10, 1, 'SCHEDULED', "
                f"0, '{now}', '{now}')"
                for i in (1, 2, 3)
            ),
        ]:
            await db.execute_script(sql)
        await Tortoise.close_connections()

        await migrate(config=config)

        rooms = await rows("SELECT room_name, meeting_url, join_instructions FROM group_session ORDER BY id")
        names = [name for name, _, _ in rooms]
        assert len(set(names)) == 3 and all(len(name) >= 32 for name in names)
        assert all(url is None and instructions is None for _, url, instructions in rooms)
        assert [bool(on) for (on,) in await rows('SELECT email_reminders FROM "user"')] == [True]
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()
