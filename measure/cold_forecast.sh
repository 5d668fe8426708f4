#!/usr/bin/env bash
# The first forecast of a market with nothing computed ahead, on ROWS (default 1,000,000)
# generated rows in a SQLite file: STARTS fresh servers (forecasts not warmed, no response
# cache), each asked `forecast(filter: {countries: [COUNTRY]})` once; prints each answer's time.
#   measure/cold_forecast.sh [ROWS] [STARTS] [COUNTRY]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
STARTS="${2:-5}"
COUNTRY="${3:-DE}"
source measure/lib.sh
release_binary
generated_sqlite "$ROWS"
export SALESGRAPH_JWT_SECRET=bench-secret-of-forty-characters-or-more
TOKEN="$("$BIN" token --role admin)"
PORT=18097
LOG=measure/out/cold-forecast.log
QUERY="{\"query\":\"{ forecast(filter: {countries: [\\\"$COUNTRY\\\"]}) { predictions { method units } } }\"}"
for start in $(seq 1 "$STARTS"); do
  SALESGRAPH_LISTEN=127.0.0.1:$PORT DATABASE_URL="$DB" SALESGRAPH_WARM_FORECASTS=off SALESGRAPH_CACHE=off \
    "$BIN" serve --no-seed >"$LOG" 2>&1 &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz)" = 200 ]; do
    kill -0 $PID 2>/dev/null || { echo "the server stopped; see $LOG" >&2; exit 1; }
    sleep 0.05
  done
  # Let the other start-up passes finish so that they do not share the cores.
  sleep 2
  seconds=$(curl -s -o measure/out/cold-forecast.json -w '%{time_total}' -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "$QUERY" http://127.0.0.1:$PORT/graphql)
  grep -q '"predictions"' measure/out/cold-forecast.json || { cat measure/out/cold-forecast.json >&2; exit 1; }
  echo "start $start: $COUNTRY forecast in $(awk "BEGIN { printf \"%.0f\", $seconds * 1000 }") ms"
  kill $PID; wait $PID 2>/dev/null || true
done
