"""Users, programs, memberships and access tokens: persistence shape only."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class ProgramRole(str, Enum):
    """A member's role in a program. Mentors and admins may host group sessions."""

    MENTOR = "MENTOR"
    MENTEE = "MENTEE"
    ADMIN = "ADMIN"


HOSTING_ROLES = frozenset({ProgramRole.MENTOR, ProgramRole.ADMIN})


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased and trimmed, so sign-in is case-insensitive and unique means unique.
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255, null=True)
    time_zone = fields.CharField(max_length=64, default="UTC")
    # Reminders before sessions (registration and cancellation mail is sent regardless).
    email_reminders = fields.BooleanField(default=True, db_default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class Program(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "program"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="memberships", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(ProgramRole, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    program_id: int
    user_id: int

    class Meta:
        table = "membership"
        unique_together = (("program", "user"),)
        indexes = (("user_id", "program_id"),)


# A bearer token. Only the SHA-256 of the token is stored; the token itself is shown once.
# (A comment, not a docstring: Tortoise turns model docstrings into table comments, which
# its SQLite migration writer emits as invalid SQL.)
class AccessToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "access_token"


# A user's private calendar feed. The link's token is HMAC(CALENDAR_FEED_SECRET, user, nonce):
# the server can show the link again, while the database keeps only the nonce and the
# token's SHA-256 (what a request is looked up by). A new nonce revokes the old link.
class CalendarFeed(Model):
    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="calendar_feed", on_delete=fields.CASCADE
    )
    nonce = fields.CharField(max_length=64)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int

    class Meta:
        table = "calendar_feed"
