"""No mail leaves a test run for a server the test did not start.

The root settings point SMTP at `SmtpTrap`, a port this test session holds open and that
answers nothing: any connection there is an app delivering mail that no test asked for (in
this process or in a server process a test started with its settings). `DefaultSmtpWatch`
sees, in this process, any connection to the address a Settings() built from scratch would
send to (localhost:1025, where a developer's Mailpit listens). tests/conftest.py fails the
test during which either happened.
"""

from __future__ import annotations

import socket
import sys
import threading

from app.settings import Settings


class SmtpTrap:
    """A listening socket on 127.0.0.1 that counts the connections it gets and closes them."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="smtp-trap", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._sock.close()


class DefaultSmtpWatch:
    """Counts connections this process opens to the default SMTP address (an audit hook:
    audit hooks cannot be removed, so one is installed per process and stays)."""

    _installed: DefaultSmtpWatch | None = None

    def __init__(self) -> None:
        defaults = Settings()
        self.port = defaults.smtp_port
        self.hosts = {defaults.smtp_host, "127.0.0.1", "::1"}
        self.connections = 0

    @classmethod
    def install(cls) -> DefaultSmtpWatch:
        if cls._installed is None:
            cls._installed = watch = cls()
            sys.addaudithook(watch._hook)
        return cls._installed

    def _hook(self, event: str, args: tuple) -> None:
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and len(address) >= 2 and address[1] == self.port and address[0] in self.hosts:
                self.connections += 1
