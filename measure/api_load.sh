#!/usr/bin/env bash
# API benchmark: seeds ROWS (default 1,000,000) into a SQLite file (or BENCH_DATABASE_URL, e.g.
# a PostgreSQL database), starts the release server cold (SALESGRAPH_CACHE=off) and cached, and
# drives topModels, salesSummary (plain, compared with another range, and with windows over
# periods), a sales page, ask and the analytics (trend, seasonality,
# segments, forecast) with wrk (Debian's package) at 16 connections for DURATION each. Prints
# p50, p99 and req/s. QUERIES="trend forecast" picks some; CONNECTIONS=1 measures one at a time;
# BENCH_REUSE=1 measures a BENCH_DATABASE_URL database as it is, without seeding it again;
# SALESGRAPH_BIN measures that binary instead of building this checkout's.
#   measure/api_load.sh [ROWS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
. measure/lib.sh
ROWS="${1:-1000000}"
DURATION="${2:-10s}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk"; exit 1; }
mkdir -p measure/out
release_binary
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  # PostgreSQL (or any URL): seeded afresh each run, since its row count is not kept here.
  DB="$BENCH_DATABASE_URL"
  if [ "${BENCH_REUSE:-0}" != 1 ]; then
    DATABASE_URL="$DB" "$BIN" seed --rows "$ROWS" --seed 42 --until 2024-12-31
  fi
else
  DB="sqlite://$PWD/measure/out/api.db"
  if [ ! -f measure/out/api.db ] || [ "$(cat measure/out/api.rows 2>/dev/null)" != "$ROWS" ]; then
    rm -f measure/out/api.db*
    DATABASE_URL="$DB" "$BIN" seed --rows "$ROWS" --seed 42 --until 2024-12-31
    echo "$ROWS" > measure/out/api.rows
  fi
fi
export SALESGRAPH_JWT_SECRET=bench-secret
TOKEN="$(DATABASE_URL="$DB" "$BIN" token --role admin --sub bench)"
export TOKEN

cat > measure/out/top_models.json <<'JSON'
{"query":"{ topModels(filter: {countries: [\"DE\"], from: \"2024-01-01\", to: \"2024-03-31\"}, limit: 5) { rank model { name } units revenue share } }"}
JSON
cat > measure/out/summary.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2024-01-01\", to: \"2024-12-31\"}, groupBy: [COUNTRY]) { country { code } units revenue } }"}
JSON
cat > measure/out/summary_days.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2023-02-17\", to: \"2024-03-09\"}, groupBy: [COUNTRY]) { country { code } units revenue } }"}
JSON
cat > measure/out/summary_compared.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2024-01-01\", to: \"2024-12-31\"}, groupBy: [COUNTRY], compareTo: PREVIOUS_YEAR) { country { code } units revenue previous { units revenue } change changeRatio } }"}
JSON
cat > measure/out/summary_days_compared.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2023-02-17\", to: \"2024-03-09\"}, groupBy: [COUNTRY], compareTo: PREVIOUS_PERIOD) { country { code } units revenue previous { units revenue } change changeRatio } }"}
JSON
cat > measure/out/summary_windows.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2023-01-01\", to: \"2024-12-31\"}, groupBy: [PERIOD, COUNTRY]) { period country { code } units runningTotal rollingAverage(months: 3) shareOfTotal rankWithin(dimension: PERIOD) } }"}
JSON
cat > measure/out/summary_periods.json <<'JSON'
{"query":"{ salesSummary(filter: {from: \"2023-01-01\", to: \"2024-12-31\"}, groupBy: [PERIOD, COUNTRY]) { period country { code } units } }"}
JSON
cat > measure/out/sales_page.json <<'JSON'
{"query":"{ sales(first: 100, filter: {countries: [\"DE\"]}) { edges { node { id soldOn units model { name } country { code } } } pageInfo { endCursor } } }"}
JSON

cat > measure/out/trend.json <<'JSON'
{"query":"{ trend(filter: {models: [\"X5\"], from: \"2021-01-01\"}) { direction slopePerMonth points { period value } } }"}
JSON
cat > measure/out/seasonality.json <<'JSON'
{"query":"{ seasonality(filter: {countries: [\"GB\"]}) { monthlyIndex peakMonths troughMonths strength } }"}
JSON
cat > measure/out/segments.json <<'JSON'
{"query":"{ segments { k silhouette segments { label models { name } } } }"}
JSON
cat > measure/out/ask.json <<'JSON'
{"query":"{ ask(question: \"top 5 models in Germany last quarter\", asOf: \"2024-12-31\") { confidence rows } }"}
JSON
cat > measure/out/forecast.json <<'JSON'
{"query":"{ forecast(filter: {countries: [\"DE\"]}, limit: 10) { backtest { smape baselineSmape } predictions { model { name } units } } }"}
JSON
CONNECTIONS="${CONNECTIONS:-16}"
THREADS=$(( CONNECTIONS < 2 ? 1 : 2 ))
QUERIES="${QUERIES:-top_models summary summary_compared summary_days summary_days_compared summary_periods summary_windows sales_page ask trend seasonality segments forecast}"

for mode in off on; do
  SALESGRAPH_RATE_LIMIT=0 SALESGRAPH_CACHE=$mode SALESGRAPH_LISTEN=127.0.0.1:18080 RUST_LOG=warn DATABASE_URL="$DB" "$BIN" serve >/dev/null &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
  # Let the background pass finish the usual forecasts' backtests (as after any ingest), so
  # that it does not compete with the measurements.
  wait_for_background_passes 18080
  for q in $QUERIES; do
    # One request first, so that "cached" measures hits rather than 16 simultaneous first misses.
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      --data @"measure/out/$q.json" http://127.0.0.1:18080/graphql
    printf 'cache=%-3s %-13s ' "$mode" "$q"
    QUERY_FILE="measure/out/$q.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s measure/graphql_post.lua http://127.0.0.1:18080/graphql | grep RESULT
  done
  kill -TERM "$SERVER"; wait "$SERVER" || true
done
