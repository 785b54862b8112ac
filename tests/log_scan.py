"""The logs of the whole test run, scanned for secrets when the session ends.

Two sources, both collected as the suite runs (tests/conftest.py installs the collector):
- every log record the in-process app creates (loggers `app`, `uvicorn`, `tortoise`,
  `strawberry`), caught as the logger that made it handles it, so a logger with its own
  handlers or no propagation (uvicorn's) is not missed. Each is passed through the app's own
  `LogHygiene` filter on a copy (the filter production's handler applies; the test's
  records are left as they are) and formatted as `python -m app serve` writes it;
- the whole output (stdout and stderr) of every server process tests/servers.py starts,
  read back when it stops, as written: prints and tracebacks included.

`findings()` looks for what must never be in a log line: a bearer token (`Bearer x`, or
a string shaped like the tokens the app issues), an email address in clear, a password
(`password=x` or `"password": "x"`, and the values registered with `remember_secret`).
The session fails with the offending lines when it finds any (`report`). Cheap: records
are only formatted, and the scan runs once, with a handful of regular expressions.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Iterable

from app.demo import PASSWORD as DEMO_PASSWORD
from app.logging_config import EMAIL, LogHygiene, ReadableFormatter

COLLECTED_LOGGERS = ("app", "uvicorn", "tortoise", "strawberry")
# As the production logging configuration sets them (app/logging_config.py): quieter loggers
# whose records a server never writes.
SILENCED = {"strawberry.execution": logging.CRITICAL}
MAX_LINES = 500_000  # a bound on memory; the count of lines dropped beyond it is reported

_TOKEN_CHARS = "A-Za-z0-9_-"
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    # secrets.token_urlsafe(32), as app.accounts.services.issue_token makes them: 43 URL-safe
    # characters, mixed case and digits (a hex digest or an id is not).
    ("token", re.compile(
        rf"(?<![{_TOKEN_CHARS}])(?=[{_TOKEN_CHARS}]*[A-Z])(?=[{_TOKEN_CHARS}]*[a-z])(?=[{_TOKEN_CHARS}]*[0-9])"
        rf"[{_TOKEN_CHARS}]{{43}}(?![{_TOKEN_CHARS}])"
    )),
    ("email address", EMAIL),
    # A value after `password` (not a mask such as `***`, `[...]`, `<...>`, nor None/null).
    ("password", re.compile(r"""(?i)\bpass(?:word|wd)["']?\s*[:=]\s*["']?(?![\[<*]|None\b|null\b)[^\s"',&}\]]{3,}""")),
]


class LogScan:
    """Collected log lines, `(source, line)`, and the scan over them."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.dropped = 0
        self.secrets: set[str] = {DEMO_PASSWORD}
        self._formatter = ReadableFormatter()
        self._hygiene = LogHygiene()
        self._lock = threading.Lock()  # records come from aiosqlite's and uvicorn's threads too

    def remember_secret(self, value: str) -> None:
        """A value (a password a test uses) that must appear in no line."""
        if len(value) >= 6:
            self.secrets.add(value)

    def add_record(self, record: logging.LogRecord) -> None:
        """One record of the in-process app, as the server's handler would write it."""
        if not record.name.startswith(COLLECTED_LOGGERS) or record.levelno < SILENCED.get(record.name, 0):
            return
        entry = copy.copy(record)
        try:
            self._hygiene.filter(entry)
            text = self._formatter.format(entry)
        except Exception as error:  # noqa: BLE001 - a record that cannot be formatted is noted, not lost
            text = f"(unformattable record {record.name}: {error!r}) {record.msg!r} {record.args!r}"
        self._add("log record", text)

    def add_output(self, source: str, text: str) -> None:
        """The output of a process, as it wrote it."""
        for line in text.splitlines():
            self._add(source, line)

    def _add(self, source: str, text: str) -> None:
        with self._lock:
            for line in text.splitlines() or [""]:
                if len(self.lines) >= MAX_LINES:
                    self.dropped += 1
                else:
                    self.lines.append((source, line))

    def findings(self) -> list[str]:
        """One entry per offending line: what was found, where, and the line (shortened)."""
        found = []
        for source, line in self.lines:
            kinds = [kind for kind, pattern in PATTERNS if pattern.search(line)]
            kinds += ["password"] * any(secret in line for secret in self.secrets)
            if kinds:
                found.append(f"{'/'.join(dict.fromkeys(kinds))} in {source}: {line[:300]}")
        return found

    def report(self) -> str | None:
        """The failure message for the run, or None when every line is clean."""
        found = self.findings()
        if not found:
            return None
        shown = "\n".join(found[:50])
        more = f"\n... and {len(found) - 50} more" if len(found) > 50 else ""
        return f"secrets in the logs of this run ({len(found)} line(s)):\n{shown}{more}"


SUITE = LogScan()
_installed = False


def install(scan: LogScan = SUITE, loggers: Iterable[str] = ("app",)) -> None:
    """Collect every record from now on into `scan` (once per process), with `loggers` at
    INFO at least, as `python -m app serve` runs them."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in loggers:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    handle = logging.Logger.handle

    # Logger.handle receives each record once, complete (its `extra` fields set), at the
    # logger that made it, before any handler, propagation or level of a handler decides.
    def collecting_handle(self: logging.Logger, record: logging.LogRecord) -> None:
        scan.add_record(record)
        handle(self, record)

    logging.Logger.handle = collecting_handle  # type: ignore[method-assign]
