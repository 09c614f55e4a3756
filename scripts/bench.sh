#!/usr/bin/env bash
# make bench: taxhub measured against the limits of its own stack (issue 8). Every figure is a
# ratio to a baseline measured in the same run on this machine; the run ends with one line per
# target: "target N: <name> ratio=<measured> goal=<goal> PASS|FAIL".
#
#   LOAD_REQUESTS     durable intake, per backend          (default 100000)
#   SIGNED_REQUESTS   signed intake, per algorithm          (default 40000)
#   WORKFLOW_REQUESTS whole workflows                       (default 20000)
#   MEMORY_REQUESTS   requests waiting for a down adapter   (default 1000000)
#   SCALE_EVENTS      events in the ledger-at-scale run     (default 10000000; 0 skips it)
#   PEER_ROUNDS       rounds of target 8, RabbitMQ and the hub in turn  (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
WORK=$(mktemp -d /tmp/taxhub-bench-XXXXXX)
chmod 755 "$WORK"  # the postgres user must reach its data directory
HUB_PID="" ADAPTER_PID="" SAMPLER_PID=""
TARGETS=()
cleanup() {
  # The table, with whatever was measured, even when a step failed.
  echo
  if [[ ${#TARGETS[@]} -gt 0 ]]; then printf '%s\n' "${TARGETS[@]}" | sort -s -k2,2n; fi
  for pid in $SAMPLER_PID $ADAPTER_PID $HUB_PID; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [[ -d "$WORK/pg" ]] && "$BIN/taxhub-test-pg" stop "$WORK/pg" > /dev/null || true
  for dir in "$WORK"/rabbit*/; do
    [[ -f "$dir/rabbit.pid" ]] && scripts/bench-rabbitmq.sh stop "$dir" > /dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

FRONTEND=tcp://127.0.0.1:25555
BACKEND=tcp://127.0.0.1:25556
N_INTAKE=${LOAD_REQUESTS:-100000}
N_SIGNED=${SIGNED_REQUESTS:-40000}
N_WORKFLOW=${WORKFLOW_REQUESTS:-20000}
N_MEMORY=${MEMORY_REQUESTS:-1000000}
N_EVENTS=${SCALE_EVENTS:-10000000}
PEER_ROUNDS=${PEER_ROUNDS:-3}
[[ $PEER_ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "PEER_ROUNDS must be a whole number of at least 1" >&2; exit 2; }

# target N NAME RATIO GOAL OP [OTHER_OK] [DETAIL]: OP is >= or <=; OTHER_OK 0 fails the target
# whatever the ratio (a second condition).
target() {
  local verdict bound=""
  [[ $5 == "<=" ]] && bound="<="
  verdict=$(awk -v r="$3" -v g="$4" -v op="$5" -v other="${6:-1}" \
    'BEGIN {print (other == 1 && ((op == ">=" && r >= g) || (op == "<=" && r <= g))) ? "PASS" : "FAIL"}')
  TARGETS+=("target $1: $2 ratio=$3 goal=$bound$4 $verdict${7:+ ($7)}")
}
calc() { awk "BEGIN {printf \"%.2f\", $1}"; }
field() { sed -n "s|.*$1[=: ]*\([0-9.]*\).*|\1|p" "$2" | head -1; }  # the number after NAME in FILE

# ---- the hub under test ----------------------------------------------------------------------
cat > "$WORK/routes.yaml" <<'YAML'
passthrough:
  - {service: bench.echo, timeout: 5s}
routes:
  - name: intake          # one adapter stage, whose adapter is not running: intake only
    match: {kind: filing.vat}
    stages: [{name: accept, service: bench.accept, time_limit: 1h}]
  - name: workflow        # three automated stages
    match: {kind: filing.cit}
    stages:
      - {name: accept, service: bench.s1, time_limit: 1h}
      - {name: assess, service: bench.s2, time_limit: 1h}
      - {name: file, service: bench.s3, time_limit: 1h}
YAML
sqlite_ledger="  backend: sqlite
  sqlite: {path: ledger.db, synchronous: full}"
start_hub() {  # ledger-yaml [extra-yaml]
  rm -rf "$WORK/data"
  cat > "$WORK/hub.yaml" <<YAML
hub: {id: bench, data_dir: $WORK/data, log_level: warn}
broker: {frontend: $FRONTEND, backend: $BACKEND}
ledger:
$1
routes: routes.yaml
${2:-}
YAML
  "$BIN/taxhub" serve --config "$WORK/hub.yaml" > "$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  for _ in $(seq 1 100); do
    grep -q " up" "$WORK/hub.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the hub did not start:"; cat "$WORK/hub.log"; exit 1
}
stop_hub() {
  kill -TERM "$HUB_PID"; wait "$HUB_PID" || true; HUB_PID=""
}
start_adapter() {
  "$BIN/taxhub-adapter-sample" --endpoint "$BACKEND" --service bench.s1 --service bench.s2 \
    --service bench.s3 --workers 16 --delay 0 --log-level warn > "$WORK/adapter.log" 2>&1 &
  ADAPTER_PID=$!
}
stop_adapter() { kill -TERM "$ADAPTER_PID"; wait "$ADAPTER_PID" || true; ADAPTER_PID=""; }
load() {  # output-file load-arguments…
  local out=$1; shift
  "$BIN/taxhub-hall" --endpoint "$FRONTEND" load "$@" > "$out"
  sed 's/^/    /' "$out"
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
# CPU clock ticks used so far by process PID, all its threads; and by its thread named NAME
# (hub/base/thread_name.h; names hold no spaces, so stat's second field is "(NAME)").
process_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
thread_ticks() { cat /proc/"$1"/task/*/stat 2>/dev/null | awk -v name="($2)" '$2 == name {t += $14 + $15} END {print t + 0}'; }
# The whole machine's clock ticks so far: "idle steal total" (idle counts I/O wait; steal is CPU
# time the hypervisor gave to other guests).
machine_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print $5 + $6, $9, t}' /proc/stat; }
# How idle the machine was since machine_ticks printed START, and how much the hypervisor took.
machine_share() {
  echo "$1 $(machine_ticks)" | awk '{t = $6 - $3; if (t <= 0) t = 1
    printf "the machine idle %.0f%%, stolen by the hypervisor %.0f%%", 100 * ($4 - $1) / t, 100 * ($5 - $2) / t}'
}
all_completed() { [[ $(field "completed=" "$1") -ge $2 ]] && echo 1 || echo 0; }  # ledger_figures FILE N

echo "== micro benchmarks"
"$BIN/codec_bench" --benchmark_min_time=0.3 2>/dev/null | grep "^BM_" | tee "$WORK/micro.txt"
awk '/^BM_/ {t[$1]=$2} END {
  printf "thrift decode / copy baseline: %.1fx\n", t["BM_ThriftDecode"]/t["BM_BaselineCopy"];
  printf "mdp build+parse / build baseline: %.2fx\n", t["BM_MdpBuildAndParse"]/t["BM_BaselineBuildFrames"];
}' "$WORK/micro.txt"
"$BIN/route_bench" --benchmark_min_time=0.3 2>/dev/null | grep "^BM_RouteLookup/10000 "

# ---- 1. pass-through -------------------------------------------------------------------------
echo "== 1. pass-through: hall -> hub -> echo adapter -> hall, 512 B, 16 in flight, vs a raw ROUTER broker"
start_hub "$sqlite_ledger"
"$BIN/passthrough_bench" --frontend "$FRONTEND" --backend "$BACKEND" --service bench.echo \
  --requests 200000 | tee "$WORK/pt.txt"
stop_hub
raw_rate=$(grep "^raw" "$WORK/pt.txt" | field " rate" /dev/stdin)
hub_rate=$(grep "^taxhub" "$WORK/pt.txt" | field " rate" /dev/stdin)
raw_p99=$(grep "^raw" "$WORK/pt.txt" | field p99_us /dev/stdin)
hub_p99=$(grep "^taxhub" "$WORK/pt.txt" | field p99_us /dev/stdin)
p99_ratio=$(calc "$hub_p99 / $raw_p99")
target 1 pass-through "$(calc "$hub_rate / $raw_rate")" 0.70 ">=" "$(awk -v p="$p99_ratio" 'BEGIN {print (p <= 2) ? 1 : 0}')" \
  "p99 at half load ${p99_ratio}x the raw broker's, goal <=2"

# ---- 2. durable intake, 5. acknowledgement latency -------------------------------------------
echo "== 2. durable intake on SQLite (synchronous=FULL): 16 clients x 8 in flight, $N_INTAKE unsigned submits"
start_hub "$sqlite_ledger"
load "$WORK/intake.txt" --clients 16 --inflight 8 --requests "$N_INTAKE"
intake_sqlite=$(field "accepted/s" "$WORK/intake.txt")
half=$(awk -v r="$intake_sqlite" 'BEGIN {printf "%d", r / 2}')
echo "== 5. acknowledgement latency at half of that: --rate $half"
hub_ticks_t5=$(process_ticks "$HUB_PID")
machine_t5=$(machine_ticks)
TIMEFORMAT="%U %S"  # bash's own time: the hall's CPU seconds, user and system
{ time load "$WORK/latency.txt" --clients 16 --inflight 8 --requests "$((half * 5))" --rate "$half" 2>&3; } 3>&2 2> "$WORK/latency_cpu.txt"
# How much of the two cores the hub and the hall kept busy: at "half" load the machine may be full.
t5_seconds=$(sed -n 's/^load: .* in \([0-9.]*\) s$/\1/p' "$WORK/latency.txt")
t5_cores=$(awk -v hub="$(($(process_ticks "$HUB_PID") - hub_ticks_t5))" -v hz="$(getconf CLK_TCK)" -v s="$t5_seconds" \
  -v hall="$(tail -1 "$WORK/latency_cpu.txt" | awk '{print $1 + $2}')" \
  'BEGIN {printf "the hub kept %.2f cores busy, the hall %.2f, of 2", hub / hz / s, hall / s}')
t5_cores="$t5_cores; $(machine_share "$machine_t5")"
echo "$t5_cores"
stop_hub
"$BIN/raw_baseline" --sqlite "$WORK/raw.db" --requests "$N_INTAKE" | tee "$WORK/raw.txt"
raw_sqlite=$(field "each)" "$WORK/raw.txt")
sqlite_ratio=$(calc "$intake_sqlite / $raw_sqlite")
echo "durable intake on SQLite: $intake_sqlite/s = ${sqlite_ratio}x the raw batched writes"
p99_ack=$(sed -n 's/^latency ms:.*p99 \([0-9.]*\).*/\1/p' "$WORK/latency.txt")
late_ack=$(sed -n 's/^sends late ms:.*p99 \([0-9.]*\).*/\1/p' "$WORK/latency.txt")
target 5 ack-latency "$(calc "$p99_ack / 5")" 1.00 "<=" 1 \
  "submit p99 ${p99_ack} ms at ${half}/s, goal <=5 ms; the hall sent p99 ${late_ack} ms late, which the p99 includes; $t5_cores"

pg_ratio=""
if "$BIN/taxhub-test-pg" start "$WORK/pg" > /dev/null; then
  DSN="host=127.0.0.1 port=$(cat "$WORK/pg/port") user=postgres dbname=postgres"
  echo "== 2. durable intake on PostgreSQL 15 (private server, fsync on): $((N_INTAKE / 5)) submits"
  pg_ledger="  backend: postgres
  postgres: {dsn: \"$DSN\"}"
  start_hub "$pg_ledger"
  load "$WORK/intake_pg.txt" --clients 16 --inflight 8 --requests "$((N_INTAKE / 5))"
  stop_hub
  intake_pg=$(field "accepted/s" "$WORK/intake_pg.txt")
  "$BIN/raw_baseline" --pg "$DSN" --requests "$((N_INTAKE / 5))" | tee "$WORK/raw_pg.txt"
  raw_pg=$(field "each)" "$WORK/raw_pg.txt")
  pg_ratio=$(calc "$intake_pg / $raw_pg")
  echo "durable intake on PostgreSQL: $intake_pg/s = ${pg_ratio}x the raw batched writes"
fi
worst=$(awk -v a="$sqlite_ratio" -v b="${pg_ratio:-$sqlite_ratio}" 'BEGIN {printf "%.2f", a < b ? a : b}')
target 2 durable-intake "$worst" 0.50 ">=" "$([[ -n $pg_ratio ]] && echo 1 || echo 0)" \
  "SQLite ${sqlite_ratio}x, PostgreSQL ${pg_ratio:-not measured}x of raw batched writes of the same rows"

# ---- 3. signed intake --------------------------------------------------------------------------
"$BIN/taxhub" demo-pki "$WORK/pki" > /dev/null
signed_worst=""
for algorithm in ecdsa sm2; do
  speed=$([[ $algorithm == ecdsa ]] && echo ecdsap256 || echo sm2)
  verify=$(openssl speed -seconds 3 -multi 2 "$speed" 2>/dev/null | awk '/bits/ && /\(/ {v=$NF} END {printf "%d", v}')
  echo "== 3. signed intake, $algorithm: the machine verifies $verify/s on both cores (openssl speed -multi 2 $speed)"
  start_hub "$sqlite_ledger" "security: {ca_bundle: $WORK/pki/ca.pem}"
  load "$WORK/signed.txt" --clients 16 --inflight 8 --requests "$N_SIGNED" --pki "$WORK/pki" --algorithm "$algorithm"
  stop_hub
  signed=$(field "accepted/s" "$WORK/signed.txt")
  base=$(awk -v v="$verify" -v u="$intake_sqlite" 'BEGIN {print v < u ? v : u}')
  ratio=$(calc "$signed / $base")
  echo "signed intake, $algorithm: $signed/s = ${ratio}x of min(verify rate $verify/s, unsigned intake $intake_sqlite/s)"
  signed_detail="${signed_detail:-}${signed_detail:+, }$algorithm ${ratio}x"
  signed_worst=$(awk -v a="${signed_worst:-$ratio}" -v b="$ratio" 'BEGIN {printf "%.2f", a < b ? a : b}')
done
target 3 signed-intake "$signed_worst" 0.70 ">=" 1 "$signed_detail of min(verify rate on both cores, unsigned intake)"

# ---- 4. whole workflows ----------------------------------------------------------------------
echo "== 4. whole workflows: three automated stages on instant adapters, $N_WORKFLOW requests"
start_hub "$sqlite_ledger"
start_adapter
engine_ticks0=$(thread_ticks "$HUB_PID" engine)
hub_ticks0=$(process_ticks "$HUB_PID"); adapter_ticks0=$(process_ticks "$ADAPTER_PID")
machine_t4=$(machine_ticks); t4_start_ms=$(date +%s%3N)
TIMEFORMAT="%U %S"  # bash's own time: the hall's CPU seconds, user and system
{ time "$BIN/taxhub-hall" --endpoint "$FRONTEND" load --clients 16 --inflight 8 --requests "$N_WORKFLOW" \
    --kind filing.cit > "$WORK/workflow_intake.txt" 2> "$WORK/hall_errors.txt"; } 2> "$WORK/hall_cpu.txt"
cat "$WORK/hall_errors.txt" >&2
sed 's/^/    /' "$WORK/workflow_intake.txt"
/usr/bin/python3 bench/ledger_figures.py "$WORK/data/ledger.db" "$N_WORKFLOW" 600 | tee "$WORK/workflow.txt" || true
engine_ticks=$(($(thread_ticks "$HUB_PID" engine) - engine_ticks0))
t4_ms=$(($(date +%s%3N) - t4_start_ms)); t4_machine=$(machine_share "$machine_t4")
hub_ticks=$(($(process_ticks "$HUB_PID") - hub_ticks0)); adapter_ticks=$(($(process_ticks "$ADAPTER_PID") - adapter_ticks0))
stop_adapter
stop_hub
# Where the CPU goes, per completed request: what bounds this target on two cores.
hz=$(getconf CLK_TCK)
awk -v hz="$hz" -v n="$(field "completed=" "$WORK/workflow.txt")" -v hub="$hub_ticks" -v engine_ticks="$engine_ticks" -v adapter="$adapter_ticks" \
    -v hall="$(awk '{print $1 + $2}' "$WORK/hall_cpu.txt")" '
  BEGIN {
    if (n == 0) n = 1
    us = 1e6 / hz / n; engine = engine_ticks * us; rest = (hub - engine_ticks) * us; ad = adapter * us; ha = hall * 1e6 / n
    total = engine + rest + ad + ha
    printf "CPU per completed request: engine thread %.0f us, the hub'"'"'s other threads %.0f us, adapter %.0f us, hall %.0f us;", engine, rest, ad, ha
    printf " %.0f us in all, which two cores allow %.0f times a second\n", total, 2e6 / total
  }' | tee "$WORK/workflow_cpu.txt"
# The engine is serial: on a core nearly all the run while the machine idles, it is the bound.
# (The run ends at the first poll that finds every request done: up to half a second late.)
t4_busy="the engine thread on a core $(awk -v t="$engine_ticks" -v hz="$hz" -v ms="$t4_ms" 'BEGIN {printf "%.0f", 100 * t / hz / (ms / 1000)}')% of the run; $t4_machine"
echo "$t4_busy"
workflows=$(field "completed/s" "$WORK/workflow.txt")
target 4 whole-workflows "$(calc "$workflows / $intake_sqlite")" 0.30 ">=" "$(all_completed "$WORK/workflow.txt" "$N_WORKFLOW")" \
  "$workflows completed/s; submit to completion p50 $(field p50_ms "$WORK/workflow.txt") ms, p99 $(field p99_ms "$WORK/workflow.txt") ms; CPU per request: engine $(field "engine thread" "$WORK/workflow_cpu.txt") us, all $(sed -n 's/.*; \([0-9]*\) us in all.*/\1/p' "$WORK/workflow_cpu.txt") us; $t4_busy"

# ---- 6. memory with a backlog ----------------------------------------------------------------
echo "== 6. memory: $N_MEMORY requests waiting while their adapter is down, then the drain"
start_hub "$sqlite_ledger"
( while kill -0 "$HUB_PID" 2>/dev/null; do rss_mb "$HUB_PID" >> "$WORK/rss.txt" 2>/dev/null || true; echo >> "$WORK/rss.txt"; sleep 1; done ) &
SAMPLER_PID=$!
rss_start=$(rss_mb "$HUB_PID")
load "$WORK/memory_intake.txt" --clients 16 --inflight 8 --requests "$N_MEMORY" --kind filing.cit
rss_full=$(rss_mb "$HUB_PID")
drain_start=$(date +%s%3N)
start_adapter
/usr/bin/python3 bench/ledger_figures.py "$WORK/data/ledger.db" "$N_MEMORY" 3600 "$drain_start" | tee "$WORK/drain.txt" || true
rss_drained=$(rss_mb "$HUB_PID")
stop_adapter
stop_hub
kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
rss_max=$(sort -n "$WORK/rss.txt" | tail -1)
echo "hub RSS: $rss_start MB at start, $rss_full MB with $N_MEMORY waiting, $rss_drained MB drained, at most $rss_max MB"
drain=$(field "completed/s" "$WORK/drain.txt")
target 6 memory "$(calc "$drain / $workflows")" 0.50 ">=" \
  "$(awk -v m="$rss_max" -v all="$(all_completed "$WORK/drain.txt" "$N_MEMORY")" 'BEGIN {print (m < 256 && all) ? 1 : 0}')" \
  "drain $drain/s vs whole workflows $workflows/s; hub RSS at most $rss_max MB, goal <256 MB"

# ---- 8. against the peer -----------------------------------------------------------------------
# RabbitMQ and the hub take turns, PEER_ROUNDS rounds, each RabbitMQ in a data directory of its own:
# this machine drifts by tens of percent within minutes, and a drift then falls on both sides.
# A target's ratio is the median of its rounds' ratios; the p99s and RSS compared are medians.
median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
peer_run() {  # label ledger-yaml [engine-yaml]: one hub run; appends "rate p99 rss" to peer_LABEL.txt
  # Each run on an empty ledger, as on SQLite: a fuller PostgreSQL ledger is slower.
  [[ $1 == PostgreSQL* ]] && PGOPTIONS="-c client_min_messages=warning" psql "$DSN" -qc "DROP SCHEMA public CASCADE; CREATE SCHEMA public" > /dev/null
  start_hub "$2" "${3:-}"
  load "$WORK/peer.txt" --clients 1 --inflight 16 --requests "$N_INTAKE"
  local rss; rss=$(rss_mb "$HUB_PID")
  stop_hub
  local rate p99; rate=$(field "accepted/s" "$WORK/peer.txt"); p99=$(sed -n 's/.*p99 \([0-9.]*\).*/\1/p' "$WORK/peer.txt")
  local rabbit; rabbit=$(tail -1 "$WORK/peer_RabbitMQ.txt" | cut -d' ' -f1)  # this round's
  echo "taxhub on $1, 16 in flight${3:+, $3}: $rate/s = $(calc "$rate / $rabbit")x the round's RabbitMQ, p99 $p99 ms, hub RSS $rss MB"
  echo "$rate $p99 $rss" >> "$WORK/peer_$1.txt"
}
peer_target() {  # label goal [engine-yaml]: the target line from the rounds
  local ratio p99 rss; ratio=$(paste "$WORK/peer_$1.txt" "$WORK/peer_RabbitMQ.txt" | awk '{print $1 / $4}' | median)
  p99=$(cut -d' ' -f2 "$WORK/peer_$1.txt" | median); rss=$(cut -d' ' -f3 "$WORK/peer_$1.txt" | sort -n | tail -1)
  local ok; ok=$(awk -v p="$p99" -v rp="$rabbit_p99" -v m="$rss" -v rm="$rabbit_rss" 'BEGIN {print (p < rp && m * 4 <= rm) ? 1 : 0}')
  target 8 "against-RabbitMQ-$1" "$(calc "$ratio")" "$2" ">=" "$ok" \
    "median of $(wc -l < "$WORK/peer_$1.txt") rounds${rabbit_failed:+ ($rabbit_failed)}: p99 $p99 vs $rabbit_p99 ms; RSS $rss vs $rabbit_rss MB${3:+; $3}"
}
# On PostgreSQL a commit costs more than the hall's round trip, so the hub is configured for its
# hall: a batch waits (at most 500 us) for the 16 it keeps in flight.
pg_engine="engine: {gather_window: 500us, gather_count: 16}"
rabbit_failed=""
if [[ -x "$BIN/rabbitmq_bench" ]]; then
  echo "== 8. RabbitMQ (persistent 512 B publishes to a durable quorum queue, confirms, 16 unconfirmed) and the hub (16 in flight), in turn, $PEER_ROUNDS rounds"
  for round in $(seq "$PEER_ROUNDS"); do
    rabbit_dir="$WORK/rabbit$round"
    if ! scripts/bench-rabbitmq.sh start "$rabbit_dir" > "$WORK/rabbit.log" 2>&1; then
      rabbit_failed="RabbitMQ did not start in round $round: $(tail -1 "$WORK/rabbit.log" 2>/dev/null)"
      break
    fi
    "$BIN/rabbitmq_bench" --port "$(cat "$rabbit_dir/port")" --messages "$N_INTAKE" > "$WORK/rabbit.txt"
    rss=$(scripts/bench-rabbitmq.sh rss "$rabbit_dir")
    scripts/bench-rabbitmq.sh stop "$rabbit_dir" > /dev/null 2>&1 || true
    echo "round $round: RabbitMQ $(field "rate" "$WORK/rabbit.txt") msgs/s, p99 $(field "p99_ms" "$WORK/rabbit.txt") ms, broker RSS $rss MB"
    echo "$(field "rate" "$WORK/rabbit.txt") $(field "p99_ms" "$WORK/rabbit.txt") $rss" >> "$WORK/peer_RabbitMQ.txt"
    peer_run SQLite "$sqlite_ledger"
    if [[ -n ${pg_ledger:-} ]]; then
      peer_run PostgreSQL "$pg_ledger" "$pg_engine"
      # For comparison (no target), in the last round: PostgreSQL without the wait.
      if [[ $round == "$PEER_ROUNDS" ]]; then peer_run PostgreSQL-without-the-wait "$pg_ledger"; fi
    fi
  done
else
  rabbit_failed="rabbitmq_bench was not built (librabbitmq)"
fi
if [[ -s "$WORK/peer_RabbitMQ.txt" ]]; then  # at least one whole round
  rounds=$(wc -l < "$WORK/peer_RabbitMQ.txt")
  rabbit_p99=$(cut -d' ' -f2 "$WORK/peer_RabbitMQ.txt" | median); rabbit_rss=$(cut -d' ' -f3 "$WORK/peer_RabbitMQ.txt" | median)
  echo "RabbitMQ, median of $rounds: $(cut -d' ' -f1 "$WORK/peer_RabbitMQ.txt" | median) msgs/s, p99 $rabbit_p99 ms, broker RSS $rabbit_rss MB"
  peer_target SQLite 1.00
  if [[ -n ${pg_ledger:-} ]]; then peer_target PostgreSQL 0.70 "$pg_engine"; fi
else
  target 8 against-RabbitMQ 0 1.00 ">=" 0 "$rabbit_failed"
fi

# ---- 7. ledger at scale (last: it fills the PostgreSQL ledger with millions of rows) -----------
if [[ $N_EVENTS -gt 0 && -n ${DSN:-} ]]; then
  echo "== 7. ledger at scale: $N_EVENTS events on PostgreSQL"
  "$BIN/ledger_scale" --dsn "$DSN" --events "$N_EVENTS" --ready 100000 | tee "$WORK/scale.txt"
  lookup_p99=$(sed -n 's/^progress lookup.*p99 \([0-9.]*\) ms.*/\1/p' "$WORK/scale.txt")
  target 7 ledger-at-scale "$(calc "$lookup_p99 / 5")" 1.00 "<=" 1 "progress lookup p99 $lookup_p99 ms with $N_EVENTS events, goal <=5 ms"
else
  target 7 ledger-at-scale 0 1.00 "<=" 0 "not measured (SCALE_EVENTS=0 or no PostgreSQL)"
fi
