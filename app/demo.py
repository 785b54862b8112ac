"""Demo data for `python -m app demo` and `./scripts/serve`: idempotent, development only."""

from __future__ import annotations

from datetime import timedelta

from app.accounts import services as accounts
from app.accounts.models import Membership, Program, ProgramRole, User
from app.clock import utcnow
from app.group_sessions import services
from app.group_sessions.events import Effects
from app.group_sessions.models import GroupSession, Registration
from app.settings import Settings

PROGRAM_NAME = "Demo Mentoring Program"
PASSWORD = "demo-password"
PEOPLE = [
    ("ada@example.org", "Ada Lovelace", ProgramRole.MENTOR, "Europe/London"),
    ("grace@example.org", "Grace Hopper", ProgramRole.MENTOR, "America/New_York"),
    ("alan@example.org", "Alan Turing", ProgramRole.MENTEE, "Europe/Paris"),
    ("katherine@example.org", "Katherine Johnson", ProgramRole.MENTEE, "America/Chicago"),
    ("linus@example.org", "Linus Pauling", ProgramRole.MENTEE, "UTC"),
    ("admin@example.org", "Program Admin", ProgramRole.ADMIN, "UTC"),
]


REFUSED_IN_PRODUCTION = (
    "demo refuses to run with APP_ENV=production: it creates accounts whose password is published "
    "in the README. Load demo data into a development database instead."
)


class DemoRefused(Exception):
    """The demo data was not loaded (production): nothing was written."""


def check_demo_allowed(settings: Settings) -> None:
    """Raises DemoRefused in production, where accounts with a known password must never exist."""
    if settings.is_production:
        raise DemoRefused(REFUSED_IN_PRODUCTION)


async def load_demo_data(settings: Settings, *, effects: Effects | None = None) -> list[tuple[str, str, str]]:
    """Create the demo program, members and sessions unless they exist; returns the
    sign-ins as (email, password, role). Running it again changes nothing. Refused
    (DemoRefused, before anything is read or written) in production."""
    check_demo_allowed(settings)
    effects = effects or Effects()
    program = await Program.filter(name=PROGRAM_NAME).first() or await accounts.create_program(name=PROGRAM_NAME)
    users: dict[str, User] = {}
    for email, name, role, zone in PEOPLE:
        user = await User.get_or_none(email=email) or await accounts.create_user(
            email=email, name=name, password=PASSWORD, time_zone=zone
        )
        await Membership.get_or_create(program=program, user=user, defaults={"role": role})
        users[email] = user

    ada, grace = users["ada@example.org"], users["grace@example.org"]
    if not await GroupSession.filter(program=program).exists():
        now = utcnow().replace(minute=0, second=0, microsecond=0)
        first = await services.create_group_session(
            viewer_id=ada.id,
            program_id=program.id,
            title="Writing your first analytical engine program",
            objective="Walk through a complete program, from the problem to the punched cards.",
            starts_at=now + timedelta(days=2, hours=17 - now.hour),
            duration_minutes=90,
            max_participants=10,
            guest_ids=[users["alan@example.org"].id],
            effects=effects,
        )
        await services.create_group_session(
            viewer_id=grace.id,
            program_id=program.id,
            title="Debugging: finding the moth",
            objective="Systematic debugging techniques, with real stories from the Mark II.",
            starts_at=now + timedelta(days=5, hours=15 - now.hour),
            duration_minutes=60,
            effects=effects,
        )
        for email in ("alan@example.org", "katherine@example.org"):
            await services.join_group_session(viewer_id=users[email].id, session_id=first.id, effects=effects)
        # A past session, written directly: the services rightly refuse to create one.
        past = await GroupSession.create(
            program=program,
            host=ada,
            title="Notes on the notes: a retrospective",
            objective="What we learned from annotating Menabrea's paper.",
            starts_at=now - timedelta(days=7),
            ends_at=now - timedelta(days=7) + timedelta(minutes=60),
            duration_minutes=60,
            participant_count=2,
        )
        await Registration.create(session=past, user=ada, is_host=True)
        await Registration.create(session=past, user=users["linus@example.org"])
    return [(email, PASSWORD, role.value.lower()) for email, _, role, _ in PEOPLE]
