"""Settings from the environment, global IDs and the DateTime scalar."""

from datetime import datetime, timezone

import pytest

from app.__main__ import uvicorn_options
from app.api.pagination import from_global_id, pk_of, to_global_id
from app.api.scalars import parse_datetime, serialize_datetime
from app.settings import ConfigError, Settings


def test_defaults_work_on_a_laptop():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite://") and settings.public_web_url == "http://127.0.0.1:8000"
    assert not settings.is_production and settings.redis_url is None


def test_serve_gives_uvicorn_the_websocket_limits_from_the_environment():
    """`serve` passes these to uvicorn (tests/live serves through the same options, and
    test_oversized_message_closes_with_1009 sees the limit enforced)."""
    settings = Settings.from_env(
        {"WS_MAX_MESSAGE_BYTES": "12345", "WS_PER_MESSAGE_DEFLATE": "true", "SHUTDOWN_GRACE": "1m30s"}
    )
    assert uvicorn_options(settings) == {
        "http": "httptools",  # in the app's lock: tests parse HTTP as production does
        "ws": "app.web.websocket_protocol:LeanWebSocketsProtocol",
        "ws_max_size": 12345, "ws_per_message_deflate": True, "proxy_headers": True, "timeout_graceful_shutdown": 90,
    }


@pytest.mark.parametrize("env, message", [
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"PUBLIC_WEB_URL": "not a url"}, "PUBLIC_WEB_URL"),
    ({"APP_ENV": "production"}, "PUBLIC_WEB_URL must be set in production"),
    ({"APP_ENV": "staging"}, "APP_ENV"),
    ({"SMTP_PORT": "abc"}, "SMTP_PORT must be a whole number"),
    ({"SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"SMTP_CA_FILE": "/nonexistent/ca.pem"}, "SMTP_CA_FILE"),
    ({"CORS_ORIGINS": "example.org"}, "CORS_ORIGINS"),
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16 characters"),
    ({"METRICS_PORT": "70000"}, "METRICS_PORT must be between 1 and 65535"),
    ({"SHUTDOWN_GRACE": "soon"}, "SHUTDOWN_GRACE must be a duration"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL"),
    ({"REMINDER_OFFSETS": "1h,soon"}, "REMINDER_OFFSETS must be a duration"),
    ({"REMINDER_OFFSETS": "1h,60m"}, "REMINDER_OFFSETS must list up to 10 different durations"),
    ({"REMINDER_OFFSETS": "0s"}, "REMINDER_OFFSETS: each duration must be between 1s and 30d"),
])
def test_bad_configuration_fails_with_one_clear_line(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_global_ids_round_trip_and_reject_everything_else():
    gid = to_global_id("GroupSession", 42)
    assert from_global_id(gid) == ("GroupSession", 42)
    assert pk_of(gid, "GroupSession") == 42 and pk_of(gid, "User") is None
    for bad in ["", "x", "R3JvdXBTZXNzaW9uOg", to_global_id("Nope", 1), "Zm9vOjE=", "R3JvdXBTZXNzaW9uOi0x", "é"]:
        assert from_global_id(bad) is None


def test_datetime_out_is_utc_with_z_and_in_needs_an_offset():
    assert serialize_datetime(datetime(2026, 12, 1, 16, tzinfo=timezone.utc)) == "2026-12-01T16:00:00Z"
    assert parse_datetime("2026-12-01T17:00:00+01:00") == datetime(2026, 12, 1, 16, tzinfo=timezone.utc)
    assert parse_datetime("2026-12-01T16:00:00Z") == datetime(2026, 12, 1, 16, tzinfo=timezone.utc)
    for bad in ["2026-12-01T17:00:00", "tomorrow", "", 17, None]:
        with pytest.raises(ValueError):
            parse_datetime(bad)


def test_datetimes_kept_from_earlier_requests_give_the_same_text_as_fresh_ones(monkeypatch):
    """serialize_datetime keeps the text of UTC instants it has formatted (a page repeats
    them across requests): each answer, first or repeated, is the formatting's own, an
    instant in another zone or naive is never answered from the kept texts, and the
    kept texts stay within their bound."""
    from zoneinfo import ZoneInfo

    from app.api import scalars

    monkeypatch.setattr(scalars, "SERIALIZED_CACHE_SIZE", 3)
    scalars._SERIALIZED.clear()
    paris = ZoneInfo("Europe/Paris")
    # The two readings of Paris's ambiguous hour compare equal (same zone, same wall
    # time) but are different instants: neither may take the other's text.
    first, second = datetime(2026, 10, 25, 2, 30, tzinfo=paris), datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=paris)
    values = [
        datetime(2026, 12, 1, 16, tzinfo=timezone.utc),
        datetime(2026, 12, 1, 16, 0, 0, 250, tzinfo=timezone.utc),
        datetime(2026, 12, 1, 17, tzinfo=ZoneInfo("Europe/Berlin")),
        first,
        second,
        datetime(2026, 12, 2, 9, 15, tzinfo=timezone.utc),
        datetime(2026, 12, 3, 9, 15, tzinfo=timezone.utc),
    ]
    for _ in range(3):
        for value in values:
            assert serialize_datetime(value) == scalars._utc_text(value)
            assert len(scalars._SERIALIZED) <= 3
    assert serialize_datetime(first) == "2026-10-25T00:30:00Z" and serialize_datetime(second) == "2026-10-25T01:30:00Z"
    assert serialize_datetime(values[1]) == "2026-12-01T16:00:00.000250Z"
    assert all(key.tzinfo is timezone.utc for key in scalars._SERIALIZED)


def test_a_process_the_tests_start_reads_back_exactly_the_tests_settings():
    """tests/servers.py hands Settings to `python -m app` through the environment."""
    from tests.servers import settings_environment

    changed = Settings(
        database_url="postgres://db/app", redis_url="redis://r:6379/1", redis_key_prefix="t:",
        cors_origins=("https://a.example.org", "https://b.example.org"), smtp_host="127.0.0.1", smtp_port=2525,
        outbox_worker_in_serve=False, ws_per_message_deflate=True, outbox_poll_seconds=1,
    )
    assert Settings.from_env(settings_environment(changed)) == changed
    assert Settings.from_env(settings_environment(Settings())) == Settings()
    from datetime import timedelta

    for offsets in [(), (timedelta(seconds=30),), (timedelta(hours=2), timedelta(days=2))]:
        timed = Settings(reminder_offsets=offsets, join_window=timedelta(seconds=5))
        read = Settings.from_env(settings_environment(timed))
        assert (read.reminder_offsets, read.join_window) == (tuple(sorted(offsets, reverse=True)), timedelta(seconds=5))


def test_reminder_offsets_are_read_longest_first_and_none_turns_them_off():
    from datetime import timedelta

    assert Settings().reminder_offsets == (timedelta(hours=24), timedelta(hours=1))
    assert str(Settings().reminder_offsets) == "1d,1h"
    assert Settings.from_env({"REMINDER_OFFSETS": "1h, 24h ,90s"}).reminder_offsets == (
        timedelta(days=1), timedelta(hours=1), timedelta(seconds=90)
    )
    assert Settings.from_env({"REMINDER_OFFSETS": "none"}).reminder_offsets == ()


def test_global_ids_kept_by_primary_key_are_the_encodings_themselves(monkeypatch):
    """GlobalIdOf keeps the IDs it built by primary key: a kept one is the encoding of
    that row, a key that only compares equal to an int (True == 1) is never answered from
    them, and the kept IDs stay within their bound."""
    from types import SimpleNamespace

    from app.api import pagination
    from app.links import global_id

    monkeypatch.setattr(pagination, "GLOBAL_ID_CACHE_SIZE", 4)

    class Node:
        id = pagination.GlobalIdOf("User")

        def __init__(self, pk: object) -> None:
            self.row = SimpleNamespace(id=pk)

    descriptor = Node.__dict__["id"]
    for _ in range(3):
        for pk in [1, 2, 3, 1, 5, 6, 7, 2]:
            assert Node(pk).id == global_id("User", pk) == to_global_id("User", pk)
            assert len(descriptor.known) <= 4
    assert Node(True).id == global_id("User", True) != Node(1).id
    assert Node("9").id == global_id("User", "9")
    assert all(type(key) is int for key in descriptor.known)


def test_row_id_cursors_kept_by_primary_key_are_the_encodings_themselves(monkeypatch):
    """RowIdCursorOf (the participants' edge cursor) answers registration_cursor of the
    edge's node's row id, kept in the edge (a value set on it wins) and by primary key
    within its bound, never for a key that only compares equal to an int."""
    from types import SimpleNamespace

    from app.api import pagination

    monkeypatch.setattr(pagination, "GLOBAL_ID_CACHE_SIZE", 4)

    class Edge:
        cursor = pagination.RowIdCursorOf(pagination.registration_cursor)

        def __init__(self, pk: object) -> None:
            self.node = SimpleNamespace(row=SimpleNamespace(id=pk))

    descriptor = Edge.__dict__["cursor"]
    for _ in range(3):
        for pk in [1, 2, 3, 1, 5, 6, 7, 2]:
            edge = Edge(pk)
            assert edge.cursor == pagination.registration_cursor(pk) == pagination.encode_cursor(pk)
            assert edge.__dict__["cursor"] == edge.cursor  # computed once per edge
            assert pagination.decode_registration_cursor(edge.cursor) == pk
            assert len(descriptor.known) <= 4
    assert Edge(True).cursor == pagination.encode_cursor(True) != Edge(1).cursor
    assert all(type(key) is int for key in descriptor.known)
    given = Edge(3)
    given.cursor = "set"
    assert given.cursor == "set"
