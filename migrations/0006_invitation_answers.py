# Guests answer their invitations: each guest row (the current guest list) gets the answer
# and when it was given. The model that remembers everyone ever invited is renamed
# InvitationSent (its table keeps the name guest_invitation), so the GraphQL type
# GuestInvitation names the answer, not the record of the email.
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from app.group_sessions.models import InvitationStatus


# The rename touches the migration state only: the table keeps its name. (Tortoise's
# RenameModel fails to rebuild the state here: it keeps the old model's backward relations
# on GroupSession and User, which the renamed model then duplicates.)
class _DeleteModelState(ops.DeleteModel):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class _CreateModelState(ops.CreateModel):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_coalescing_guest_invitations')]

    initial = False

    operations = [
        _DeleteModelState(name='GuestInvitation'),
        _CreateModelState(
            name='InvitationSent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('models.GroupSession', source_field='session_id', db_constraint=True, to_field='id', related_name='guest_invitations', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='guest_invitations', on_delete=OnDelete.CASCADE)),
                ('invited_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'guest_invitation', 'app': 'models', 'unique_together': (('session', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Guest',
            name='responded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Guest',
            name='status',
            field=fields.CharEnumField(
                default=InvitationStatus.PENDING,
                db_default=InvitationStatus.PENDING.value,
                description='PENDING: PENDING\nACCEPTED: ACCEPTED\nDECLINED: DECLINED',
                enum_type=InvitationStatus,
                max_length=16,
            ),
        ),
        # Guests registered already have accepted, as of their registration.
        ops.RunSQL(
            "UPDATE guest SET status = 'ACCEPTED', responded_at = (SELECT r.registered_at FROM registration r "
            "WHERE r.session_id = guest.session_id AND r.user_id = guest.user_id) "
            "WHERE EXISTS (SELECT 1 FROM registration r WHERE r.session_id = guest.session_id "
            "AND r.user_id = guest.user_id)",
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.AddIndex(
            model_name='Guest',
            index=Index(fields=['user_id', 'session_id']),
        ),
    ]
