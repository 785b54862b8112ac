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

    class Meta:
        table = "outbox_email"
        indexes = (("status", "next_attempt_at"),)
