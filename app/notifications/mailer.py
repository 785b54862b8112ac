"""Sending through SMTP with aiosmtplib, configured by the SMTP_* settings.

One connection serves a whole batch of the outbox worker. Errors are sorted into the two
kinds the worker needs: a permanent refusal of one message (a 5xx answer to its sender,
recipient or data: retrying will not help) and everything else (server down, slow,
4xx "try later", authentication), which is worth retrying.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from email.utils import parseaddr

import aiosmtplib

from app.settings import Settings


class SmtpSession:
    """An open SMTP connection; `send` may be called for several messages."""

    def __init__(self, client: aiosmtplib.SMTP, sender: str) -> None:
        self._client = client
        self._sender = sender

    async def send(self, recipient: str, message: str) -> None:
        """Send one complete message verbatim to one recipient; raises aiosmtplib errors."""
        await self._client.sendmail(self._sender, [recipient], message.encode("utf-8"))


class SmtpMailer:
    """Opens SMTP connections per the settings (host, port, security, credentials, timeout)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = parseaddr(settings.mail_from)[1]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SmtpSession]:
        """Connect (TLS or STARTTLS and login as configured), yield, then QUIT."""
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=s.smtp_security == "tls",
            # "none" means none: no opportunistic STARTTLS either.
            start_tls=s.smtp_security == "starttls",
            # Certificates are always verified; an internal CA can be trusted explicitly.
            cert_bundle=s.smtp_ca_file,
            timeout=s.smtp_timeout_seconds,
        )
        await client.connect()
        try:
            yield SmtpSession(client, self.sender)
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
            else:
                with suppress(Exception):
                    client.close()


def is_permanent(error: BaseException) -> bool:
    """True when the server refused this message for good (5xx to MAIL FROM, RCPT TO or
    DATA). Connection trouble, timeouts, 4xx and authentication failures are not: they
    are retried, since they say nothing about the message itself."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(500 <= r.code < 600 for r in error.recipients)
    if isinstance(error, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)):
        return 500 <= error.code < 600
    return False


def is_message_error(error: BaseException) -> bool:
    """True when the error concerns one message and the connection may carry the next."""
    return isinstance(
        error,
        (
            aiosmtplib.SMTPRecipientsRefused,
            aiosmtplib.SMTPRecipientRefused,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPDataError,
        ),
    )


def describe(error: BaseException) -> str:
    """One line for `last_error`: the SMTP answer when there is one."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        first = error.recipients[0]
        return f"{first.code} {first.message} (recipient refused)"[:1000]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {error.message}"[:1000]
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {' '.join(text.split())}"[:1000]
