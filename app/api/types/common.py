"""Types shared by every part of the schema: Node, PageInfo, enums, UserError."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.errors import DomainError, ErrorCode


@strawberry.interface(
    description="Relay object identification: every object with an ID can be re-fetched through Query.node."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque ID.")


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows (pass endCursor as after).")
    has_previous_page: bool = strawberry.field(description="True when this page was asked for with a cursor.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge; null on an empty page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge; null on an empty page.")


@strawberry.enum(description="A member's role in a program. Mentors and admins may host group sessions.")
class ProgramRole(Enum):
    MENTOR = "MENTOR"
    MENTEE = "MENTEE"
    ADMIN = "ADMIN"


@strawberry.enum(description="Which part of the calendar a list covers.")
class Timeframe(Enum):
    FUTURE = strawberry.enum_value("FUTURE", description="Sessions that have not ended yet, soonest first.")
    PAST = strawberry.enum_value("PAST", description="Sessions that have ended, most recent first.")


@strawberry.enum(description="The viewer's part in a session.")
class SessionRole(Enum):
    HOST = strawberry.enum_value("HOST", description="Sessions the viewer hosts.")
    PARTICIPANT = strawberry.enum_value("PARTICIPANT", description="Sessions the viewer attends but does not host.")


@strawberry.enum(description="Whether a session will take place.")
class GroupSessionStatus(Enum):
    SCHEDULED = strawberry.enum_value("SCHEDULED", description="Will take place (or took place).")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled by the host.")


UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode", description="Why a command was refused.")


@strawberry.type(description="Why a mutation did not do what was asked. Any entry means nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "maxParticipants"]; null when no single field is.'
    )
    message: str = strawberry.field(description="A sentence to show the user.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")


def user_errors(error: DomainError) -> list[UserError]:
    """One UserError per problem of a refused command."""
    return [UserError(field=list(p.field) if p.field else None, message=p.message, code=p.code) for p in error.problems]


def not_found(message: str = "Not found.", field: tuple[str, ...] = ("input", "id")) -> list[UserError]:
    return [UserError(field=list(field), message=message, code=ErrorCode.NOT_FOUND)]
