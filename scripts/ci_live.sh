#!/usr/bin/env bash
# CI steps for live updates (issue 3). Expects Redis (REDIS_URL, default 127.0.0.1:6379)
# and PostgreSQL (127.0.0.1:5432, user postgres) to be up, as .ci/run makes sure.
#  1. the live tests with Redis required: a missing Redis or redis-server fails them
#     instead of skipping (the cross-process and outage tests must really run on CI);
#  2. a short benchmark run, as a smoke test that it works (figures printed, not judged).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIRE_REDIS=1 ./scripts/test tests/live -q
./scripts/bench_live --subscribers 200 --joins 5
