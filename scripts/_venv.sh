# Sourced by the scripts: make sure .venv exists and holds the dependencies of
# pyproject.toml (with the optional groups in EXTRAS, e.g. EXTRAS=test). The code itself
# runs from the checkout (the scripts cd to the repo root), so it is not installed.
# Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-${EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
  mapfile -t requirements < <(EXTRAS="${EXTRAS:-}" .venv/bin/python - <<'PY'
import os, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = list(project["dependencies"])
for extra in filter(None, os.environ["EXTRAS"].split(",")):
    wanted += project["optional-dependencies"][extra]
print("\n".join(wanted))
PY
  )
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
  touch "$stamp"
fi
