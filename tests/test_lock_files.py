"""The lock files (scripts/requirements/, written by ./scripts/lock) agree with pyproject.toml.

pyproject.toml keeps lower bounds for people who install the package; the scripts, CI and the
Dockerfile install from the locks with `pip install --require-hashes`. These tests fail when
one is edited without regenerating the other: the fix is to run ./scripts/lock.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "scripts" / "requirements"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
WANTED = {
    "app.txt": PROJECT["dependencies"],
    "test.txt": PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"],
}
# pip-compile's note under a pin that pyproject.toml asks for directly.
FROM_PYPROJECT = f"{PROJECT['name']} (pyproject.toml)"

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    version: Version
    hashes: int
    via: str  # pip-compile's "# via" note: who needs the package


def read_lock(lock_name: str) -> dict[str, Pin]:
    """Each package pinned in the lock file, by canonical name.

    A pip-compile entry is a "name==version \\" line, its "--hash=sha256:..." continuation
    lines, then "# via ..." comment lines; anything else at the start of a line fails here.
    """
    pins: dict[str, Pin] = {}
    entry: list[str] = []
    for line in (LOCKS / lock_name).read_text().splitlines() + ["#"]:
        if line.startswith((" ", "\t")):
            entry.append(line)
            continue
        if entry:
            match = _PIN.fullmatch(entry[0].rstrip(" \\"))
            assert match, f"{lock_name}: not an exact pin: {entry[0]!r}"
            body = "\n".join(entry[1:])
            pins[canonicalize_name(match[1])] = Pin(Version(match[2]), len(_HASH.findall(body)), body)
            entry = []
        if line.strip() and not line.startswith("#"):
            entry = [line]
    return pins


@pytest.mark.parametrize("lock_name", sorted(WANTED))
def test_lock_pins_every_pyproject_dependency_within_its_bound_with_hashes(lock_name):
    lock = read_lock(lock_name)
    for line in WANTED[lock_name]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is in pyproject.toml, not in {lock_name}: run ./scripts/lock"
        assert requirement.specifier.contains(lock[name].version, prereleases=True), (
            f"{lock_name} pins {name}=={lock[name].version}, outside pyproject.toml's {requirement}: "
            "run ./scripts/lock"
        )
    # Dependencies of dependencies too: pip --require-hashes refuses a pin without a hash.
    unhashed = [name for name, pin in lock.items() if not pin.hashes]
    assert not unhashed, f"{lock_name}: pins without a sha256 hash: {unhashed}"


@pytest.mark.parametrize("lock_name", sorted(WANTED))
def test_lock_holds_only_what_pyproject_leads_to(lock_name):
    lock = read_lock(lock_name)
    # pip-compile notes under each pin who needs it: a pin without a note (a hand edit, or a
    # test tool that slipped into the app lock) is needed by nothing.
    unneeded = [name for name, pin in lock.items() if "# via" not in pin.via]
    assert not unneeded, f"{lock_name} pins {unneeded}, which nothing requires: run ./scripts/lock"
    wanted = {canonicalize_name(Requirement(line).name) for line in WANTED[lock_name]}
    stale = [name for name, pin in lock.items() if FROM_PYPROJECT in pin.via and name not in wanted]
    assert not stale, f"{lock_name} pins {stale} for pyproject.toml, which no longer asks for them: run ./scripts/lock"


def test_tests_run_the_versions_the_app_is_served_with():
    app, test = read_lock("app.txt"), read_lock("test.txt")
    differing = {
        name: (str(pin.version), str(test[name].version) if name in test else None)
        for name, pin in app.items()
        if name not in test or test[name].version != pin.version
    }
    assert not differing, f"app.txt and test.txt disagree (app, test): {differing}: run ./scripts/lock"
