"""docker-compose.yml cannot be run here (no Docker engine); what can be checked is."""

import re
from pathlib import Path

import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_app_with_postgres_redis_and_mailpit_behind_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"app", "migrate", "postgres", "redis", "mailpit"} <= set(services)
    for name in ("app", "postgres", "redis", "mailpit"):
        assert services[name]["healthcheck"]["test"], name
    assert (ROOT / services["app"]["build"]["context"] / services["app"]["build"]["dockerfile"]).exists()
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    # The app's environment is one the app accepts, with its two workers.
    env = {k: str(v) for k, v in services["app"]["environment"].items()}
    # As compose interpolates it with nothing set in the shell: ${NAME:-default} -> default.
    env = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in env.items()}
    settings = Settings.from_env(env)
    settings.check_workers(int(env["WEB_CONCURRENCY"]))
    assert settings.database_url.startswith("postgres://") and settings.redis_url
