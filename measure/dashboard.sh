#!/usr/bin/env bash
# How fast the dashboard's first view is ready: seeds ROWS (default 1,000,000) into a SQLite
# file, starts the release server, and loads /dashboard in headless Chromium as an executive,
# timing navigation to every first-view panel drawn (the page marks it), cold (response caches
# empty, after the background pass of forecasts that follows every ingest) and then warm (a
# returning user), over several runs.
#   measure/dashboard.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. measure/lib.sh
ROWS="${1:-1000000}"
RUNS="${2:-5}"
mkdir -p measure/out
[ -d tests/clients/node_modules/playwright-core ] || npm ci --prefix tests/clients --no-audit --no-fund
cargo build --release --quiet
BIN="$PWD/target/release/salesgraph"
DB="sqlite://$PWD/measure/out/dashboard-$ROWS.db"
if [ ! -f "measure/out/dashboard-$ROWS.db" ]; then
  DATABASE_URL="$DB" "$BIN" seed --rows "$ROWS" --seed 42 --until 2024-12-31
fi
export SALESGRAPH_JWT_SECRET=bench-secret SALESGRAPH_LISTEN=127.0.0.1:18098 DATABASE_URL="$DB" RUST_LOG=warn
SALESGRAPH_RATE_LIMIT=0 "$BIN" serve --no-seed &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:18098/readyz >/dev/null && break; sleep 0.2; done
# "Cold" is the state after an ingest settles: caches empty, the background pass of forecasts
# done (it takes a few seconds; the metric says when).
wait_for_background_passes 18098
TOKEN="$("$BIN" token --role executive --sub bench)"
node tests/clients/first_view.mjs http://127.0.0.1:18098 "$TOKEN" "$RUNS"
