"""Group sessions, registrations and guests: persistence shape and small invariants only."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from app.group_sessions import rules


class SessionStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class RegistrationStatus(str, Enum):
    # Holds a seat: counted in participant_count.
    CONFIRMED = "CONFIRMED"
    # In line for a seat of a full session: counted in waitlist_count, promoted to
    # CONFIRMED in order of (waitlisted_at, id) as seats free up.
    WAITLISTED = "WAITLISTED"


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
    # WAITLISTED registrations, kept in step the same way: every waitlist change writes
    # this row first, so commands on one session queue on it (first come, first served).
    waitlist_count = fields.IntField(default=0, db_default=0)
    status = fields.CharEnumField(SessionStatus, max_length=16, default=SessionStatus.SCHEDULED)
    cancellation_reason = fields.TextField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    # iCalendar SEQUENCE: bumped when the time changes or the session is cancelled.
    sequence = fields.IntField(default=0)
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
    status = fields.CharEnumField(
        RegistrationStatus, max_length=16, default=RegistrationStatus.CONFIRMED, db_default="CONFIRMED"
    )
    # When the member joined the waitlist (kept after a promotion); with the id, the order
    # of the line.
    waitlisted_at = fields.DatetimeField(null=True)

    session_id: int
    user_id: int

    class Meta:
        table = "registration"
        # One registration per person and session; also the backstop for double joins.
        unique_together = (("session", "user"),)
        indexes = (("user_id", "session_id"), ("session_id", "status", "waitlisted_at", "id"))


# A member the host invited. Invitation is informational: anyone in the program may join.
class Guest(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[GroupSession] = fields.ForeignKeyField(
        "models.GroupSession", related_name="guests", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="invitations", on_delete=fields.RESTRICT
    )
    invited_at = fields.DatetimeField(auto_now_add=True)

    session_id: int
    user_id: int

    class Meta:
        table = "guest"
        unique_together = (("session", "user"),)


# Everyone a session's guest list ever invited, kept when the host takes them off the list:
# a guest is invited once, however often the list is edited (no mailbox flooding by edits).
class GuestInvitation(Model):
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
