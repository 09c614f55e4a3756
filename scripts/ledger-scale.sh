#!/usr/bin/env bash
# make scale: a private PostgreSQL, a ledger of EVENTS events (default 10 million), and the
# progress-lookup and claim figures at that size (bench/ledger_scale.cc). Takes several minutes
# and a few GB of disk under /tmp; the server and its data are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
STATE=$(mktemp -d /tmp/taxhub-scale-XXXXXX)
chmod 755 "$STATE"  # the postgres user must reach its data directory
trap '"$BIN/taxhub-test-pg" stop "$STATE/pg" > /dev/null || true; rm -rf "$STATE"' EXIT
"$BIN/taxhub-test-pg" start "$STATE/pg"
DSN="host=127.0.0.1 port=$(cat "$STATE/pg/port") user=postgres dbname=postgres"
"$BIN/ledger_scale" --dsn "$DSN" --events "${EVENTS:-10000000}" --ready "${READY:-100000}"
