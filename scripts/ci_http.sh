#!/usr/bin/env bash
# CI steps for the HTTP/browser layer (issue 6). Call it from .ci/run BEFORE ./scripts/test,
# so that the tests which need these tools run instead of skipping:
#   - Debian's chromium + chromium-driver for tests/web/test_graphiql_browser.py
#   - graphql-http (npm, scripts/http-audit) for tests/web/test_http_audit.py
# Then it runs the GraphQL over HTTP audit once on its own (scripts/audit_http), which fails
# the build when a MUST, or an unexplained SHOULD, fails.
# Serving GraphiQL needs no npm: its built assets are committed (scripts/build_graphiql).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "ci_http: installing chromium and chromium-driver" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium --version

(cd scripts/http-audit && npm ci --no-audit --no-fund --silent)

./scripts/audit_http
