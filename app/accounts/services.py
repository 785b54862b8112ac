"""Users, programs, memberships, passwords and bearer tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts import name_search
from app.accounts.models import AccessToken, Membership, Program, ProgramRole, User
from app.clock import utcnow
from app.db import fetch_rows, sql_parameter
from app.errors import DomainError, ErrorCode, Problem
from app.model_rows import from_row
from app.settings import Settings
from app.text import clean_text, has_surrogates

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_BYTES = 32
EMAIL_MAX = 254
NAME_MAX = 200
PASSWORD_MIN = 8  # for passwords set from now on (set-password); older ones still sign in
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
    while token.startswith("-"):  # one would read as an option: `revoke-token --token -x...`
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


@dataclass(frozen=True)
class TokenLifetime:
    """How long a bearer token signs its user in: `ttl` from its creation, and `idle_ttl`
    from its last recorded use (its creation when never used), whichever ends first."""

    ttl: timedelta = timedelta(days=30)
    idle_ttl: timedelta = timedelta(days=7)

    @classmethod
    def of(cls, settings: Settings) -> TokenLifetime:
        return cls(ttl=settings.token_ttl, idle_ttl=settings.token_idle_ttl)

    @property
    def use_resolution(self) -> timedelta:
        """How stale `last_used_at` may get: LAST_USED_RESOLUTION, or a tenth of the idle
        lifetime when that is shorter, so a token in steady use never looks idle."""
        return min(LAST_USED_RESOLUTION, self.idle_ttl / 10)

    def expires_at(self, created_at: datetime, last_used_at: datetime | None) -> datetime:
        return min(created_at + self.ttl, (last_used_at or created_at) + self.idle_ttl)


@dataclass(frozen=True)
class SignedIn:
    """Who a bearer token signs in, as the token lookup finds them."""

    user: User
    roles: dict[int, ProgramRole]  # every program of the user, with the role there
    token_id: int
    expires_at: datetime  # when the token stops signing in if not used again before


async def tokens_of(email: str) -> list[AccessToken] | None:
    """Every token of the user with `email`, newest first; None when there is no such user."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        return None
    return await AccessToken.filter(user=user).order_by("-created_at", "-id")


@functools.cache
def _token_lookup_sql(mark: str) -> str:
    """The token lookup's statement, with `mark` the placeholder of the token's hash: every
    column of the user first (in `_user_columns` order), then the memberships and the token."""
    user_columns = ", ".join(f'u."{c}"' for c in _user_columns())
    return (
        f"SELECT {user_columns}, m.program_id, m.role, "
        "t.id AS token_id, t.created_at AS token_created_at, t.last_used_at "
        'FROM "access_token" t JOIN "user" u ON u.id = t.user_id '
        'LEFT JOIN "membership" m ON m.user_id = u.id '
        f"WHERE t.token_hash = {mark} AND t.revoked_at IS NULL"
    )


@functools.cache
def _user_columns() -> tuple[str, ...]:
    return tuple(User._meta.fields_db_projection.values())


@functools.cache
def _user_column_places() -> dict[str, int]:
    """Each user column's place in a token lookup's row (`_token_lookup_sql`)."""
    return {c: i for i, c in enumerate(_user_columns())}


