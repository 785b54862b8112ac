# Sourced by the scripts: make sure .venv exists and holds exactly the versions of a lock file
# (LOCK=app: scripts/requirements/app.txt, what the app runs with; LOCK=test: test.txt, the
# app's plus the test tools). ./scripts/lock regenerates both from pyproject.toml. The code
# itself runs from the checkout (the scripts cd to the repo root), so it is not installed.
# Reinstalls when the lock file's content differs from the one last installed from it (its
# sha256 is kept in .venv/.installed-<lock>), so a pull or a branch switch that changes the
# lock reinstalls, and one that does not change it costs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
lock="scripts/requirements/${LOCK:?LOCK=app or LOCK=test}.txt"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-${LOCK}"
lock_sum=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$lock")
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "installing $lock into .venv" >&2
  # --require-hashes: every package, dependencies included, must be in the lock with the hash
  # of a file PyPI has, whatever index or local wheel directory this machine's pip uses.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  echo "$lock_sum" > "$stamp"
fi
