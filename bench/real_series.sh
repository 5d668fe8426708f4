#!/usr/bin/env bash
# Real monthly series (shipped inside Python packages) imported with `salesgraph import` and
# forecast as of past months, against statsforecast's AutoETS and seasonal naive on the same
# windows (bench/real_series.py says which series and how). Installs the pinned Python packages
# into bench/out/venv on first use.
#   bench/real_series.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
if [ ! -x bench/out/venv/bin/python ]; then
  python3 -m venv bench/out/venv
  bench/out/venv/bin/pip install --quiet -r bench/real_series_requirements.txt
fi
PY=bench/out/venv/bin/python
if [ -z "${SALESGRAPH_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${SALESGRAPH_BIN:-$PWD/target/release/salesgraph}"
rm -f bench/out/real-series.db
DB="sqlite://$PWD/bench/out/real-series.db?mode=rwc"
"$PY" bench/real_series.py csv bench/out/real-series.csv
DATABASE_URL="$DB" "$BIN" import bench/out/real-series.csv
export SALESGRAPH_JWT_SECRET=bench-secret-of-forty-characters-or-more
TOKEN="$("$BIN" token --role admin)"
PORT=18099
SALESGRAPH_LISTEN=127.0.0.1:$PORT DATABASE_URL="$DB" "$BIN" serve --no-seed >bench/out/real-series.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz)" = 200 ]; do
  kill -0 $PID 2>/dev/null || { echo "the server stopped; see bench/out/real-series.log" >&2; exit 1; }
  sleep 0.1
done
"$PY" bench/real_series.py compare "http://127.0.0.1:$PORT/graphql" "$TOKEN"
