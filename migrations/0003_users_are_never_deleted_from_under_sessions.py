# Deleting a user must never take other people's registrations or sessions with it: the
# foreign keys from group_session.host, registration.user and guest.user become RESTRICT
# (they were CASCADE). The models say so; the database is changed by hand below, because
# Tortoise's AlterField does not do it safely: on PostgreSQL it leaves the constraint as
# it was, and on SQLite it rebuilds the tables without their indexes and UNIQUE
# constraints (the one that refuses a double registration among them).
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

_RESTRICTED = (("group_session", "host_id"), ("guest", "user_id"), ("registration", "user_id"))
_SQLITE_TRIGGER = "user_delete_restricted"


class _AlterFieldState(ops.AlterField):
    # The new field in the migration state only; the database is changed by _restrict.

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


async def _restrict(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await _set_on_delete(client, "RESTRICT")
    elif client.capabilities.dialect == "sqlite":
        # SQLite cannot alter a foreign key without rebuilding its table; a trigger that
        # runs before the delete (and so before any cascade) refuses it instead.
        uses = " OR ".join(
            f'EXISTS (SELECT 1 FROM "{table}" WHERE "{column}" = OLD."id")' for table, column in _RESTRICTED
        )
        await client.execute_script(
            f'CREATE TRIGGER IF NOT EXISTS "{_SQLITE_TRIGGER}" BEFORE DELETE ON "user" WHEN {uses} '
            "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: this user hosts sessions, is registered "
            "for or invited to sessions; such users are never deleted'); END"
        )


async def _cascade(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await _set_on_delete(client, "CASCADE")
    elif client.capabilities.dialect == "sqlite":
        await client.execute_script(f'DROP TRIGGER IF EXISTS "{_SQLITE_TRIGGER}"')


async def _set_on_delete(client, action: str) -> None:
    for table, column in _RESTRICTED:
        constraint = f"{table}_{column}_fkey"
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{constraint}", '
            f'ADD CONSTRAINT "{constraint}" FOREIGN KEY ("{column}") REFERENCES "user" ("id") ON DELETE {action}'
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0002_program_session_counts_index')]

    initial = False

    operations = [
        _AlterFieldState(
            model_name='GroupSession',
            name='host',
            field=fields.ForeignKeyField('models.User', source_field='host_id', db_constraint=True, to_field='id', related_name='hosted_sessions', on_delete=OnDelete.RESTRICT),
        ),
        _AlterFieldState(
            model_name='Guest',
            name='user',
            field=fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.RESTRICT),
        ),
        _AlterFieldState(
            model_name='Registration',
            name='user',
            field=fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.RESTRICT),
        ),
        ops.RunPython(_restrict, _cascade),
    ]
