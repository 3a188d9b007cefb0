#!/usr/bin/env bash
# Fault (c): a plan folder replaced on disk under load, then SIGHUP. 4 connections rate cached
# tenants of both bundled reference plans; at 3 s the socotra-reference folder is replaced by
# a new version (rate 0.5 instead of 0.25) and the rater gets SIGHUP; at 6 s a broken version
# is written and SIGHUP sent again (it must be refused, the running plans kept).
# Expect: no request fails at any point; the log says the reload happened and the broken one
# was refused; after the swap the new version prices.
#
#   loadtest/faults/plan-swap.sh
source "$(dirname "$0")/lib.sh"
build
start_state_api 1000
plans=$WORK/rating-tables
cp -r rating-tables "$plans"
start_rater RATER_PLANS_DIR="$plans"
warm tenant-0 tenant-1 tenant-2 tenant-3
price() { # price KEY: the first yearlyPremium of the answer
  curl -fsS -H 'content-type: application/json' -H "x-smp-key: $1" --data-binary @"$BODY" \
    "http://127.0.0.1:$RATER_PORT/rate" | python3 -c 'import json,sys; d=json.load(sys.stdin)["pricedPerilCharacteristics"]; print(next(iter(d.values()))["yearlyPremium"])'
}
before=$(price tenant-1)
echo "rater on :$RATER_PORT (pid $RATER_PID); swap + SIGHUP at 3 s, broken plan + SIGHUP at 6 s"
./target/release/examples/faultload --addr "127.0.0.1:$RATER_PORT" --body "$BODY" \
  --secs 9 --phases 3,6 --group cached:4:tenant-:0:4 >"$WORK/load.out" &
load=$!
sleep 3
# Replace the folder the way a deployment would: write the new version beside it, then move
# it into place (a rename, so the loader never sees a half-written file).
cp -r "$plans/socotra-reference" "$WORK/new-version"
sed -i 's/value = "0.25"/value = "0.5"/' "$WORK/new-version/plan.toml"
rm -rf "$plans/socotra-reference.old"
mv "$plans/socotra-reference" "$plans/socotra-reference.old"
mv "$WORK/new-version" "$plans/socotra-reference"
rm -rf "$plans/socotra-reference.old"
kill -HUP "$RATER_PID"
sleep 0.5
after=$(price tenant-1)
sleep 2.5
echo 'this is not a plan' >"$plans/socotra-reference/plan.toml"
kill -HUP "$RATER_PID"
sleep 0.5
kept=$(price tenant-1)
wait "$load"
cat "$WORK/load.out"
echo "checks:"
check "the old version priced 1.25 before the swap ($before)" test "$before" = 1.25
check "the new version prices 1.50 after the swap ($after)" test "$after" = 1.50
check "a broken folder keeps the running plans ($kept)" test "$kept" = 1.50
check "the log says the plans were reloaded" grep -q 'plans reloaded' "$RATER_LOG"
check "the log says the broken reload was refused" grep -q 'plan reload failed' "$RATER_LOG"
failed=0
for f in lost unanswered other_5xx 4xx 503 refused; do
  n=$(grep -o " $f=[0-9]*" "$WORK/load.out" | cut -d= -f2 | paste -sd+ | bc 2>/dev/null || echo 0)
  failed=$((failed + ${n:-0}))
done
ok=$(grep -o 'ok=[0-9]*' "$WORK/load.out" | cut -d= -f2 | paste -sd+ | bc)
check "no request failed during either reload (ok=$ok, failed=$failed)" test "$failed" -eq 0
check "the rater still runs" kill -0 "$RATER_PID"
grep -E 'SIGHUP|plans reloaded|plan reload failed' "$RATER_LOG" | sed -E 's/^/  log: /' | cut -c1-220
exit "$CHECKS_FAILED"
