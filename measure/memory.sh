#!/usr/bin/env bash
# Resident memory of a serving replica as the data grows: seeds ROWS (default 10,000,000) into a
# SQLite file, starts the release server, and prints VmRSS after start-up and after a round of
# analytics. The in-memory data is the monthly rollup (a polars frame), so memory follows the
# number of month x model x country x fuel x gearbox groups, not the number of sale rows.
#   measure/memory.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-10000000}"
mkdir -p measure/out
cargo build --release --quiet
BIN="$PWD/target/release/salesgraph"
DB="sqlite://$PWD/measure/out/memory-$ROWS.db"
if [ ! -f "measure/out/memory-$ROWS.db" ]; then
  /usr/bin/time -f "seeded $ROWS rows in %e s, peak RSS %M KiB" \
    env DATABASE_URL="$DB" "$BIN" seed --rows "$ROWS" --seed 42 --until 2024-12-31
fi
export SALESGRAPH_JWT_SECRET=bench-secret SALESGRAPH_LISTEN=127.0.0.1:18097 DATABASE_URL="$DB" RUST_LOG=warn
"$BIN" serve --no-seed &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:18097/readyz >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status"; }
echo "rows $ROWS: RSS after start-up $(rss)"
TOKEN="$("$BIN" token --role admin --sub bench)"
for query in \
  '{ topModels(limit: 10) { units } }' \
  '{ salesSummary(groupBy: [MODEL, COUNTRY, PERIOD]) { units } }' \
  '{ trend(filter: {models: [\"X5\"]}) { direction } }' \
  '{ seasonality(filter: {countries: [\"DE\"]}) { strength } }' \
  '{ segments { k } }' \
  '{ forecast(filter: {countries: [\"DE\"]}) { method } }'; do
  curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"query\":\"$query\"}" http://127.0.0.1:18097/graphql
done
echo "rows $ROWS: RSS after analytics $(rss)"
sqlite3 "measure/out/memory-$ROWS.db" "SELECT 'rollup groups: ' || COUNT(*) FROM monthly_rollup" 2>/dev/null || true
