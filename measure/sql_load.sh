#!/usr/bin/env bash
# The SQL endpoint's speed on ROWS (default 1,000,000) generated rows in a SQLite file: a one-year
# GROUP BY over sales_monthly from 16 connections, and a full SELECT of sales streamed to psycopg
# (measure/sql_load.py; pip install -r tests/clients/requirements.txt first).
#   measure/sql_load.sh [ROWS] [CONNECTIONS] [QUERIES]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
source measure/lib.sh
release_binary
generated_sqlite "$ROWS"
python3 measure/sql_load.py "$BIN" "$DB" "${2:-16}" "${3:-200}"
