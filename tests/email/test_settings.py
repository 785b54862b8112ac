"""The mail settings: read from the environment, refused with one clear line when wrong."""

from __future__ import annotations

import pytest

from app.settings import ConfigError, Settings


def test_mail_settings_from_the_environment():
    settings = Settings.from_env(
        {
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "587",
            "SMTP_USERNAME": "mailer",
            "SMTP_PASSWORD": "secret",
            "SMTP_SECURITY": "STARTTLS",
            "MAIL_FROM": "Mentoring <mentoring@example.org>",
            "OUTBOX_WORKER_IN_SERVE": "false",
            "OUTBOX_MAX_ATTEMPTS": "5",
            "OUTBOX_RETRY_BASE_SECONDS": "10",
            "OUTBOX_RETRY_MAX_SECONDS": "600",
            "OUTBOX_POLL_SECONDS": "2",
            "OUTBOX_BATCH_SIZE": "50",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("smtp.example.org", 587, "starttls")
    assert (settings.smtp_username, settings.smtp_password) == ("mailer", "secret")
    assert settings.mail_from == "Mentoring <mentoring@example.org>"
    assert settings.outbox_worker_in_serve is False
    assert (settings.outbox_max_attempts, settings.outbox_retry_base_seconds, settings.outbox_retry_max_seconds) == (
        5, 10, 600,
    )
    assert (settings.outbox_poll_seconds, settings.outbox_batch_size) == (2, 50)


def test_mail_defaults_point_at_a_local_catcher():
    settings = Settings.from_env({})
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("localhost", 1025, "none")
    assert settings.outbox_worker_in_serve is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_SECURITY": "ssl"}, "SMTP_SECURITY must be none, starttls or tls"),
        ({"SMTP_PORT": "0"}, "SMTP_PORT must be between 1 and 65535"),
        ({"SMTP_USERNAME": "mailer"}, "SMTP_USERNAME and SMTP_PASSWORD go together"),
        ({"MAIL_FROM": "nobody"}, "MAIL_FROM must be an address"),
        ({"OUTBOX_MAX_ATTEMPTS": "0"}, "OUTBOX_MAX_ATTEMPTS must be between 1 and 100"),
        ({"OUTBOX_BATCH_SIZE": "many"}, "OUTBOX_BATCH_SIZE must be a whole number"),
        ({"HOST_NOTICE_COALESCE_WINDOW": "10 minutes"}, "HOST_NOTICE_COALESCE_WINDOW must be a duration such as 30d"),
        ({"HOST_NOTICE_COALESCE_WINDOW": "-5m"}, "HOST_NOTICE_COALESCE_WINDOW must be a duration such as 30d"),
        ({"HOST_NOTICE_COALESCE_WINDOW": "2d"}, "HOST_NOTICE_COALESCE_WINDOW must be between 0s and 1d"),
    ],
)
def test_wrong_mail_settings_are_refused_with_one_line(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("raw", "seconds"), [("600", 600), ("45s", 45), ("10m", 600), ("2h", 7200), ("1d", 86_400), ("0", 0)])
def test_the_host_notice_window_is_a_duration(raw, seconds):
    assert Settings.from_env({"HOST_NOTICE_COALESCE_WINDOW": raw}).host_notice_coalesce_window.total_seconds() == seconds
    assert Settings.from_env({}).host_notice_coalesce_window.total_seconds() == 600
