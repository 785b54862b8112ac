"""What clients send to change group sessions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.api.scalars import LocalDateTimeValue


@strawberry.input(description="A new group session.")
class CreateGroupSessionInput:
    program_id: strawberry.ID = strawberry.field(description="The program the session belongs to.")
    title: str = strawberry.field(description="1 to 200 characters, one line.")
    objective: str = strawberry.field(description="Describe the objective of your masterclass.")
    guest_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Invited members of the same program; anyone in the program may still join."
    )
    min_participants: int | None = strawberry.field(default=None, description="Defaults to 1 when left out or null.")
    max_participants: int | None = strawberry.field(
        default=None, description="Defaults to 40 when left out or null; the host counts as one."
    )
    starts_at: datetime | None = strawberry.field(
        default=None,
        description="The start as an instant with its UTC offset; in the future. Give this or startsAtLocal, not both.",
    )
    starts_at_local: LocalDateTimeValue | None = strawberry.field(
        default=None,
        description="The start as the host typed it (2027-03-29T17:00), read in timeZone. Give this or startsAt, "
        "not both. A time the clocks skip is refused (NONEXISTENT_LOCAL_TIME), one they pass twice too "
        "(AMBIGUOUS_LOCAL_TIME: send startsAt to say which).",
    )
    time_zone: str | None = strawberry.field(
        default=None,
        description="The session's IANA time zone (Europe/Paris); defaults to the host's own (User.timeZone).",
    )
    duration_minutes: int = strawberry.field(description="5 to 1,440 minutes.")
    meeting_url: str | None = strawberry.field(
        default=None,
        description="The host's own video meeting link (https, up to 2,000 characters); "
        "without one the session gets a generated room.",
    )
    join_instructions: str | None = strawberry.field(
        default=None, description="Plain text shown with the room (up to 2,000 characters), e.g. a passcode."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Makes retries safe: a key the client generates per form submission (a UUID; 1 to 255 "
        "printable ASCII characters without spaces). Sent again by the same viewer within IDEMPOTENCY_KEY_TTL "
        "(24 hours by default) with the same input, it returns the session the first request created, as it "
        "is now, and creates nothing; with other input it is refused with IDEMPOTENCY_KEY_REUSED.",
    )
    cancel_if_minimum_not_reached: bool | None = strawberry.field(
        default=True,
        description="When the session is still short of minParticipants at minimumDeadline: true (the default, "
        "also for null) cancels it and tells everyone registered; false keeps it and only tells the host.",
    )


@strawberry.input(description="Changes to a group session.")
class UpdateGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to edit.")
    title: str | None = strawberry.field(default=None, description="Fields left out stay as they are.")
    objective: str | None = strawberry.field(default=None, description="New objective.")
    guest_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The new guest list (replaces the old one); newly invited guests are told."
    )
    min_participants: int | None = strawberry.field(default=None, description="New minimum.")
    max_participants: int | None = strawberry.field(
        default=None, description="New maximum; not below the current participant count."
    )
    starts_at: datetime | None = strawberry.field(
        default=None, description="New start as an instant with its UTC offset; participants are told."
    )
    starts_at_local: LocalDateTimeValue | None = strawberry.field(
        default=None,
        description="New start as the host typed it, read in timeZone (the new one when given, else the "
        "session's). Give at most one of startsAt and startsAtLocal.",
    )
    time_zone: str | None = strawberry.field(
        default=None,
        description="New IANA time zone of the session. Given without a new start, the start stays the same "
        "instant (its wall-clock time in the new zone may differ).",
    )
    duration_minutes: int | None = strawberry.field(default=None, description="New duration; participants are told.")
    meeting_url: str | None = strawberry.field(
        default=None, description="A new meeting link (https); an empty string goes back to the generated room."
    )
    join_instructions: str | None = strawberry.field(
        default=None, description="New instructions for entering; an empty string removes them."
    )
    cancel_if_minimum_not_reached: bool | None = strawberry.field(
        default=None, description="Whether an unmet minimum cancels the session at minimumDeadline (see create)."
    )


@strawberry.input(description="The session to cancel.")
class CancelGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to cancel.")
    reason: str | None = strawberry.field(default=None, description="Told to everyone registered; optional.")


@strawberry.input(description="The session to join.")
class JoinGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to join.")
    waitlist: bool | None = strawberry.field(
        default=False,
        description="When the session is full: true puts the viewer on its waitlist (the registration is "
        "WAITLISTED, and the first seat that frees is theirs, in order of joining); false or left out refuses "
        "with SESSION_FULL.",
    )


@strawberry.input(description="The session to leave.")
class LeaveGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to leave (or whose waitlist to leave).")


@strawberry.input(description="The viewer's answer to an invitation.")
class RespondToInvitationInput:
    group_session_id: strawberry.ID = strawberry.field(description="The session the viewer is invited to.")
    accept: bool = strawberry.field(
        description="True registers the viewer, as a join does; false declines (and withdraws a registration, "
        "as a leave does)."
    )
