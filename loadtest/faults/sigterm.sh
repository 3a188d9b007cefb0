#!/usr/bin/env bash
# Fault (b): SIGTERM under load. 4 connections rate cached tenants; 2 more rate new tenants
# while the State API answers after 400 ms, so requests are in flight at the signal.
# Expect: no accepted request fails (lost=0, and the drain abandons no connection, so every
# request the server read is answered), the process exits 0 within grace + drain budget,
# /ready is 503 at once.
#
#   loadtest/faults/sigterm.sh
source "$(dirname "$0")/lib.sh"
grace_ms=2000
drain_ms=10000
build
start_state_api 100000
start_rater RATER_SHUTDOWN_GRACE_MS=$grace_ms RATER_DRAIN_TIMEOUT_MS=$drain_ms
warm tenant-0 tenant-1 tenant-2 tenant-3
state_mode slow:400
echo "rater on :$RATER_PORT (pid $RATER_PID); SIGTERM at 4 s; grace ${grace_ms} ms, drain budget ${drain_ms} ms"
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 10 --phases 4 \
  --group cached:4:tenant-:0:4 --group in-flight:2:tenant-:1000:99000 >"$WORK/load.out" &
load=$!
sleep 4
kill -TERM "$RATER_PID"
t0=$(date +%s.%N)
sleep 0.2
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RATER_PORT/ready" || true)
set +e
wait "$RATER_PID"
rc=$?
set -e
t1=$(date +%s.%N)
wait "$load"
cat "$WORK/load.out"
exit_s=$(python3 -c "print(round($t1 - $t0, 2))")
echo "checks:"
check "/ready answered 503 during the grace ($ready)" test "$ready" = 503
check "the rater exited 0 ($rc)" test "$rc" -eq 0
check "it exited within grace + drain budget (${exit_s} s <= $(( (grace_ms + drain_ms) / 1000 )) s)" \
  python3 -c "import sys; sys.exit(0 if $exit_s <= ($grace_ms + $drain_ms) / 1000 else 1)"
lost=$(grep -o 'lost=[0-9]*' "$WORK/load.out" | cut -d= -f2 | paste -sd+ | bc)
check "no accepted request failed (lost=$lost)" test "$lost" -eq 0
# A request closed without a byte of answer was never read by the server, provided the
# drain finished without abandoning a connection (see examples/faultload.rs).
unanswered=$(grep -o 'unanswered=[0-9]*' "$WORK/load.out" | cut -d= -f2 | paste -sd+ | bc)
check "no connection abandoned at the drain ($unanswered unanswered, never read)" \
  bash -c "grep -q 'drained' '$RATER_LOG' && ! grep -q 'drain timeout' '$RATER_LOG'"
bad5=$(grep -o 'other_5xx=[0-9]*' "$WORK/load.out" | cut -d= -f2 | paste -sd+ | bc)
check "no 5xx answered ($bad5)" test "$bad5" -eq 0
echo "after the signal: $(grep 'phase=1 ' "$WORK/load.out" | sed -E 's/.*group=([^ ]+).* ok=([0-9]+).* unanswered=([0-9]+).* refused=([0-9]+).*/\1: ok=\2 unanswered=\3 refused=\4/' | paste -sd';')"
grep -E 'SIGTERM|shutting down|stopped accepting|drained|drain timeout|stopped' "$RATER_LOG" | sed 's/^/  log: /'
exit "$CHECKS_FAILED"
