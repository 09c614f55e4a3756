#!/usr/bin/env bash
# make demo: taxhub dev (hub + sample adapters + SQLite ledger under ./var/dev) and the hall
# submitting sample applications and following each to its end. Runs until interrupted, or
# for DEMO_SECONDS seconds of traffic, then prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
rm -rf var/dev
mkdir -p var/dev

"$BIN/taxhub" dev --config config/dev.yaml > >(sed -u 's/^/  hub | /') 2>&1 &
HUB_PID=$!
cleanup() {
  if kill -0 "$HUB_PID" 2>/dev/null; then
    kill -TERM "$HUB_PID"
    wait "$HUB_PID" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ready when the hub answers (NOT_FOUND for a request that does not exist).
for _ in $(seq 1 100); do
  if "$BIN/taxhub-hall" progress demo-ping --taxpayer 91310110666007217T 2>&1 | grep -q NOT_FOUND; then break; fi
  sleep 0.1
done

# The hub requires signatures: the hall signs with the demo keys taxhub dev made.
for _ in $(seq 1 100); do [[ -f var/dev/pki/ca.pem ]] && break; sleep 0.1; done
"$BIN/taxhub-hall" demo --seconds "${DEMO_SECONDS:-0}" --rate "${DEMO_RATE:-4}" --pki var/dev/pki
echo "— my tax area of 91310110666007217T (taxhub-hall items):"
"$BIN/taxhub-hall" items --taxpayer 91310110666007217T || true
