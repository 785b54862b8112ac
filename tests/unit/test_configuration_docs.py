"""docs/configuration.md and .env.example stay in step with Settings: every setting is
documented once, with its environment variable and its default, and nothing else is."""

import inspect
import re
from dataclasses import fields
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \| .+ \|$")


def as_env_text(value: object) -> str:
    """A default as one would write it in the environment ('' for unset)."""
    if value is None or value == ():
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def documented_defaults() -> dict[str, str]:
    """Variable -> default cell ('`x`' unquoted, or '' for 'unset') from the one table."""
    rows: dict[str, str] = {}
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            name, default = match.group(1), match.group(2).strip()
            assert name not in rows, f"{name} has two rows"
            rows[name] = "" if default == "unset" else default.strip("`")
    return rows


def settings_defaults() -> dict[str, str]:
    defaults = Settings()
    return {f.name.upper(): as_env_text(getattr(defaults, f.name)) for f in fields(Settings)}


def test_the_settings_table_documents_every_setting_with_its_default():
    documented = documented_defaults()
    expected = settings_defaults()
    assert set(expected) - set(documented) == set(), "settings missing from docs/configuration.md"
    assert set(documented) - set(expected) == set(), "rows naming no setting in docs/configuration.md"
    assert {n: documented[n] for n in expected if documented[n] != expected[n]} == {}


def test_each_documented_variable_is_the_one_settings_reads():
    source = inspect.getsource(Settings.from_env)
    assert {n for n in settings_defaults() if f'"{n}"' not in source} == set()


def test_env_example_lists_every_setting_with_its_default():
    listed, active = set(), {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        commented = line.startswith("#")
        line = line.lstrip("# ").strip()
        name, sep, value = line.partition("=")
        if not sep or not name.isupper():
            continue
        listed.add(name)
        if not commented:
            active[name] = value
    expected = settings_defaults()
    assert set(expected) - listed == set(), "settings missing from .env.example"
    assert listed - set(expected) == set(), "variables in .env.example that no setting reads"
    assert {n: v for n, v in active.items() if v != expected[n]} == {}, "values that are not the defaults"
    assert Settings.from_env(active) == Settings()  # the example is valid, and is the defaults
