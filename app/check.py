"""`python -m app check`: is this configuration fit to serve? Run it before `serve`.

Reads the settings (a bad value is a problem, not a traceback), then reaches what they
name: the database (and its migrations), Redis when REDIS_URL is set, and the SMTP server
(connect, TLS and login as configured; no mail is sent). Each problem is one line; no
problem is one line saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.settings import ConfigError, Settings

STEP_SECONDS = 10.0  # bound on each connection attempt


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


async def _database_problems(settings: Settings) -> list[str]:
    from tortoise import Tortoise
    from tortoise.connection import connections

    from app.__main__ import _safe_url
    from app.db import database_config, pending_migrations

    where = _safe_url(settings.database_url)
    try:
        async with asyncio.timeout(STEP_SECONDS):
            await Tortoise.init(config=database_config(settings))
            pending = await pending_migrations(connections.get("default"))
    except Exception as error:  # noqa: BLE001 - every failure is reported as one line
        return [f"database: cannot connect to {where}: {_one_line(error)}"]
    finally:
        try:
            await Tortoise.close_connections()
        except Exception:  # noqa: BLE001, S110 - closing what never opened
            pass
    if pending:
        return [f"database: {len(pending)} migration(s) not applied ({', '.join(pending)}): run `python -m app migrate`"]
    return []


async def _redis_problems(settings: Settings) -> list[str]:
    if not settings.redis_url:
        return []
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=STEP_SECONDS, socket_timeout=STEP_SECONDS)
    try:
        async with asyncio.timeout(STEP_SECONDS):
            await client.ping()
    except Exception as error:  # noqa: BLE001
        return [f"redis: cannot reach REDIS_URL: {_one_line(error)}"]
    finally:
        await client.aclose()
    return []


async def _smtp_problems(settings: Settings) -> list[str]:
    from app.notifications.mailer import SmtpMailer

    try:
        async with asyncio.timeout(STEP_SECONDS + settings.smtp_timeout_seconds):
            async with SmtpMailer(settings).session():
                pass  # connected, TLS and login done as configured; nothing is sent
    except Exception as error:  # noqa: BLE001
        return [
            f"smtp: cannot use {settings.smtp_host}:{settings.smtp_port} "
            f"(SMTP_SECURITY={settings.smtp_security}): {_one_line(error)}"
        ]
    return []


async def problems_of(settings: Settings) -> list[str]:
    """Every problem found with `settings`' database, Redis and SMTP, one line each."""
    found = await _database_problems(settings)
    found += await _redis_problems(settings)
    found += await _smtp_problems(settings)
    return found


def run_check(env: Mapping[str, str] | None = None) -> tuple[list[str], Settings | None]:
    """The problems of the configuration in `env` (the process environment by default)."""
    try:
        settings = Settings.from_env(env)
    except ConfigError as error:
        return [f"configuration: {error}"], None
    return asyncio.run(problems_of(settings)), settings
