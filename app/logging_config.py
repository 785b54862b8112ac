"""Logging: one JSON object per line in production, readable lines in development.

`logging_config(settings)` is a `logging.config.dictConfig` dict; `python -m app serve`
hands it to uvicorn, which applies it in every worker, so the app's loggers
(`app.requests`: one line per GraphQL operation; `app.errors`: unexpected errors with
their traceback and request id) and uvicorn's own share one format.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timezone
from typing import Any

from app.settings import Settings

# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


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
        if record.exc_info and record.exc_info[0] is not None:
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
    handler = {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "readable": {"()": ReadableFormatter},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            # Strawberry logs every client error it sees; our schema logs the ones that matter.
            "strawberry.execution": {"level": "CRITICAL"},
        },
    }

