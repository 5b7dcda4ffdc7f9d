#!/usr/bin/env bash
# Runs every test against real servers: a private PostgreSQL cluster (fsync off, its own port and
# folder, so it never touches the development database) and a private redis-server, both started
# here and stopped on exit. TEST_DATABASE_URL / TEST_REDIS_URL point at existing servers instead.
set -euo pipefail
# The binary defaults to production; these private clusters are development.
export APP_ENV="${APP_ENV:-development}"
cd "$(dirname "$0")/.."

GO=${GO:-go}
test_data="${DATA_DIR:-$PWD/.data}/test"
started_pg=""
redis_pidfile=""

cleanup() {
  if [ -n "$started_pg" ]; then
    DATA_DIR="$test_data" $GO run ./cmd/workingtracker devdb stop >/dev/null 2>&1 || true
  fi
  if [ -n "$redis_pidfile" ] && [ -f "$redis_pidfile" ]; then
    kill "$(cat "$redis_pidfile")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# free_port prints the first port from $1 on that nothing listens on (another checkout's test
# servers may be running on this machine).
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  # A test cluster someone already runs (a developer iterating) is used and left running.
  [ -f "$test_data/pg/data/postmaster.pid" ] || started_pg=1
  TEST_DATABASE_URL=$(DATA_DIR="$test_data" DEV_PG_PORT="${TEST_PG_PORT:-$(free_port 54339)}" \
    $GO run ./cmd/workingtracker devdb start --fast)
fi
export TEST_DATABASE_URL

if [ -z "${TEST_REDIS_URL:-}" ] && command -v redis-server >/dev/null; then
  port=${TEST_REDIS_PORT:-$(free_port 56379)}
  mkdir -p "$test_data"
  redis_pidfile="$test_data/redis.pid"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$redis_pidfile" --logfile "$test_data/redis.log" --dir "$test_data"
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
fi

# The alert rules: valid, and each alert fires on the series that should page and stays silent
# on healthy ones (deploy/prometheus/rules_test.yml).
if command -v promtool >/dev/null; then
  promtool check rules deploy/prometheus/rules.yml
  (cd deploy/prometheus && promtool test rules rules_test.yml)
else
  echo "promtool is missing (Debian's prometheus package; scripts/ensure-deps.sh installs it as root)" >&2
  exit 1
fi

$GO test -race -count=1 -timeout 15m "$@" ./...
