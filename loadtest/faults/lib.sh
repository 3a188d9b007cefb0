# Shared by the fault scripts: build once, start the State API stand-in and the rater on
# free loopback ports, clean up on exit. Sourced, not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
FIXTURES=${SOCOTRA_FIXTURES:-$ROOT/tests/fixtures/socotra}
BODY=$FIXTURES/rating-ec/ec-rating-request-newbusiness2.json
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

build() {
  cargo build --release --quiet --bin rater --example state_api --example faultload
}

# start_state_api TENANTS: sets STATE_PORT
start_state_api() {
  STATE_PORT=$(free_port)
  ./target/release/examples/state_api "$STATE_PORT" "$1" 2>"$WORK/state_api.log" &
  PIDS+=($!)
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$STATE_PORT/_admin/calls" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the State API stand-in did not start" >&2; cat "$WORK/state_api.log" >&2; exit 1
}

state_mode() {
  curl -fsS -X POST "http://127.0.0.1:$STATE_PORT/_admin/mode" -d "$1" >/dev/null
  echo "$(date +%T) State API mode: $1"
}

# start_rater [VAR=value ...]: sets RATER_PORT, RATER_PID, RATER_LOG
start_rater() {
  RATER_PORT=$(free_port)
  RATER_LOG=$WORK/rater.log
  env SMP_PORT="$RATER_PORT" RATER_BIND_ADDR=127.0.0.1 \
    SMP_STATE_API="http://127.0.0.1:$STATE_PORT" RATER_LOG_FORMAT=text NO_COLOR=1 "$@" \
    ./target/release/rater >"$RATER_LOG" 2>&1 &
  RATER_PID=$!
  PIDS+=("$RATER_PID")
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$RATER_PORT/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the rater did not become ready" >&2; cat "$RATER_LOG" >&2; exit 1
}

# warm KEY...: one rating request per key, each must be 200
warm() {
  for k in "$@"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      -H "x-smp-key: $k" --data-binary @"$BODY" "http://127.0.0.1:$RATER_PORT/rate")
    [ "$code" = 200 ] || { echo "warming $k: HTTP $code" >&2; exit 1; }
  done
}

# field LINE NAME: the value of NAME=... in a faultload result line
field() { sed -E "s/.* $2=([^ ]+).*/\1/" <<<"$1"; }

CHECKS_FAILED=0
check() { # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; CHECKS_FAILED=1; fi
}
