"""Logging: one JSON object per line in production, readable lines in development.

`logging_config(settings)` is a `logging.config.dictConfig` dict; `python -m app serve`
hands it to uvicorn, which applies it in every worker, so the app's loggers
(`app.requests`: one line per GraphQL operation; `app.errors`: unexpected errors with
their traceback and request id) and uvicorn's own share one format.

Every line goes through `LogHygiene` first, at every level: no query string, no SQL
parameters, no connection parameters, no email address. What clients send in a query
string (a GET can carry anything, passwords included), what a statement binds (emails,
names, password and token hashes) and whom a mail was for are not the operator's to read
in a log; the path, the SQL and the row ids are enough to follow what happened.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import datetime, timezone
from typing import Any

from app.settings import Settings

# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
HIDDEN_PARAMETERS = "[parameters not logged]"


def redact(text: str) -> str:
    """`text` with every email address replaced by `<email>`."""
    return EMAIL.sub("<email>", text) if "@" in text else text


class LogHygiene(logging.Filter):
    """Keeps secrets and personal data out of every line the handler writes:

    - uvicorn's access lines show the path without its query string;
    - Tortoise's DEBUG lines show the SQL without its parameters, and no connection
      parameters (for PostgreSQL they hold the database password);
    - email addresses anywhere (a message, its arguments, a traceback, `extra` fields)
      become `<email>`: an SMTP refusal or a database error may quote one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) >= 3:
            # (client address, method, full path, HTTP version, status)
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        elif record.name.startswith("tortoise.db_client") and isinstance(record.args, tuple) and record.args:
            if record.msg == "%s: %s":  # (statement, parameters)
                record.args = (record.args[0], HIDDEN_PARAMETERS)
            else:  # "Created connection pool %s with params: %s" and the like
                record.msg = str(record.msg).split(" with params", 1)[0]
                record.args = record.args[: record.msg.count("%s")]
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str) and "@" in value:
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's `extra`
    fields (request_id, operation_name, duration_ms, ...) and, for errors, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:  # formatted (and redacted) by LogHygiene
            entry["exception"] = record.exc_text
        elif record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class ReadableFormatter(logging.Formatter):
    """`time level logger [request id] message`, traceback below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(request)s%(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request = f"[{request_id}] " if request_id else ""
        return super().format(record)


def logging_config(settings: Settings, *, level: str = "info") -> dict[str, Any]:
    """A dictConfig for the app and uvicorn: JSON in production, readable otherwise."""
    formatter = "json" if settings.is_production else "readable"
    level = level.upper()
    handler = {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "stream": "ext://sys.stderr",
        "filters": ["hygiene"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "readable": {"()": ReadableFormatter},
        },
        "filters": {"hygiene": {"()": LogHygiene}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            # Strawberry logs every client error it sees; our schema logs the ones that matter.
            "strawberry.execution": {"level": "CRITICAL"},
            # aiosqlite's DEBUG lines print each call with its arguments (the SQL parameters):
            # Tortoise's own lines (tortoise.db_client) already show the statements.
            "aiosqlite": {"level": "INFO"},
        },
    }

