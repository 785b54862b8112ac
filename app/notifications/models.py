"""The email outbox: one row per email, written in the transaction of the change that causes it."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(str, Enum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    # Never sent: the message parsed back did not say what was built (see message_check).
    REFUSED = "REFUSED"


class OutboxEmail(Model):
    id = fields.BigIntField(primary_key=True)
    # Stable Message-ID, so a receiver can drop the duplicate of a crash between send and mark.
    message_id = fields.CharField(max_length=255, unique=True)
    kind = fields.CharField(max_length=64)
    recipient = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=500)
    # The complete RFC 5322 message, rendered when the change committed and sent verbatim.
    message = fields.TextField()
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # Coalescing of the host's notices about one member of one session (see
    # Outbox.registration_added): rows with the same key, the latest of which says until
    # when later notices are folded into one summary instead of each being sent.
    coalesce_key = fields.CharField(max_length=100, null=True)
    coalesce_until = fields.DatetimeField(null=True)
    # How many notices this row stands for (a summary of several changes has more than 1).
    coalesced = fields.IntField(default=1, db_default=1)

    class Meta:
        table = "outbox_email"
        indexes = (("status", "next_attempt_at"), ("coalesce_key", "id"))
