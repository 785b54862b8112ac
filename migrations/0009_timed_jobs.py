from tortoise import migrations
from tortoise.migrations import operations as ops
from app.jobs.models import JobStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_idempotency_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TimedJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=64)),
                ('session', fields.ForeignKeyField('models.GroupSession', source_field='session_id', null=True, db_constraint=True, to_field='id', related_name='timed_jobs', on_delete=OnDelete.CASCADE)),
                ('run_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('fingerprint', fields.CharField(default='', max_length=200)),
                ('status', fields.CharEnumField(default=JobStatus.PENDING, description='PENDING: PENDING\nRUNNING: RUNNING\nDONE: DONE\nSKIPPED: SKIPPED\nFAILED: FAILED', enum_type=JobStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('outcome', fields.TextField(null=True, unique=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'timed_job', 'app': 'models', 'unique_together': (('kind', 'session'),), 'indexes': [Index(fields=['status', 'run_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='GroupSession',
            name='cancel_if_minimum_not_reached',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name='GroupSession',
            name='minimum_deadline',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='GroupSession',
            name='minimum_reached_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Sessions created before the minimum decided were never offered the choice: they are
        # kept (and have no deadline, so no decision). Those that reached their minimum
        # already do not announce it again.
        ops.RunSQL(
            "UPDATE group_session SET cancel_if_minimum_not_reached = false",
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.RunSQL(
            "UPDATE group_session SET minimum_reached_at = created_at WHERE participant_count >= min_participants",
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
