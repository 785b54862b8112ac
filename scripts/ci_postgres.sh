#!/usr/bin/env bash
# CI: the whole suite twice, on SQLite and on PostgreSQL, then the EXPLAIN check.
# Starts the local PostgreSQL (127.0.0.1:5432, user postgres, trust auth) if it is down. The
# PostgreSQL pass makes its own throwaway databases: a migrated template per run and a clone
# of it per test (tests/conftest.py), all dropped at the end; the EXPLAIN check makes and
# drops its own too.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
if ! pg_ready; then
  echo "starting PostgreSQL" >&2
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done  # bounded: 30 s
  pg_ready || { echo "PostgreSQL did not start on $PG_HOST:$PG_PORT" >&2; exit 1; }
fi

psql_admin() { psql -v ON_ERROR_STOP=1 -qAt -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "$1"; }
cleanup() {
  # Databases a killed earlier run left behind (only in CI: on a shared development
  # server other people's test databases carry the same prefixes).
  if [ "${CI:-}" = "true" ]; then
    for db in $(psql_admin "SELECT datname FROM pg_database WHERE datname ~ '^(gs_test_|gs_template_|gs_explain_|gs_bench_)'"); do
      psql_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
    done
  fi
}
trap cleanup EXIT

export TEST_DATABASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres"
./scripts/test "$@"
