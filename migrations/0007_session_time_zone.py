from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_invitation_answers')]

    initial = False

    operations = [
        ops.AddField(
            model_name='GroupSession',
            name='time_zone',
            field=fields.CharField(default='UTC', db_default='UTC', max_length=64),
        ),
        # A session made before sessions had a zone was made in its host's.
        ops.RunSQL(
            'UPDATE group_session SET time_zone = '
            '(SELECT u.time_zone FROM "user" u WHERE u.id = group_session.host_id)',
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
