"""Group sessions, registrations and guests: persistence shape and small invariants only."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from app.group_sessions import rooms, rules


class SessionStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class InvitationStatus(str, Enum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


class GroupSession(Model):
    id = fields.IntField(primary_key=True)
    program: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Program", related_name="group_sessions", on_delete=fields.CASCADE
    )
    host: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="hosted_sessions", on_delete=fields.RESTRICT
    )
    title = fields.CharField(max_length=200)
    objective = fields.TextField()
    starts_at = fields.DatetimeField()
    # Stored (not derived) so "has not ended" lists can use an index.
    ends_at = fields.DatetimeField()
    duration_minutes = fields.IntField()
    min_participants = fields.IntField(default=1)
    max_participants = fields.IntField(default=40)
    # Registrations, the host included. Kept in step with the registration rows by the
    # services: a join takes a seat with a conditional UPDATE, which is what makes capacity
    # race-free on every database.
    participant_count = fields.IntField(default=0)
    status = fields.CharEnumField(SessionStatus, max_length=16, default=SessionStatus.SCHEDULED)
    cancellation_reason = fields.TextField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    # iCalendar SEQUENCE: bumped when the time changes or the session is cancelled.
    sequence = fields.IntField(default=0)
    # The room: the host's own link (https), or else MEETING_BASE_URL/<room_name>. The name
    # is random (192 bits), made once at creation, so the room stays the same all along.
    meeting_url = fields.CharField(max_length=2000, null=True)
    join_instructions = fields.TextField(null=True)
    room_name = fields.CharField(max_length=64, default=rooms.new_room_name, db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    program_id: int
    host_id: int

    class Meta:
        table = "group_session"
        indexes = (
            ("host_id", "starts_at"),
            ("program_id", "starts_at"),
            # A program's sessions that have (not) ended, counted for totalCount without
            # reading the table (a program may hold a large share of all sessions).
            ("program_id", "status", "ends_at"),
            ("ends_at",),
        )

    @property
    def spots_left(self) -> int:
        return rules.spots_left(self.participant_count, self.max_participants)


class Registration(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[GroupSession] = fields.ForeignKeyField(
        "models.GroupSession", related_name="registrations", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="registrations", on_delete=fields.RESTRICT
    )
    is_host = fields.BooleanField(default=False)
    registered_at = fields.DatetimeField(auto_now_add=True)

    session_id: int
    user_id: int

    class Meta:
        table = "registration"
        # One registration per person and session; also the backstop for double joins.
        unique_together = (("session", "user"),)
        indexes = (("user_id", "session_id"),)


# A member the host invited (the current guest list), with their answer. Invitation is
# informational: anyone in the program may join. The answer follows the guest's
# registration: ACCEPTED exactly while they are registered (accepting or joining registers,
# declining or leaving withdraws), DECLINED once they declined or left, PENDING until then.
# It lives on this row, not on InvitationSent: taking a guest off the list drops their
# answer with the invitation, and putting them back asks again (ACCEPTED at once if they
# are registered meanwhile).
class Guest(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[GroupSession] = fields.ForeignKeyField(
        "models.GroupSession", related_name="guests", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="invitations", on_delete=fields.RESTRICT
    )
    invited_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharEnumField(
        InvitationStatus, max_length=16, default=InvitationStatus.PENDING, db_default=InvitationStatus.PENDING.value
    )
    # When the guest last answered (accepted, declined, joined or left); null while pending.
    responded_at = fields.DatetimeField(null=True)

    session_id: int
    user_id: int

    class Meta:
        table = "guest"
        unique_together = (("session", "user"),)
        # The viewer's invitations (Dashboard, role INVITED).
        indexes = (("user_id", "session_id"),)


# Everyone a session's guest list ever invited, kept when the host takes them off the list:
# a guest is invited once, however often the list is edited (no mailbox flooding by edits).
# (Named for the email it records; the table keeps its first name.)
class InvitationSent(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[GroupSession] = fields.ForeignKeyField(
        "models.GroupSession", related_name="guest_invitations", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="guest_invitations", on_delete=fields.CASCADE
    )
    invited_at = fields.DatetimeField(auto_now_add=True)

    session_id: int
    user_id: int

    class Meta:
        table = "guest_invitation"
        unique_together = (("session", "user"),)
