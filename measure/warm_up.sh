#!/usr/bin/env bash
# Time from `salesgraph serve` to /readyz 200 on ROWS (default 1,000,000) generated rows in a
# SQLite file, STARTS times over: readiness waits for the background passes (recent sale rows,
# day groups, forecast backtests). Prints each start's time and each pass's own time from its
# log line. Extra arguments are settings for the server, for example SALESGRAPH_WARM_FORECASTS=off
# to time the other passes alone.
#   measure/warm_up.sh [ROWS] [STARTS] [SETTING=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
STARTS="${2:-3}"
shift $(($# < 2 ? $# : 2))
source measure/lib.sh
release_binary
generated_sqlite "$ROWS"
PORT=18096
LOG=measure/out/warm-up.log
for start in $(seq 1 "$STARTS"); do
  began=$(date +%s%N)
  env "$@" SALESGRAPH_JWT_SECRET=bench-secret-of-forty-characters-or-more SALESGRAPH_LISTEN=127.0.0.1:$PORT \
    DATABASE_URL="$DB" RUST_LOG=info NO_COLOR=1 "$BIN" serve --no-seed >"$LOG" 2>&1 &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz)" = 200 ]; do
    kill -0 $PID 2>/dev/null || { echo "the server stopped; see $LOG" >&2; exit 1; }
    sleep 0.05
  done
  ready_ms=$(( ($(date +%s%N) - began) / 1000000 ))
  sleep 0.3
  kill $PID; wait $PID 2>/dev/null || true
  passes=$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E ' in step | computed ahead' \
    | sed -E 's/.*INFO [a-z_:]+: ([a-z ]+) (in step|computed ahead).*elapsed_ms=([0-9]+).*/\1 \3 ms/' | paste -sd ';' -)
  echo "start $start: ready after $ready_ms ms ($passes)"
done
