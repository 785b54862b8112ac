"""A real SMTP server for the tests: aiosmtpd's SMTP protocol served on 127.0.0.1 in the
test's own event loop (so it can take port 0, stop, and come back on the same port).

Everything it accepts is kept as a parsed message; `replies` scripts the answers to DATA
("451 ..." then the default 250) to play a server that says "try later".
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from icalendar import Calendar


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    @property
    def calendar_parts(self) -> list[EmailMessage]:
        return [part for part in self.message.walk() if part.get_content_type() == "text/calendar"]

    @property
    def calendar(self) -> Calendar:
        (part,) = self.calendar_parts
        return Calendar.from_ical(part.get_payload(decode=True))


class Mailbox:
    """The handler and the server. `port` is fixed by the first `start()`."""

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = 0
        # When set, AUTH is required (over plain TCP: this is a test server) with these.
        self.credentials = credentials
        # STARTTLS offered and required before MAIL FROM; or TLS from the first byte.
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.logins: list[tuple[str, bool]] = []
        self.received: list[Received] = []
        self.replies: list[str] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        options = {}
        if self.credentials:
            options = {"auth_required": True, "auth_require_tls": False, "authenticator": self._authenticate}
        if self.starttls:
            options.update(tls_context=self.starttls, require_starttls=True)
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="mailbox.test", loop=loop, **options),
            host="127.0.0.1",
            port=self.port,
            ssl=self.implicit_tls,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()
        ) == self.credentials
        self.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd hook
        if self.replies:
            reply = self.replies.pop(0)
            if not reply.startswith("250"):
                return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        async with self._arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, message))
            self._arrived.notify_all()
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` messages, waiting at most `timeout` seconds for them."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.received) >= count), timeout)
        return self.received[:count]

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received if address in m.rcpt_tos]

    def one_to(self, address: str, subject_contains: str = "") -> Received:
        found = [m for m in self.to(address) if subject_contains in m.subject]
        assert len(found) == 1, [(m.to, m.subject) for m in self.received]
        return found[0]

    def take(self) -> list[Received]:
        """What arrived so far, forgetting it."""
        taken, self.received = self.received, []
        return taken


class Blackhole:
    """A server that accepts connections and never says a word: SMTP that hangs.

    `connected` is set once a client connected; `open_connections` counts the clients that
    have not hung up (a client gives up only when its own timeout ends)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.connected = asyncio.Event()
        self.open_connections = 0

    async def start(self) -> None:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            self.open_connections += 1
            self.connected.set()
            try:
                await reader.read()  # until the client hangs up, or stop() closes the connection
            except ConnectionError:
                pass
            finally:
                self.open_connections -= 1

        self._server = await asyncio.start_server(hold, host="127.0.0.1", port=0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
