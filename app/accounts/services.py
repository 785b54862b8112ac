"""Users, programs, memberships, passwords and bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError

from app.accounts.models import AccessToken, Membership, Program, ProgramRole, User
from app.clock import utcnow
from app.db import sql_parameter
from app.errors import DomainError, ErrorCode, Problem
from app.text import clean_text, has_surrogates

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_BYTES = 32
EMAIL_MAX = 254
NAME_MAX = 200
PASSWORD_MAX = 1_024  # argon2 accepts more; a cap keeps hashing cost bounded
# last_used_at is written at most this often per token, so a busy client does not turn
# every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def normalize_email(email: str) -> str:
    return clean_text(email).lower()


def is_valid_time_zone(name: str) -> bool:
    """True for an IANA zone name such as Europe/Paris (not for paths or odd spellings)."""
    if not name or len(name) > 64 or name not in _zone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES  # computed once: available_timezones() walks the zone database
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str | None, password: str) -> bool:
    # As bytes with "surrogatepass": a password holding a lone surrogate (possible in JSON)
    # cannot be UTF-8 encoded; this way it is simply one that matches nothing.
    secret = password.encode("utf-8", "surrogatepass")
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, secret) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(user: User, *, label: str = "") -> str:
    """Create a new bearer token for `user`; returns the token, which is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await AccessToken.create(user=user, token_hash=hash_token(token), label=label[:100])
    return token


