"""The API's enums: the domain's own Enum classes, exposed to GraphQL one way.

`api_enum` registers a domain Enum with Strawberry under its GraphQL name, with the
descriptions the schema shows; resolvers return domain members as they are and arguments
arrive as domain members, so nothing is converted and no enum is copied by hand. Only
`RegistrationEventKind` has no domain counterpart (it names what a live event reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry

from app.accounts.models import ProgramRole
from app.errors import ErrorCode
from app.group_sessions.models import InvitationStatus, RegistrationStatus, SessionStatus
from app.group_sessions.read_model import SessionRole, Timeframe
from app.group_sessions.rules import SessionPhase

E = TypeVar("E", bound=type[Enum])


def api_enum(domain: E, *, name: str, description: str, values: Mapping[str, str] | None = None) -> E:
    """`domain` itself, registered as the GraphQL enum `name`; `values` describes members
    by name (a member left out has no description). Call once per Enum class."""
    values = dict(values or {})
    unknown = set(values) - set(domain.__members__)
    if unknown:
        raise ValueError(f"{domain.__name__} has no member {', '.join(sorted(unknown))}")
    strawberry.enum(domain, name=name, description=description)
    for value in domain.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values.get(value.name)
    return domain


class RegistrationEventKind(str, Enum):
    JOINED = "JOINED"
    LEFT = "LEFT"
    MINIMUM_REACHED = "MINIMUM_REACHED"
    PROMOTED = "PROMOTED"
    WAITLISTED = "WAITLISTED"


# Every value is described: a client can tell its users what each one means.
USER_ERROR_CODES = {
    "INVALID": "The value is not acceptable as given (a malformed date, an unknown time zone, two lines in a title).",
    "REQUIRED": "The field must be given and not empty.",
    "TOO_LONG": "The text is longer than the field allows; the message states the limit.",
    "OUT_OF_RANGE": "The number or date is outside the allowed range; the message states it.",
    "IN_THE_PAST": "The start time is not in the future.",
    "MIN_ABOVE_MAX": "The minimum number of participants is above the maximum.",
    "BELOW_PARTICIPANT_COUNT": "The maximum is below the number of people already registered.",
    "NOT_FOUND": "Nothing with this ID exists, or the viewer may not see it.",
    "FORBIDDEN": "The viewer may see this but not do this (only the host may edit, only mentors may host).",
    "NOT_A_MEMBER": "The person is not a member of the session's program.",
    "SESSION_FULL": "Every seat of the session is taken.",
    "SESSION_CANCELLED": "The session was cancelled.",
    "SESSION_STARTED": "The session has started (or ended), so this can no longer be done.",
    "ALREADY_REGISTERED": "The viewer is registered for the session already.",
    "NOT_REGISTERED": "The viewer is not registered for the session.",
    "HOST_CANNOT_LEAVE": "The host cannot leave their own session; they may cancel it.",
    "INVALID_CREDENTIALS": "The email or the password is wrong.",
    "RATE_LIMITED": "Too many attempts; the message says when to try again.",
    "NONEXISTENT_LOCAL_TIME": "The local time does not exist in the time zone: the clocks skip it (spring forward).",
    "AMBIGUOUS_LOCAL_TIME": "The local time happens twice in the time zone (the clocks go back): "
    "send startsAt, an instant with its offset, to say which.",
    "NOT_INVITED": "The viewer is not on the session's guest list, so there is no invitation to answer.",
    "IDEMPOTENCY_KEY_REUSED": "The idempotencyKey was already used by this viewer with other input.",
}

UserErrorCode = api_enum(
    ErrorCode, name="UserErrorCode", description="Why a command was refused.", values=USER_ERROR_CODES
)

ProgramRole = api_enum(
    ProgramRole,
    name="ProgramRole",
    description="A member's role in a program. Mentors and admins may host group sessions.",
)

GroupSessionStatus = api_enum(
    SessionStatus,
    name="GroupSessionStatus",
    description="Whether a session will take place.",
    values={"SCHEDULED": "Will take place (or took place).", "CANCELLED": "Cancelled by the host."},
)

SessionPhase = api_enum(
    SessionPhase,
    name="SessionPhase",
    description="Where a session stands now, by the server's clock.",
    values={
        "UPCOMING": "Scheduled and not started yet.",
        "LIVE": "Under way: started and not ended.",
        "ENDED": "Took place: its end has passed.",
        "CANCELLED": "Cancelled by the host (before or after its time).",
    },
)

Timeframe = api_enum(
    Timeframe,
    name="Timeframe",
    description="Which part of the calendar a list covers.",
    values={
        "FUTURE": "Sessions that have not ended yet, soonest first.",
        "PAST": "Sessions that have ended, most recent first.",
    },
)

SessionRole = api_enum(
    SessionRole,
    name="SessionRole",
    description="The viewer's part in a session.",
    values={
        "HOST": "Sessions the viewer hosts.",
        "PARTICIPANT": "Sessions the viewer attends but does not host.",
        "INVITED": "Sessions the viewer is invited to and has not declined (pending or accepted).",
    },
)

InvitationStatus = api_enum(
    InvitationStatus,
    name="InvitationStatus",
    description="A guest's answer to an invitation.",
    values={
        "PENDING": "Not answered yet.",
        "ACCEPTED": "Accepted: the guest is registered (accepting or joining registers).",
        "DECLINED": "Declined, or left after registering.",
    },
)

RegistrationEventKind = api_enum(
    RegistrationEventKind,
    name="RegistrationEventKind",
    description="What happened to a registration.",
    values={
        "JOINED": "Someone registered.",
        "LEFT": "Someone withdrew, or left the waitlist (the registration's status says which).",
        "MINIMUM_REACHED": "This registration brought the session to its minimum, right after its JOINED. Once: "
        "leaving and joining again does not repeat it (a minimum the host raises above the count is told again "
        "when reached).",
        "PROMOTED": "A seat freed and the first on the waitlist got it: they are registered now.",
        "WAITLISTED": "Someone joined the waitlist of the full session.",
    },
)

RegistrationStatus = api_enum(
    RegistrationStatus,
    name="RegistrationStatus",
    description="Whether a registration holds a seat or waits for one.",
    values={
        "CONFIRMED": "Registered: holds a seat (counted in participantCount).",
        "WAITLISTED": "On the waitlist of a full session: gets the first seat that frees, in order of joining.",
    },
)
