# Sourced by .ci/run: dropping the throwaway PostgreSQL databases of CI runs, and only those.
# A CI run's databases are named gs_ci<PID of its .ci/run>_<kind>_<random>; the server is
# local (127.0.0.1), so that PID says whether the run is still going.

psql_admin() { psql -qAt -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -d postgres "$@"; }

# drop_databases_of PREFIX [FORCE]: drops the databases named PREFIX_*. With FORCE (a run's
# own, at its end) their connections are closed first; without, one in use is left alone.
drop_databases_of() {
  local db
  for db in $(psql_admin -c "SELECT datname FROM pg_database WHERE starts_with(datname, '${1}_')"); do
    if [ "${2:-}" = FORCE ]; then
      psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
    else
      psql_admin -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    fi
  done
}

# drop_databases_of_dead_runs: what CI runs killed before their EXIT trap left behind
# (their process is gone), without FORCE.
drop_databases_of_dead_runs() {
  local prefix
  for prefix in $(psql_admin -c "SELECT DISTINCT substring(datname from '^(gs_ci[0-9]+)_')
                                 FROM pg_database WHERE datname ~ '^gs_ci[0-9]+_'"); do
    [ -d "/proc/${prefix#gs_ci}" ] || drop_databases_of "$prefix"
  done
}
