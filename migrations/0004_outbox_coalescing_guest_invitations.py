from tortoise import migrations
from tortoise.migrations import operations as ops
from app.notifications.models import OutboxStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_users_are_never_deleted_from_under_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GuestInvitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('models.GroupSession', source_field='session_id', db_constraint=True, to_field='id', related_name='guest_invitations', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='guest_invitations', on_delete=OnDelete.CASCADE)),
                ('invited_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'guest_invitation', 'app': 'models', 'unique_together': (('session', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        # Guests on a list before this migration were invited already: remember them too.
        ops.RunSQL(
            "INSERT INTO guest_invitation (session_id, user_id, invited_at) "
            "SELECT session_id, user_id, invited_at FROM guest",
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.AlterField(
            model_name='OutboxEmail',
            name='status',
            field=fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: PENDING\nSENDING: SENDING\nSENT: SENT\nFAILED: FAILED\nREFUSED: REFUSED', enum_type=OutboxStatus, max_length=16),
        ),
        ops.AddField(
            model_name='OutboxEmail',
            name='coalesce_key',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='OutboxEmail',
            name='coalesce_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='OutboxEmail',
            name='coalesced',
            field=fields.IntField(default=1, db_default=1),
        ),
        ops.AddIndex(
            model_name='OutboxEmail',
            index=Index(fields=['coalesce_key', 'id']),
        ),
    ]
