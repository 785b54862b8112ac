"""Counting the SQL statements a request sends, through Tortoise's `tortoise.db_client` logger."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

_CONNECTION_RECORDS = ("Created connection", "Closed connection")


class StatementLog(logging.Handler):
    """Collects every statement Tortoise logs (connection open/close records skipped)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith(_CONNECTION_RECORDS):
            self.statements.append(message)

    def __len__(self) -> int:
        return len(self.statements)

    def dump(self) -> str:
        return "\n".join(f"{i + 1}. {s[:300]}" for i, s in enumerate(self.statements))


@contextlib.contextmanager
def count_statements() -> Iterator[StatementLog]:
    logger = logging.getLogger("tortoise.db_client")
    handler = StatementLog()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
