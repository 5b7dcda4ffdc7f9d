#!/usr/bin/env bash
# Browser check of the playground against the real server, and GraphQL over HTTP conformance:
# starts `workingtracker serve` on a private cluster and port, mints a token, lets headless
# Chromium load the embedded playground (no internet), run a query with the token and screenshot
# the result, then runs graphql-http's server audits (conformance/) against the same server.
set -euo pipefail
cd "$(dirname "$0")/.."

data="${DATA_DIR:-$PWD/.data}/e2e"
port=${E2E_PORT:-18099}
export DATA_DIR="$data" DEV_PG_PORT=${E2E_PG_PORT:-54369} HTTP_ADDR="127.0.0.1:$port" APP_ENV=development LOG_LEVEL=warn
# Metrics on any free port: a fixed one may be taken by a developer's running server.
export METRICS_ADDR=127.0.0.1:0

server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  bin/workingtracker devdb stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

bin/workingtracker serve >"$data.serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$data.serve.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null

PLAYGROUND_URL="http://127.0.0.1:$port/" \
PLAYGROUND_TOKEN="$(bin/workingtracker token --role EMPLOYEE)" \
PLAYGROUND_SCREENSHOT="${PLAYGROUND_SCREENSHOT:-$PWD/.data/playground.png}" \
  scripts/playground-e2e.sh

# GraphQL over HTTP conformance: graphql-http's server audits (MUST and SHOULD) against the same
# server, with a token on every request.
if [ ! -d conformance/node_modules/graphql-http ] || [ conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]; then
  timeout 300 npm ci --prefix conformance --no-audit --no-fund --loglevel=error
fi
GRAPHQL_URL="http://127.0.0.1:$port/query" GRAPHQL_TOKEN="$(bin/workingtracker token --role EMPLOYEE)" \
  timeout 120 node conformance/audit.mjs
