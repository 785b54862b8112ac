"""Migration 0006 on a database with guests already: those registered have accepted, the
others are pending; the table of everyone ever invited keeps its rows. Runs on the pass's
database (SQLite, or PostgreSQL with TEST_PASS=postgres)."""

from __future__ import annotations


from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.migrate import migrate

from app.db import tortoise_config
from tests.api.conftest import rows



async def test_registered_guests_have_accepted_the_others_are_pending(empty_database):
    config = tortoise_config(empty_database)
    EXECUTOR_CACHE.clear()
    try:
        await migrate(config=config, target="models.0004_outbox_coalescing_guest_invitations")
        db = connections.get("default")
        now = "2030-01-01 10:00:00+00:00"
        for sql in [
            f"INSERT INTO program (id, name, created_at) VALUES (1, 'P', '{now}')",
            *(
                f"INSERT INTO \"user\" (id, email, name, password_hash, time_zone, created_at) "
                f"VALUES ({i}, 'u{i}@example.org', 'U{i}', NULL, 'UTC', '{now}')"
                for i in (1, 2, 3)
            ),
            "INSERT INTO group_session (id, program_id, host_id, title, objective, starts_at, ends_at, "
            "duration_minutes, min_participants, max_participants, participant_count, status, sequence, "
            f"created_at, updated_at) VALUES (1, 1, 1, 'T', 'O', '{now}', '{now}', 60, 1, 10, 2, 'SCHEDULED', 0, "
            f"'{now}', '{now}')",
            f"INSERT INTO registration (session_id, user_id, is_host, registered_at) VALUES (1, 1, TRUE, '{now}')",
            "INSERT INTO registration (session_id, user_id, is_host, registered_at) "
            "VALUES (1, 2, FALSE, '2030-01-01 11:00:00+00:00')",
            f"INSERT INTO guest (session_id, user_id, invited_at) VALUES (1, 2, '{now}'), (1, 3, '{now}')",
            f"INSERT INTO guest_invitation (session_id, user_id, invited_at) VALUES (1, 2, '{now}'), (1, 3, '{now}')",
        ]:
            await db.execute_script(sql)
        await Tortoise.close_connections()

        await migrate(config=config)

        answers = await rows("SELECT user_id, status, responded_at FROM guest ORDER BY user_id")
        assert [(user, status) for user, status, _ in answers] == [(2, "ACCEPTED"), (3, "PENDING")]
        assert answers[0][2] is not None and answers[1][2] is None
        assert await rows("SELECT user_id FROM guest_invitation ORDER BY user_id") == [(2,), (3,)]
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()
