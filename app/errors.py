"""Expected failures of the domain, shared by every service.

Services raise `DomainError`; the API turns each `Problem` into a `UserError`
(code, message, input field path). Anything else that escapes is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorCode(str, Enum):
    """Mirrors the contract's UserErrorCode enum."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    IN_THE_PAST = "IN_THE_PAST"
    MIN_ABOVE_MAX = "MIN_ABOVE_MAX"
    BELOW_PARTICIPANT_COUNT = "BELOW_PARTICIPANT_COUNT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    SESSION_FULL = "SESSION_FULL"
    SESSION_CANCELLED = "SESSION_CANCELLED"
    SESSION_STARTED = "SESSION_STARTED"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    NOT_REGISTERED = "NOT_REGISTERED"
    HOST_CANNOT_LEAVE = "HOST_CANNOT_LEAVE"
    NOT_INVITED = "NOT_INVITED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True)
class Problem:
    """One reason a command was refused. `field` is the input path, e.g. ("input", "title")."""

    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class DomainError(Exception):
    """A command was refused; nothing it would have changed was changed."""

    def __init__(self, *problems: Problem) -> None:
        if not problems:
            raise ValueError("DomainError needs at least one problem")
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def of(cls, code: ErrorCode, message: str, field: tuple[str, ...] | None = None) -> DomainError:
        return cls(Problem(code, message, field))
