#!/usr/bin/env bash
# make bench: micro benchmarks, then durable intake measured with `taxhub-hall load` against a
# real `taxhub serve` on SQLite (synchronous=FULL) and on a private PostgreSQL server.
#   LOAD_REQUESTS (default 20000), LOAD_CLIENTS (16), LOAD_INFLIGHT (1)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
WORK=$(mktemp -d /tmp/taxhub-bench-XXXXXX)
chmod 755 "$WORK"
HUB_PID=""
cleanup() {
  [[ -n "$HUB_PID" ]] && kill -TERM "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null || true
  [[ -d "$WORK/pg" ]] && "$BIN/taxhub-test-pg" stop "$WORK/pg" > /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== micro benchmarks (ratios to the baselines in the same run)"
"$BIN/codec_bench" --benchmark_min_time=0.3 2>/dev/null | tee "$WORK/micro.txt"
awk '/^BM_/ {t[$1]=$2} END {
  printf "thrift decode / copy baseline: %.1fx\n", t["BM_ThriftDecode"]/t["BM_BaselineCopy"];
  printf "mdp build+parse / build baseline: %.2fx\n", t["BM_MdpBuildAndParse"]/t["BM_BaselineBuildFrames"];
}' "$WORK/micro.txt"

echo "== route lookup as the table grows (goal: flat, under 1 us at 10,000 routes)"
"$BIN/route_bench" --benchmark_min_time=0.3 2>/dev/null | tee "$WORK/route.txt"
awk '/^BM_RouteLookup\// {split($1, a, "/"); printf "route lookup, %s routes: %s %s (%s)\n", a[2], $2, $3, ($3 == "ns" && $2 < 1000) ? "under 1 us" : "OVER 1 us"}' "$WORK/route.txt"

FRONTEND=tcp://127.0.0.1:25555
BACKEND=tcp://127.0.0.1:25556
write_config() {  # backend ledger-yaml
  cat > "$WORK/hub.yaml" <<YAML
hub: {id: bench, data_dir: $WORK/data, log_level: warn}
broker: {frontend: $FRONTEND, backend: $BACKEND}
ledger:
$2
routes: routes.yaml
YAML
  cat > "$WORK/routes.yaml" <<YAML
routes:
  - name: vat
    match: {kind: filing.vat}
    stages: [{name: accept, service: bench.accept, time_limit: 1h}]
YAML
}
run_load() {  # label
  "$BIN/taxhub" serve --config "$WORK/hub.yaml" > "$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  for _ in $(seq 1 100); do
    grep -q " up" "$WORK/hub.log" 2>/dev/null && break
    sleep 0.1
  done
  echo "== intake on $1: taxhub-hall load --clients ${LOAD_CLIENTS:-16} --requests ${LOAD_REQUESTS:-20000} --inflight ${LOAD_INFLIGHT:-1}"
  "$BIN/taxhub-hall" --endpoint "$FRONTEND" load --clients "${LOAD_CLIENTS:-16}" \
    --requests "${LOAD_REQUESTS:-20000}" --inflight "${LOAD_INFLIGHT:-1}" | tee "$WORK/load.txt"
  kill -TERM "$HUB_PID"
  wait "$HUB_PID" || true
  HUB_PID=""
}

# Durable intake as a ratio to the raw rate at which the same rows (request, stage, two events)
# are written into the ledger's schema in batches of 100 requests (bench/raw_baseline: no
# sockets, validation, routing or hashing). Goal: >= 0.5.
ratio() {  # label raw-output
  local raw taxhub
  raw=$(awk '/requests\/s/ {print $(NF-1)}' <<< "$2")
  taxhub=$(awk '/^accepted\/s:/ {print $2}' "$WORK/load.txt")
  echo "$2"
  awk -v t="$taxhub" -v r="$raw" -v l="$1" 'BEGIN {printf "durable intake on %s: %.0f/s = %.2fx the raw batched writes (goal >= 0.50)\n", l, t, t / r}'
}

write_config sqlite "  backend: sqlite
  sqlite: {path: ledger.db, synchronous: full}"
run_load "SQLite (synchronous=FULL)"
ratio "SQLite" "$("$BIN/raw_baseline" --sqlite "$WORK/raw.db" --requests "${LOAD_REQUESTS:-20000}")"

if "$BIN/taxhub-test-pg" start "$WORK/pg" > /dev/null; then
  write_config postgres "  backend: postgres
  postgres: {dsn: \"host=127.0.0.1 port=$(cat "$WORK/pg/port") user=postgres dbname=postgres\"}"
  run_load "PostgreSQL 15 (private server, fsync on)"
  ratio "PostgreSQL" "$("$BIN/raw_baseline" --pg "host=127.0.0.1 port=$(cat "$WORK/pg/port") user=postgres dbname=postgres" \
    --requests "${LOAD_REQUESTS:-20000}")"
else
  echo "== intake on PostgreSQL: skipped, the private server did not start"
fi
