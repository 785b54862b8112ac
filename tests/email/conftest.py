"""Email fixtures: a real SMTP server per test, the app's settings pointed at it, and a
delivery worker the test drives pass by pass (with a clock it can move forward), so
nothing waits on timers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.db import migrate_database
from app.main import create_app
from app.notifications.worker import OutboxWorker
from app.settings import Settings
from tests import backends
from tests.email.mailbox import Blackhole, Mailbox

MAIL_FROM = "Group Sessions <sessions@example.org>"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "serve_worker: run the delivery worker inside the app, as `serve` does")
    config.addinivalue_line("markers", "smtp_blackhole: point SMTP at a server that accepts and never answers")
    config.addinivalue_line("markers", "settings(**changes): further settings for this test (Settings field names)")


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox()
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
async def blackhole() -> AsyncIterator[Blackhole]:
    hole = Blackhole()
    await hole.start()
    yield hole
    await hole.stop()


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox, request) -> Settings:
    """The suite's settings, sending to `mailbox` (or to `blackhole` for tests marked
    `smtp_blackhole`); the worker runs in the app only for tests marked `serve_worker`
    (the others drive `worker` themselves); a `settings(...)` marker changes more fields."""
    port = mailbox.port
    if request.node.get_closest_marker("smtp_blackhole"):
        port = request.getfixturevalue("blackhole").port
    changes = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_timeout_seconds": 5,
        "mail_from": MAIL_FROM,
        "outbox_worker_in_serve": request.node.get_closest_marker("serve_worker") is not None,
    }
    if marker := request.node.get_closest_marker("settings"):
        changes.update(marker.kwargs)
    return settings.with_(**changes)


class Clock:
    """Real time, until the test moves it forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(settings: Settings, clock: Clock, app) -> OutboxWorker:
    """A worker for this test's database; `rand` fixed at 1 so each retry waits its full ceiling."""
    return OutboxWorker(settings, clock=clock, rand=lambda: 1.0)


@pytest.fixture
async def postgres_app(settings: Settings) -> AsyncIterator:
    """The app on a fresh, migrated PostgreSQL database of its own, in either pass; skips
    when no PostgreSQL answers (tests/backends.py)."""
    server = backends.require_postgres()
    async with backends.postgres_database(server, kind="email") as url:
        # Tortoise caches each model's INSERT per connection name, in the SQL dialect of the
        # first database that used it: after SQLite tests in this process, PostgreSQL would get
        # "?" placeholders. One process serves one database in real use; here we switch.
        EXECUTOR_CACHE.clear()
        try:
            await migrate_database(url)
            application = create_app(settings.with_(database_url=url, outbox_worker_in_serve=False))
            async with application.router.lifespan_context(application):
                yield application
        finally:
            EXECUTOR_CACHE.clear()
