#!/usr/bin/env bash
# Attack: 100,000 distinct random-looking tenant keys over HTTP (release build), then the last
# 2,000 sprayed last repeated (still within the cache bound). 3 connections spray keys the State API does not know; 1 connection
# rates 4 cached tenants meanwhile. Expect: every sprayed request 401 unknown_key; one State
# API call per new key and none for a repeated one (negative cache); the rater's RSS bounded
# (cache bound RATER_TENANT_MAX=10000); the cached tenants unaffected.
#
#   loadtest/faults/key-spray.sh
source "$(dirname "$0")/lib.sh"
build
start_state_api 1000
start_rater RATER_TENANT_NEGATIVE_TTL_SECS=600 RATER_TENANT_MAX=10000
warm tenant-0 tenant-1 tenant-2 tenant-3
rss() { awk '/VmRSS/ {print $2}' "/proc/$RATER_PID/status"; }
calls() { curl -fsS "http://127.0.0.1:$STATE_PORT/_admin/calls"; }
rss0=$(rss); calls0=$(calls)
echo "rater on :$RATER_PORT; RSS ${rss0} KiB; spraying 100,000 keys"
# Baseline (3 s): only the cached tenants. Then the spray: 3 connections take disjoint
# slices of 100,000 keys no tenant has (tenant-1000000 ...), each key once.
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 3 --group cached:1:tenant-:0:4 >"$WORK/baseline.out"
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 300 --group spray:3:tenant-:1000000:1100000:once >"$WORK/spray.out" &
spray=$!
# The cached tenants meanwhile, for the first 10 s of the spray.
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 10 --group cached:1:tenant-:0:4 >"$WORK/cached.out"
wait "$spray"
rss1=$(rss); calls1=$(calls)
echo "repeating the 2,000 keys sprayed last (the cache holds the newest 10,000 entries: about 3,300 per spraying connection)"
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 5 --group repeat:3:tenant-:1098000:1100000 >"$WORK/repeat.out"
calls2=$(calls); rss2=$(rss)
cat "$WORK/baseline.out" "$WORK/spray.out" "$WORK/cached.out" "$WORK/repeat.out"
sprayed=$(grep 'group=spray' "$WORK/spray.out" | sed -E 's/.* sent=([0-9]+).*/\1/' | paste -sd+ | bc)
spray_4xx=$(grep 'group=spray' "$WORK/spray.out" | sed -E 's/.* 4xx=([0-9]+).*/\1/' | paste -sd+ | bc)
repeat_sent=$(grep 'group=repeat' "$WORK/repeat.out" | sed -E 's/.* sent=([0-9]+).*/\1/' | paste -sd+ | bc)
cached_line=$(grep 'group=cached' "$WORK/cached.out" | head -1)
echo "checks:"
check "every sprayed request was a 4xx ($spray_4xx of $sprayed)" test "$spray_4xx" -eq "$sprayed"
check "one State API call per distinct key ($((calls1 - calls0)) calls for 100,000 keys)" \
  test "$((calls1 - calls0))" -eq 100000
check "no State API call for $repeat_sent repeats of known-unknown keys ($((calls2 - calls1)) calls)" \
  test "$((calls2 - calls1))" -eq 0
check "RSS bounded (${rss0} -> ${rss1} -> ${rss2} KiB, under 64 MiB)" test "$rss2" -lt 65536
check "the cached tenants saw no failure ($(field "$cached_line" ok) ok, $(field "$cached_line" 4xx) 4xx)" \
  test "$(field "$cached_line" 4xx)" -eq 0 -a "$(field "$cached_line" lost)" -eq 0
echo "cached tenants, baseline: $(grep group=cached "$WORK/baseline.out" | sed -E 's/.*(p50_ms=[^ ]+ p99_ms=[^ ]+).*/\1/'); during the spray: $(sed -E 's/.*(p50_ms=[^ ]+ p99_ms=[^ ]+).*/\1/' <<<"$cached_line")"
exit "$CHECKS_FAILED"
