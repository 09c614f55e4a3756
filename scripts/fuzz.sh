#!/bin/bash
# make fuzz: the libFuzzer targets of fuzz/ (MDP frames, the submit envelope, invoice
# fixed-width batches, TIPS CFX messages), built with clang 14 and AddressSanitizer plus
# UndefinedBehaviorSanitizer in build-fuzz/, each run for FUZZ_SECONDS (default 300) from its
# seed corpus (fuzz/corpus/NAME; what it finds is kept in build-fuzz/corpus/NAME). Two run at
# once (two cores). Prints one line per target — executions and crashes — and exits non-zero
# if any crashed; a crash's input is in build-fuzz/crashes/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
TARGETS=(mdp submit fixed_width cfx)

./scripts/install-deps.sh fuzz
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" \
  -DTAXHUB_FUZZ=ON -DTAXHUB_TESTS=OFF -DTAXHUB_BENCH=OFF -DTAXHUB_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  > /dev/null
cmake --build "$FUZZ_BUILD" -j2 --target "${TARGETS[@]/#/fuzz_}"

run() {
  local name=$1
  rm -rf "$FUZZ_BUILD/crashes/$name"  # this run's findings only
  mkdir -p "$FUZZ_BUILD/corpus/$name" "$FUZZ_BUILD/crashes/$name"
  # -timeout: an input running 25 s is a hang, and a finding (the default waits 20 minutes).
  "$FUZZ_BUILD/bin/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -timeout=25 -print_final_stats=1 -max_len=65536 \
    -rss_limit_mb=2048 -artifact_prefix="$FUZZ_BUILD/crashes/$name/" \
    "$FUZZ_BUILD/corpus/$name" "fuzz/corpus/$name" > "$FUZZ_BUILD/$name.log" 2>&1 || true
}
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
  run "${TARGETS[i]}" &
  if ((i + 1 < ${#TARGETS[@]})); then run "${TARGETS[i + 1]}" & fi
  wait
done

status=0
for name in "${TARGETS[@]}"; do
  log="$FUZZ_BUILD/$name.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  seconds=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$FUZZ_BUILD/crashes/$name" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  corpus=$(find "$FUZZ_BUILD/corpus/$name" -type f | wc -l)
  echo "fuzz $name: executions=${runs:-0} per_second=${seconds:-0} corpus=$corpus crashes=$crashes (log $log)"
  if [[ -z $runs || $crashes -gt 0 ]]; then status=1; fi
done
exit $status
