from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
import secrets


async def _name_rooms(apps, schema_editor) -> None:
    # Sessions created before rooms existed get their random room name here (in Python:
    # neither database has a portable cryptographic random function in SQL).
    client = schema_editor.client
    parameter = "$1" if client.capabilities.dialect == "postgres" else "?"
    other = "$2" if client.capabilities.dialect == "postgres" else "?"
    _, rows = await client.execute_query("SELECT id FROM group_session WHERE room_name = ''")
    for row in rows:
        await client.execute_query(
            f"UPDATE group_session SET room_name = {parameter} WHERE id = {other}",
            [secrets.token_urlsafe(24), row["id"]],
        )


async def _nothing(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0006_invitation_answers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarFeed',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='calendar_feed', on_delete=OnDelete.CASCADE)),
                ('nonce', fields.CharField(max_length=64)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'calendar_feed', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='GroupSession',
            name='join_instructions',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='GroupSession',
            name='meeting_url',
            field=fields.CharField(null=True, max_length=2000),
        ),
        ops.AddField(
            model_name='GroupSession',
            name='room_name',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='User',
            name='email_reminders',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.RunPython(_name_rooms, _nothing),
    ]
