# The access-change log the revocation watch reads (app.accounts.access_changes), and the
# index on access_token.revoked_at its token query ranges over.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_rooms_calendar_feeds_reminders')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccessChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='access_changes', on_delete=OnDelete.CASCADE)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'access_change', 'app': 'models', 'indexes': [Index(fields=['changed_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='AccessToken',
            index=Index(fields=['revoked_at']),
        ),
    ]