async def sign_in(*, email: str, password: str) -> tuple[User, str]:
    """Verify email and password; returns the user and a new token.

    An unknown email and a wrong password are indistinguishable: same error, and the same
    argon2 work is done for both.
    """
    user = None
    if len(email) <= EMAIL_MAX and len(password) <= PASSWORD_MAX and not has_surrogates(email):
        user = await User.get_or_none(email=normalize_email(email))
    matched = _password_matches(user.password_hash if user else None, password[:PASSWORD_MAX])
    if user is None or not matched:
        raise DomainError.of(ErrorCode.INVALID_CREDENTIALS, "Email or password is incorrect.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        await user.save(update_fields=["password_hash"])
    return user, await issue_token(user, label="sign-in")


async def user_for_token(token: str) -> User | None:
    """The user a bearer token belongs to, or None for an unknown or revoked token."""
    found = await viewer_for_token(token)
    return found[0] if found else None


async def tokens_of(email: str) -> list[AccessToken] | None:
    """Every token of the user with `email`, newest first; None when there is no such user."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        return None
    return await AccessToken.filter(user=user).order_by("-created_at", "-id")


async def revoke_token_id(token_id: int) -> bool:
    """Revoke the token with this id (as `tokens_of` lists it); True when it was active."""
    return bool(await AccessToken.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=utcnow()))


async def viewer_for_token(token: str) -> tuple[User, dict[int, ProgramRole]] | None:
    """The user a bearer token belongs to with their programs and roles, in one statement
    (every request needs both); None for an unknown or revoked token."""
    if not token or len(token) > 200:
        return None
    db = AccessToken._meta.db
    mark = sql_parameter(db, 1)
    _, rows = await db.execute_query(
        'SELECT u.id, u.email, u.name, u.password_hash, u.time_zone, u.created_at, m.program_id, m.role, '
        't.id AS token_id, t.last_used_at '
        'FROM "access_token" t JOIN "user" u ON u.id = t.user_id '
        'LEFT JOIN "membership" m ON m.user_id = u.id '
        f"WHERE t.token_hash = {mark} AND t.revoked_at IS NULL",
        [hash_token(token)],
    )
    if not rows:
        return None
    first = dict(rows[0])
    user = User._init_from_db(**{k: first[k] for k in ("id", "email", "name", "password_hash", "time_zone", "created_at")})
    roles = {row["program_id"]: ProgramRole(row["role"]) for row in rows if row["program_id"] is not None}
    await _record_use(first["token_id"], AccessToken._meta.fields_map["last_used_at"].to_python_value(first["last_used_at"]))
    return user, roles


async def _record_use(token_id: int, last_used_at: datetime | None) -> None:
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        await AccessToken.filter(id=token_id).update(last_used_at=now)


async def revoke_token(token: str) -> bool:
    """Revoke one token; True when it was active."""
    return bool(
        await AccessToken.filter(token_hash=hash_token(token), revoked_at__isnull=True).update(revoked_at=utcnow())
    )


async def revoke_tokens_of(email: str) -> int:
    """Revoke every active token of the user with `email`; returns how many."""
    return await AccessToken.filter(user__email=normalize_email(email), revoked_at__isnull=True).update(
        revoked_at=utcnow()
    )


async def create_user(*, email: str, name: str, password: str | None = None, time_zone: str = "UTC") -> User:
    """Create a user; DomainError on an invalid or taken email, empty name or unknown zone."""
    email = normalize_email(email)
    name = clean_text(name)
    if "@" not in email or len(email) > EMAIL_MAX or any(c.isspace() for c in email):
        raise DomainError.of(ErrorCode.INVALID, f"Not an email address: {email!r}.", ("email",))
    if not name or len(name) > NAME_MAX:
        raise DomainError.of(ErrorCode.INVALID, f"A name of 1 to {NAME_MAX} characters is required.", ("name",))
    if not is_valid_time_zone(time_zone):
        raise DomainError.of(ErrorCode.INVALID, f"Unknown IANA time zone: {time_zone!r}.", ("timeZone",))
    try:
        return await User.create(
            email=email,
            name=name,
            password_hash=hash_password(password) if password else None,
            time_zone=time_zone,
        )
    except IntegrityError:
        raise DomainError.of(ErrorCode.INVALID, f"A user with email {email} exists already.", ("email",)) from None


async def update_profile(user: User, *, name: str | None = None, time_zone: str | None = None) -> User:
    """Change the user's display name and/or time zone (None leaves a field as it is)."""
    problems = []
    if name is not None:
        single_line = "\n" not in name and "\t" not in name
        name = clean_text(name)
        if not name or len(name) > NAME_MAX or not single_line:
            problems.append(Problem(ErrorCode.INVALID, f"A name of 1 to {NAME_MAX} characters on one line is required.",
                                    ("input", "name")))
    if time_zone is not None and not is_valid_time_zone(time_zone):
        problems.append(Problem(ErrorCode.INVALID, "timeZone must be an IANA time zone such as Europe/Paris.",
                                ("input", "timeZone")))
    if problems:
        raise DomainError(*problems)
    if name is not None:
        user.name = name
    if time_zone is not None:
        user.time_zone = time_zone
    await user.save(update_fields=["name", "time_zone"])
    return user


async def create_program(*, name: str) -> Program:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise DomainError.of(ErrorCode.INVALID, f"A program name of 1 to {NAME_MAX} characters is required.")
    return await Program.create(name=name)


async def add_member(*, program_id: int, email: str, role: ProgramRole) -> Membership:
    """Add the user with `email` to the program, or change their role there."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, f"No user with email {normalize_email(email)}.", ("email",))
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, "No such program.", ("program",))
    membership, created = await Membership.get_or_create(program=program, user=user, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        await membership.save(update_fields=["role"])
    return membership


async def role_in_program(
    user_id: int, program_id: int, *, roles: Mapping[int, ProgramRole] | None = None
) -> ProgramRole | None:
    """The user's role in the program, or None when not a member. `roles` (every program
    of the user with the role there, as `viewer_for_token` loads them) answers without
    the database; None reads the membership."""
    if roles is not None:
        return roles.get(program_id)
    row = await Membership.filter(user_id=user_id, program_id=program_id).only("role").first()
    return row.role if row else None


async def program_roles(user_id: int) -> dict[int, ProgramRole]:
    """Every program the user belongs to, with the role there (what the token lookup
    loads along with the viewer; this reads it for a viewer signed in another way)."""
    rows = await Membership.filter(user_id=user_id).values_list("program_id", "role")
    return {program_id: ProgramRole(role) for program_id, role in rows}
