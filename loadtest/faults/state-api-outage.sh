#!/usr/bin/env bash
# Fault (a): the State API stops answering (stand-in `hang` mode) for OUTAGE seconds
# (default 30) while 4 connections rate 8 cached tenants and 1 connection rates tenants never
# seen before (every request a new key). Expect: cached tenants no errors and unchanged
# latency (TTL 5 s, so they go stale and their refreshes hang: served stale meanwhile);
# uncached ones 503 with Retry-After; recovery without a restart once it answers again.
#
#   loadtest/faults/state-api-outage.sh [OUTAGE_SECONDS=30]
source "$(dirname "$0")/lib.sh"
outage=${1:-30}
before=10
after=15
total=$((before + outage + after))
build
start_state_api 100000
start_rater RATER_TENANT_TTL_SECS=5 RATER_STATE_TIMEOUT_MS=2000 RATER_TENANT_ERROR_BACKOFF_MS=1000
warm tenant-0 tenant-1 tenant-2 tenant-3 tenant-4 tenant-5 tenant-6 tenant-7
echo "rater on :$RATER_PORT, State API on :$STATE_PORT; ${before}s normal, ${outage}s hang, ${after}s normal"
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs "$total" --phases "$before,$((before + outage))" \
  --group cached:4:tenant-:0:8 --group uncached:1:tenant-:1000:99000 >"$WORK/load.out" &
load=$!
sleep "$before"
state_mode hang
sleep "$outage"
state_mode normal
wait "$load"
cat "$WORK/load.out"

line() { grep "group=$1 phase=$2 " "$WORK/load.out"; }
c0=$(line cached 0); c1=$(line cached 1); c2=$(line cached 2)
u1=$(line uncached 1); u2=$(line uncached 2)
echo "checks:"
bad=$(( $(field "$c1" 4xx) + $(field "$c1" 503) + $(field "$c1" other_5xx) + $(field "$c1" lost) + $(field "$c1" unanswered) ))
check "cached tenants: no error during the outage ($bad)" test "$bad" -eq 0
p99_0=$(field "$c0" p99_ms); p99_1=$(field "$c1" p99_ms)
ratio=$(python3 -c "print(round($p99_1 / max($p99_0, 0.001), 2))")
echo "  cached p50 before/during/after: $(field "$c0" p50_ms) / $(field "$c1" p50_ms) / $(field "$c2" p50_ms) ms; p99 $p99_0 / $p99_1 / $(field "$c2" p99_ms) ms (during/before x$ratio)"
check "cached p99 during the outage within 5x of before (x$ratio)" python3 -c "import sys; sys.exit(0 if $ratio < 5 else 1)"
check "uncached tenants: 503 during the outage, each with Retry-After ($(field "$u1" 503)/$(field "$u1" 503_with_retry_after))" \
  test "$(field "$u1" 503)" -gt 0 -a "$(field "$u1" 503)" -eq "$(field "$u1" 503_with_retry_after)"
check "uncached tenants: nothing else during the outage" test "$(field "$u1" sent)" -eq "$(( $(field "$u1" 503) + $(field "$u1" ok) ))"
check "recovery: uncached tenants priced after the outage ($(field "$u2" ok) ok)" test "$(field "$u2" ok)" -gt 0
late=$(( $(field "$u2" 503) ))
echo "  uncached 503s after recovery (requests started in the last hang second): $late"
check "recovery: at most 5 uncached 503s after the State API is back" test "$late" -le 5
check "the rater never answered 5xx other than 503" test "$(grep -o 'other_5xx=[0-9]*' "$WORK/load.out" | grep -vc 'other_5xx=0$')" -eq 0
echo "State API calls: $(curl -fsS "http://127.0.0.1:$STATE_PORT/_admin/calls")"
exit "$CHECKS_FAILED"
