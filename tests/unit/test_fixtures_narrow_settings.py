"""Fixtures only ever narrow the root settings (tests/conftest.py `settings`, which keeps the
outbox worker off and SMTP on the session's trap): a fixture that builds Settings from
scratch, or an app built on fresh Settings, would run a mail worker against localhost:1025."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT_SETTINGS = ("conftest.py", "settings")


def _is_fixture(function: ast.AST) -> bool:
    for decorator in getattr(function, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            return True
    return False


def _builds_settings(node: ast.AST) -> bool:
    """A call of Settings(...) or Settings.from_env(...)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "Settings") or (
        isinstance(func, ast.Attribute) and func.attr == "from_env"
        and isinstance(func.value, ast.Name) and func.value.id == "Settings"
    )


def offenders() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        where = path.relative_to(TESTS)
        if where.parts[0] == "perf":
            continue  # the benchmark runner: a tool with settings of its own, not a test
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if _is_fixture(node) and (str(where), node.name) != ROOT_SETTINGS:
                found += [f"{where}:{n.lineno} fixture {node.name}" for n in ast.walk(node) if _builds_settings(n)]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "create_app":
                found += [f"{where}:{n.lineno} create_app(Settings(...))" for a in node.args for n in ast.walk(a) if _builds_settings(n)]
    return found


def test_no_fixture_builds_settings_from_scratch():
    assert offenders() == []


def test_the_check_sees_a_fixture_that_does(tmp_path):
    """The check itself: a rebuilt Settings in a fixture is found (so an empty list means something)."""
    tree = ast.parse("@pytest.fixture\ndef settings(database_url):\n    return Settings(database_url=database_url)\n")
    fixture = tree.body[0]
    assert _is_fixture(fixture) and any(_builds_settings(n) for n in ast.walk(fixture))
