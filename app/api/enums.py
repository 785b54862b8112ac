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
from app.group_sessions.models import InvitationStatus, SessionStatus
from app.group_sessions.read_model import SessionRole, Timeframe

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


UserErrorCode = api_enum(ErrorCode, name="UserErrorCode", description="Why a command was refused.")

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
    values={"JOINED": "Someone registered.", "LEFT": "Someone withdrew."},
)
