#!/usr/bin/env bash
# Real monthly series (shipped inside Python packages) imported with `salesgraph import` and
# forecast as of past months, against statsforecast's AutoETS and seasonal naive on the same
# windows (measure/real_series.py says which series and how). Installs the pinned Python packages
# into measure/out/venv on first use.
#   measure/real_series.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p measure/out
if [ ! -x measure/out/venv/bin/python ]; then
  python3 -m venv measure/out/venv
  measure/out/venv/bin/pip install --quiet -r measure/real_series_requirements.txt
fi
PY=measure/out/venv/bin/python
if [ -z "${SALESGRAPH_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${SALESGRAPH_BIN:-$PWD/target/release/salesgraph}"
rm -f measure/out/real-series.db
DB="sqlite://$PWD/measure/out/real-series.db?mode=rwc"
"$PY" measure/real_series.py csv measure/out/real-series.csv
DATABASE_URL="$DB" "$BIN" import measure/out/real-series.csv
export SALESGRAPH_JWT_SECRET=bench-secret-of-forty-characters-or-more
TOKEN="$("$BIN" token --role admin)"
PORT=18099
SALESGRAPH_LISTEN=127.0.0.1:$PORT DATABASE_URL="$DB" "$BIN" serve --no-seed >measure/out/real-series.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz)" = 200 ]; do
  kill -0 $PID 2>/dev/null || { echo "the server stopped; see measure/out/real-series.log" >&2; exit 1; }
  sleep 0.1
done
"$PY" measure/real_series.py compare "http://127.0.0.1:$PORT/graphql" "$TOKEN"
