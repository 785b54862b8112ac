"""app.model_rows.from_row builds, from a raw statement's row, the instance Tortoise's
`_init_from_db` builds from the same values (attributes, their order, values and types,
the private state an update or a save reads), on both databases, and falls back to
`_init_from_db` itself for a partial row."""

from __future__ import annotations

from datetime import UTC, datetime

from app.accounts.models import User
from app.db import fetch_rows
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus
from app.model_rows import from_row


def _state(instance) -> list[tuple]:
    return [(k, type(v), v) for k, v in vars(instance).items()]


async def _both(model, pk) -> tuple:
    columns = list(model._meta.fields_db_projection.values())
    select = ", ".join(f'"{c}"' for c in columns)
    (row,) = await fetch_rows(model._meta.db, f'SELECT {select} FROM "{model._meta.db_table}" WHERE id = {int(pk)}', [])
    at = {c: i for i, c in enumerate(columns)}
    return from_row(model, row, at), model._init_from_db(**{c: row[i] for c, i in at.items()})


async def test_from_row_builds_what_init_from_db_builds(app, world):
    session = await GroupSession.create(
        program=world.program, host=world.host.user, title="t", objective="o",
        starts_at=datetime(2027, 1, 1, 10, tzinfo=UTC), ends_at=datetime(2027, 1, 1, 11, tzinfo=UTC),
        duration_minutes=60, min_participants=1, max_participants=10, participant_count=1,
    )
    registration = await Registration.create(
        session=session, user=world.host.user, is_host=True, status=RegistrationStatus.CONFIRMED
    )
    for model, pk in ((GroupSession, session.id), (User, world.host.user.id), (Registration, registration.id),
                      (world.program.__class__, world.program.id)):
        built, expected = await _both(model, pk)
        assert type(built) is model
        assert _state(built) == _state(expected), model
        assert built._partial is False and built._saved_in_db is True
    # The instance behaves as the ORM's: it saves as one read from the database.
    user, _ = await _both(User, world.host.user.id)
    user.name = "Renamed"
    await user.save(update_fields=["name"])
    assert (await User.get(id=user.id)).name == "Renamed"


async def test_a_partial_row_goes_through_init_from_db(app, world):
    columns = ["id", "name"]
    (row,) = await fetch_rows(User._meta.db, f'SELECT id, name FROM "user" WHERE id = {int(world.host.user.id)}', [])
    built = from_row(User, row, {c: i for i, c in enumerate(columns)})
    expected = User._init_from_db(id=row[0], name=row[1])
    assert built._partial is True
    assert _state(built) == _state(expected)
