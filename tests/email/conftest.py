"""Email fixtures: a real SMTP server per test, the app's settings pointed at it, and a
delivery worker the test drives pass by pass (with a clock it can move forward), so
nothing waits on timers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from app.notifications.worker import OutboxWorker
from app.settings import Settings
from tests.email.mailbox import Mailbox

MAIL_FROM = "Group Sessions <sessions@example.org>"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "serve_worker: run the delivery worker inside the app, as `serve` does")


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox()
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox, request) -> Settings:
    """The suite's settings, sending to `mailbox`; the worker runs in the app only for
    tests marked `serve_worker` (the others drive `worker` themselves)."""
    return settings.with_(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_timeout_seconds=5,
        mail_from=MAIL_FROM,
        outbox_worker_in_serve=request.node.get_closest_marker("serve_worker") is not None,
    )


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


UPDATE = """
mutation Update($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) {
    groupSession { id startsAt endsAt durationMinutes }
    userErrors { field message code }
  }
}
"""

CANCEL = """
mutation Cancel($input: CancelGroupSessionInput!) {
  cancelGroupSession(input: $input) {
    groupSession { id status }
    userErrors { field message code }
  }
}
"""
