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
    # The name folded for ordering (app.accounts.name_search.sort_key): member lists are
    # ordered by it, then id. On PostgreSQL in the "C" collation (migration 0005).
    sort_name = fields.CharField(max_length=400, default="", db_default="")

    class Meta:
        table = "user"
        indexes = (("sort_name", "id"),)


# One word of a user's name, folded (app.accounts.name_search): a member search looks each
# of its words up as a prefix range over the (word, user_id) index. On PostgreSQL `word`
# is in the "C" collation (migration 0005), so a range scan matches a prefix byte for byte.
class UserNameWord(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="name_words", on_delete=fields.CASCADE
    )
    word = fields.CharField(max_length=100)

    user_id: int

    class Meta:
        table = "user_name_word"
        unique_together = (("user", "word"),)
        indexes = (("word", "user_id"),)


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
        # (program_id, role, user_id): a program's members of one role, counted from the index.
        indexes = (("user_id", "program_id"), ("program_id", "role", "user_id"))


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
        # The revocation watch (app.live.revocation_watch) asks for tokens revoked since a
        # moment: a range over this index, not a scan of every token ever issued.
        indexes = (("revoked_at",),)


# A change to what a user may do that leaves no trace in the token table (a membership
# removed), written in the same transaction as the change. Append-only: serving processes
# read the recent rows to tell that user's open WebSockets to check their access again
# (app.live.revocation_watch), without Redis as well. Rows older than a day are pruned
# when new ones are written (app.accounts.access_changes).
class AccessChange(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="access_changes", on_delete=fields.CASCADE
    )
    changed_at = fields.DatetimeField()

    user_id: int

    class Meta:
        table = "access_change"
        indexes = (("changed_at",),)


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
