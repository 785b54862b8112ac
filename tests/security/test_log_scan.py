"""The scan that every test run ends with (tests/log_scan.py) catches what it is for: fed
through the same collector and scanner as the suite's logs, a leaked token, password or
email fails it; the lines a clean server writes do not."""

from __future__ import annotations

import logging
import secrets

from tests.log_scan import LogScan


def record(name: str, msg: str, *args, **extra) -> logging.LogRecord:
    entry = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    entry.__dict__.update(extra)
    return entry


def test_a_token_leaked_by_the_in_process_app_is_caught():
    scan = LogScan()
    token = secrets.token_urlsafe(32)
    while not any(c.isdigit() for c in token) or token.lower() == token or token.upper() == token:
        token = secrets.token_urlsafe(32)  # the shape the scanner knows: mixed case and digits
    scan.add_record(record("app.accounts", "issued %s for the socket", token))
    scan.add_record(record("app.requests", "operation done", operation_name="ok"))
    [finding] = scan.findings()
    assert finding.startswith("token in log record") and token in finding
    assert "1 line(s)" in scan.report()


def test_a_bearer_header_a_password_and_an_email_in_a_server_output_are_caught():
    scan = LogScan()
    scan.remember_secret("correct horse battery")
    scan.add_output("`python -m app serve` output", "\n".join([
        "12:00:00 INFO    uvicorn.access 127.0.0.1:5 - \"GET /graphql HTTP/1.1\" 200",
        "headers: {'authorization': 'Bearer abc.def-ghi_jkl0123456789'}",
        "sign-in for bob@example.org failed",
        'body {"query": "mutation", "variables": {"password": "x9-secret"}}',
        'signIn(input: {email: "a", pass: "correct horse battery"})',
    ]))
    kinds = [finding.split(" in ")[0] for finding in scan.findings()]
    assert kinds == ["bearer token", "email address", "password", "password"]


def test_what_the_app_writes_through_its_log_hygiene_is_clean():
    scan = LogScan()
    # Records pass through the app's own LogHygiene, as the server's handler applies it.
    scan.add_record(record("tortoise.db_client", "%s: %s", "SELECT 1 WHERE email=?", ["eve@example.org"]))
    scan.add_record(record("app.notifications.worker", "outbox: giving up: 550 <eve@example.org>: no"))
    scan.add_record(record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/graphql?password=x", "1.1", 200))
    # Hex digests, request ids and the hidden-parameters marker are not secrets.
    scan.add_output("`python -m app worker` output", "\n".join([
        "token_hash=" + "a" * 64, "request 3f2b8c1e9d7a4b6c8e0f1a2b3c4d5e6f done", "password: [parameters not logged]",
        "connections: {'credentials': {'user': 'postgres', 'password': None}}",  # Tortoise at DEBUG, no password
        "connections: {'credentials': {'user': 'app', 'password': '***'}}",  # ... and one it masked
    ]))
    assert scan.findings() == []


def test_loggers_outside_the_app_and_silenced_ones_are_not_collected():
    scan = LogScan()
    scan.add_record(record("mail.log", "AUTH PLAIN for bob@example.org"))  # the test's SMTP server
    scan.add_record(record("strawberry.execution", "error for bob@example.org"))  # silenced in production
    assert scan.lines == []
