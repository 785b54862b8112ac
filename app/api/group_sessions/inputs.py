"""What clients send to change group sessions."""

from __future__ import annotations

from datetime import datetime

import strawberry


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
    starts_at: datetime = strawberry.field(description="The start, with the browser's UTC offset; in the future.")
    duration_minutes: int = strawberry.field(description="5 to 1,440 minutes.")
    meeting_url: str | None = strawberry.field(
        default=None,
        description="The host's own video meeting link (https, up to 2,000 characters); "
        "without one the session gets a generated room.",
    )
    join_instructions: str | None = strawberry.field(
        default=None, description="Plain text shown with the room (up to 2,000 characters), e.g. a passcode."
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
    starts_at: datetime | None = strawberry.field(default=None, description="New start; participants are told.")
    duration_minutes: int | None = strawberry.field(default=None, description="New duration; participants are told.")
    meeting_url: str | None = strawberry.field(
        default=None, description="A new meeting link (https); an empty string goes back to the generated room."
    )
    join_instructions: str | None = strawberry.field(
        default=None, description="New instructions for entering; an empty string removes them."
    )


@strawberry.input(description="The session to cancel.")
class CancelGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to cancel.")
    reason: str | None = strawberry.field(default=None, description="Told to everyone registered; optional.")


@strawberry.input(description="The session to join.")
class JoinGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to join.")


@strawberry.input(description="The session to leave.")
class LeaveGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to leave.")


@strawberry.input(description="The viewer's answer to an invitation.")
class RespondToInvitationInput:
    group_session_id: strawberry.ID = strawberry.field(description="The session the viewer is invited to.")
    accept: bool = strawberry.field(
        description="True registers the viewer, as a join does; false declines (and withdraws a registration, "
        "as a leave does)."
    )
