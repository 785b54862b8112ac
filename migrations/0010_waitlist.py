from tortoise import migrations
from tortoise.migrations import operations as ops
from app.group_sessions.models import RegistrationStatus
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_timed_jobs')]

    initial = False

    operations = [
        ops.AddField(
            model_name='GroupSession',
            name='waitlist_count',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Registration',
            name='status',
            field=fields.CharEnumField(default=RegistrationStatus.CONFIRMED, description='CONFIRMED: CONFIRMED\nWAITLISTED: WAITLISTED', db_default='CONFIRMED', enum_type=RegistrationStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Registration',
            name='waitlisted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Registration',
            index=Index(fields=['session_id', 'status', 'waitlisted_at', 'id']),
        ),
    ]
