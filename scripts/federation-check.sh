#!/usr/bin/env bash
# Apollo Federation check: composes this subgraph with a second one (federation/hr-subgraph.mjs,
# which extends Employee and owns Review) behind an Apollo gateway (federation/gateway.mjs), and
# runs cross-subgraph queries in both directions (federation/check.mjs).
#
# Everything it starts is private and stopped on exit, by PID: a development server with its own
# PostgreSQL cluster under $DATA_DIR/federation (default .data/federation, seeded with the demo
# data on first use), the hr subgraph and the gateway, all on 127.0.0.1. Ports (override if taken):
#   FED_WT_PORT=18090 (Go server)  FED_HR_PORT=18091  FED_GATEWAY_PORT=18092  FED_PG_PORT=54359
# Logs and the composed supergraph: $DATA_DIR/federation/logs/.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/workingtracker

base_data=${DATA_DIR:-$ROOT/.data}
case $base_data in /*) ;; *) base_data=$ROOT/$base_data ;; esac
export DATA_DIR=$base_data/federation
export DEV_PG_PORT=${FED_PG_PORT:-54359}
export APP_ENV=development
unset DATABASE_URL OIDC_ISSUER OIDC_AUDIENCE OIDC_JWKS_URL
# Nothing leaves the machine: no Apollo usage reporting or gateway telemetry (which would also
# probe cloud metadata addresses).
unset APOLLO_KEY APOLLO_GRAPH_REF APOLLO_SCHEMA_REPORTING
export APOLLO_TELEMETRY_DISABLED=true
WT_PORT=${FED_WT_PORT:-18090}
HR_PORT=${FED_HR_PORT:-18091}
GW_PORT=${FED_GATEWAY_PORT:-18092}
WT_URL=http://127.0.0.1:$WT_PORT/query
HR_URL=http://127.0.0.1:$HR_PORT/
GW_URL=http://127.0.0.1:$GW_PORT/
LOGS=$DATA_DIR/logs
# An id no employee has, and the seed's second tenant (its employees must stay invisible).
UNKNOWN_ID=00000000-0000-4000-8000-000000000000
OTHER_TENANT=globex

log() { printf '[federation-check] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pids=()
names=()
cluster_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    local pid=${pids[i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      log "${names[i]} (pid $pid) did not stop in 15s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if ((cluster_started)); then
    timeout 60 "$BIN" devdb stop >/dev/null 2>&1 || log "could not stop the private PostgreSQL cluster in $DATA_DIR/pg"
  fi
  if ((rc != 0 && ${#pids[@]} > 0)); then
    for f in "$LOGS"/*.log; do
      [ -s "$f" ] || continue
      log "--- last lines of $f"
      tail -n 25 "$f" | sed -E 's/eyJ[A-Za-z0-9_.-]+/<token>/g' >&2
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # start NAME LOGFILE COMMAND...: runs COMMAND in the background, remembers its PID
  local name=$1 logfile=$2
  shift 2
  "$@" >"$logfile" 2>&1 &
  pids+=("$!")
  names+=("$name")
}

# wait_for NAME PID SECONDS COMMAND...: until COMMAND succeeds, failing early if PID exits.
wait_for() {
  local name=$1 pid=$2 seconds=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before it was ready"
    ((SECONDS < deadline)) || die "$name was not ready within ${seconds}s"
    sleep 0.5
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

graphql_ok() { # graphql_ok URL: the server answers a trivial query
  curl -fsS --max-time 5 -H 'Content-Type: application/json' -d '{"query":"{ __typename }"}' "$1"
}

# employee_ids TOKEN N: the ids of the first N employees the token's tenant has, comma-separated.
employee_ids() {
  curl -fsS --max-time 15 -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"query\":\"{ employees(first: $2) { nodes { id } } }\"}" "$WT_URL" |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const b = JSON.parse(s);
      if (b.errors || !b.data) { console.error(JSON.stringify(b)); process.exit(1); }
      console.log(b.data.employees.nodes.map((n) => n.id).join(","));
    });'
}

command -v node >/dev/null || die "node (20 or later) is required"
command -v npm >/dev/null || die "npm is required"
command -v curl >/dev/null || die "curl is required"
# (The PostgreSQL port is not checked: a cluster of a previous run in $DATA_DIR is reused.)
for p in "$WT_PORT" "$HR_PORT" "$GW_PORT"; do
  port_free "$p" || die "port $p on 127.0.0.1 is in use: set FED_WT_PORT, FED_HR_PORT or FED_GATEWAY_PORT"
done
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/supergraph.graphql

scripts/ensure-deps.sh
log "building $BIN"
timeout 600 go build -o "$BIN" ./cmd/workingtracker

log "installing federation/ dependencies"
if [ ! -f federation/package-lock.json ]; then
  timeout 300 npm install --prefix federation --no-audit --no-fund --loglevel=error
elif [ federation/node_modules/.package-lock.json -nt federation/package-lock.json ] &&
  [ federation/node_modules/.package-lock.json -nt federation/package.json ]; then
  log "federation/node_modules is up to date"
else
  timeout 300 npm ci --prefix federation --no-audit --no-fund --loglevel=error
fi

log "starting the Working Tracker subgraph on 127.0.0.1:$WT_PORT (data: $DATA_DIR)"
cluster_started=1
start "workingtracker serve" "$LOGS/workingtracker.log" env HTTP_ADDR="127.0.0.1:$WT_PORT" METRICS_ADDR=127.0.0.1:0 "$BIN" serve
wt_pid=${pids[-1]}
wait_for "workingtracker serve" "$wt_pid" 180 curl -fsS --max-time 3 "http://127.0.0.1:$WT_PORT/readyz"

TOKEN=$(timeout 60 "$BIN" token --role ADMIN)
KNOWN=$(employee_ids "$TOKEN" 3)
[ -n "$KNOWN" ] || die "the demo tenant has no employees"
FOREIGN=
if other_token=$(timeout 60 "$BIN" token --tenant "$OTHER_TENANT" --role ADMIN 2>/dev/null); then
  FOREIGN=$(employee_ids "$other_token" 1)
fi
log "reviews reference employees $KNOWN, unknown $UNKNOWN_ID${FOREIGN:+, employee $FOREIGN of tenant $OTHER_TENANT}"

log "starting the hr subgraph on $HR_URL"
start "hr subgraph" "$LOGS/hr-subgraph.log" env HR_PORT="$HR_PORT" \
  HR_EMPLOYEE_IDS="$KNOWN,$UNKNOWN_ID${FOREIGN:+,$FOREIGN}" node federation/hr-subgraph.mjs
wait_for "hr subgraph" "${pids[-1]}" 60 graphql_ok "$HR_URL"

log "composing and starting the gateway on $GW_URL"
start "gateway" "$LOGS/gateway.log" env GATEWAY_PORT="$GW_PORT" WT_SUBGRAPH_URL="$WT_URL" HR_SUBGRAPH_URL="$HR_URL" \
  SUBGRAPH_SDL_TOKEN="$TOKEN" SUPERGRAPH_OUT="$LOGS/supergraph.graphql" node federation/gateway.mjs
wait_for "gateway" "${pids[-1]}" 90 graphql_ok "$GW_URL"
cat "$LOGS/gateway.log" >&2

GATEWAY_URL=$GW_URL WT_SUBGRAPH_URL=$WT_URL WT_TOKEN=$TOKEN KNOWN_EMPLOYEE_IDS=$KNOWN \
  UNKNOWN_EMPLOYEE_IDS=$UNKNOWN_ID FOREIGN_EMPLOYEE_IDS=$FOREIGN timeout 300 node federation/check.mjs
