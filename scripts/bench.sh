#!/usr/bin/env bash
# Load benchmark (`make bench`): the GraphQL server over loopback HTTP against the "floor" of
# hand-written SQL through pgx, on the large demo data set (2,000 employees, 500 projects, about
# 1,000,000 time entries).
#
# It runs against a PostgreSQL cluster of its own (folder $DATA_DIR/bench, port 54349), never the
# development or test cluster: seeding it takes minutes and the numbers must not depend on what
# else those clusters hold. The data outlives the run, so the next run only restarts the cluster
# and finds the tenant seeded ("exists already").
#
# The cluster is stopped when the script exits. BENCH_KEEP_CLUSTER=1 leaves it running (to poke at
# it with psql, or for quicker reruns); stop it later with
#   DATA_DIR="$PWD/.data/bench" bin/workingtracker devdb stop
#
# Environment:
#   BENCH_DATABASE_URL  use this database instead of the bench cluster (seeded when empty)
#   BENCH_DURATION      measured time per workload and client count (Go duration, default 5s)
#   BENCH_OUT           also write the results table to this file
#   BENCH_PG_PORT       port of the bench cluster (default 54349)
#   BENCH_KEEP_CLUSTER  non-empty: leave the bench cluster running
set -euo pipefail
# The binary defaults to production; these private clusters are development.
export APP_ENV="${APP_ENV:-development}"
cd "$(dirname "$0")/.."

GO=${GO:-go}
BIN=bin/workingtracker
bench_data="${DATA_DIR:-$PWD/.data}/bench"

if [[ ! -x $BIN ]]; then
  $GO build -o "$BIN" ./cmd/workingtracker
fi

stop_cluster=""
redis_pidfile=""
cleanup() {
  if [[ -n $redis_pidfile && -s $redis_pidfile ]]; then kill "$(cat "$redis_pidfile")" || true; fi
  if [[ -n $stop_cluster ]]; then DATA_DIR="$bench_data" "$BIN" devdb stop || true; fi
}
trap cleanup EXIT

if [[ -z ${BENCH_DATABASE_URL:-} ]]; then
  [[ -n ${BENCH_KEEP_CLUSTER:-} ]] || stop_cluster=1
  BENCH_DATABASE_URL=$(DATA_DIR="$bench_data" DEV_PG_PORT="${BENCH_PG_PORT:-54349}" "$BIN" devdb start)
fi
export BENCH_DATABASE_URL
echo "bench database: $BENCH_DATABASE_URL"

# seed migrates first and refuses to seed twice, so this is a no-op on every run but the first.
seed_started=$(date +%s)
DATABASE_URL="$BENCH_DATABASE_URL" "$BIN" seed --scale large
echo "seed step took $(($(date +%s) - seed_started))s"

# The server connects as production's would: an ordinary role, bound by row-level security (a
# superuser bypasses it). The floor keeps the superuser: it is raw data access.
if [[ -z ${BENCH_APP_DATABASE_URL:-} ]]; then
  psql "$BENCH_DATABASE_URL" -v ON_ERROR_STOP=1 -q <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wt_app') THEN CREATE ROLE wt_app LOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA public TO wt_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO wt_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO wt_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO wt_app;
SQL
  BENCH_APP_DATABASE_URL=${BENCH_DATABASE_URL/postgres@/wt_app@}
fi
export BENCH_APP_DATABASE_URL
echo "server connects as: $BENCH_APP_DATABASE_URL"

$GO test -tags bench -run '^TestLoad$' -count=1 -timeout 60m -v ./bench/

# The security chain's price per request (authentication, document limits, cost, budget in
# process and in Redis, headers) against the same server without it. It clones a test database
# from the bench cluster and uses a private redis-server.
if [[ -z ${TEST_REDIS_URL:-} ]] && command -v redis-server >/dev/null; then
  port=56399
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  redis_pidfile="$bench_data/redis.pid"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$redis_pidfile" --logfile "$bench_data/redis.log" --dir "$bench_data"
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  for _ in $(seq 50); do [[ -s $redis_pidfile ]] && break; sleep 0.1; done
fi
TEST_DATABASE_URL="$BENCH_DATABASE_URL" $GO test -run '^$' -bench 'SecurityChain' -benchtime "${BENCH_CHAIN_TIME:-3s}" \
  -count=1 ./httpapi/ | grep -v testdbconf

# Subscriptions: 10,000 graphql-transport-ws subscriptions held on loopback (clients in a child
# process), memory per connection and publish-to-delivery latency (bench/subscriptions_test.go).
TEST_DATABASE_URL="$BENCH_DATABASE_URL" $GO test -tags bench -run '^TestSubscriptionLoad$' -count=1 -timeout 15m -v ./bench/ \
  | grep -v testdbconf

# Reports (bench/reports_test.go): productivityReport's first page for every employee over 12
# months by month, from the view and live from time_entries; the year-long daily CSV export's
# rows per second; and that export's memory (live heap and RSS growth while it streams).
$GO test -tags bench -run '^TestExportMemory$' -bench 'ProductivityReport|ExportCSV' -benchtime 5x -count=1 -timeout 30m -v ./bench/ \
  | grep -E '^(Benchmark|--- |ok|FAIL)|reports_test'