async def viewer_for_token(
    token: str,
    *,
    lifetime: TokenLifetime = TokenLifetime(),
    now: datetime | None = None,
    record_use: bool = True,
) -> SignedIn | None:
    """The user a bearer token belongs to with their programs and roles, in one statement
    (every request needs both); None for an unknown, revoked or expired token (see
    `TokenLifetime`). `now` is the clock's reading (default: the time now). A lookup
    counts as a use of the token unless `record_use` is False (a server re-checking an
    open socket on its own initiative is not the client using it)."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    db = AccessToken._meta.db
    rows = await fetch_rows(db, _token_lookup_sql(sql_parameter(db, 1)), [hash_token(token)])
    if not rows:
        return None
    first = rows[0]
    to_datetime = AccessToken._meta.fields_map["last_used_at"].to_python_value
    created_at, last_used_at = to_datetime(first["token_created_at"]), to_datetime(first["last_used_at"])
    if now >= lifetime.expires_at(created_at, last_used_at):
        return None
    # Every column of the user, by position (the user's and the token's share names): a
    # complete instance.
    user = from_row(User, first, _user_column_places())
    roles = {row["program_id"]: ProgramRole(row["role"]) for row in rows if row["program_id"] is not None}
    if record_use and (last_used_at is None or now - last_used_at > lifetime.use_resolution):
        await AccessToken.filter(id=first["token_id"]).update(last_used_at=now)
        last_used_at = now
    return SignedIn(user, roles, first["token_id"], lifetime.expires_at(created_at, last_used_at))


async def revoke_token(token: str) -> int | None:
    """Revoke one token; the id of its user when it was active (None otherwise)."""
    row = await AccessToken.filter(token_hash=hash_token(token), revoked_at__isnull=True).only("id", "user_id").first()
    return await revoke_token_id(row.id) if row else None


async def revoke_token_id(token_id: int) -> int | None:
    """Revoke the token with this id (as `tokens_of` lists it); the id of its user when it
    was active (None otherwise)."""
    row = await AccessToken.filter(id=token_id, revoked_at__isnull=True).only("id", "user_id").first()
    if row is None or not await AccessToken.filter(id=row.id, revoked_at__isnull=True).update(revoked_at=utcnow()):
        return None
    return row.user_id


async def revoke_tokens_of(email: str) -> tuple[int | None, int]:
    """Revoke every active token of the user with `email`: (the user's id, or None when
    there is no such user; how many tokens were revoked)."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        return None, 0
    return user.id, await AccessToken.filter(user_id=user.id, revoked_at__isnull=True).update(revoked_at=utcnow())


async def set_password(*, email: str, password: str) -> tuple[int, int]:
    """Give the user with `email` a new password and revoke every token they hold (whoever
    knew the old password may have signed in with it): (the user's id, tokens revoked).
    DomainError for an unknown email or a password outside 8 to PASSWORD_MAX characters."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, f"No user with email {normalize_email(email)}.", ("email",))
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX or has_surrogates(password):
        raise DomainError.of(
            ErrorCode.INVALID, f"A password of {PASSWORD_MIN} to {PASSWORD_MAX} characters is required.", ("password",)
        )
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=hash_password(password))
        revoked = await AccessToken.filter(user_id=user.id, revoked_at__isnull=True).update(revoked_at=utcnow())
    return user.id, revoked


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
        async with in_transaction() as connection:
            user = await User.create(
                email=email,
                name=name,
                password_hash=hash_password(password) if password else None,
                time_zone=time_zone,
                sort_name=name_search.sort_key(name),
                using_db=connection,
            )
            await name_search.index_name(user.id, name, connection=connection)
            return user
    except IntegrityError:
        raise DomainError.of(ErrorCode.INVALID, f"A user with email {email} exists already.", ("email",)) from None


async def update_profile(
    user: User, *, name: str | None = None, time_zone: str | None = None, email_reminders: bool | None = None
) -> User:
    """Change the user's display name, time zone and/or reminder choice (None leaves a
    field as it is)."""
    problems = []
    if name is not None:
        single_line = "\n" not in name and "\t" not in name
        name = clean_text(name)
        if not name or len(name) > NAME_MAX or not single_line:
            problems.append(Problem(ErrorCode.INVALID, f"Name is required: one line of at most {NAME_MAX} characters.",
                                    ("input", "name")))
    if time_zone is not None and not is_valid_time_zone(time_zone):
        problems.append(Problem(ErrorCode.INVALID, "Time zone must be an IANA time zone name, such as Europe/Paris.",
                                ("input", "timeZone")))
    if problems:
        raise DomainError(*problems)
    if name is not None:
        user.name = name
        user.sort_name = name_search.sort_key(name)
    if time_zone is not None:
        user.time_zone = time_zone
    if email_reminders is not None:
        user.email_reminders = email_reminders
    async with in_transaction() as connection:
        await user.save(
            update_fields=["name", "time_zone", "sort_name", "email_reminders"]
            if name is not None
            else ["time_zone", "email_reminders"],
            using_db=connection,
        )
        if name is not None:  # the member search finds them by their new name
            await name_search.index_name(user.id, name, connection=connection)
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
