#!/usr/bin/env bash
# Data-layer benchmark: seed and import N rows (default 1,000,000) into SQLite and, when
# PostgreSQL is reachable, into a fresh PostgreSQL database. Prints rows/s for each.
#   measure/data_layer.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
PG_SERVER="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
mkdir -p measure/out
cargo build --release --quiet
BIN=target/release/salesgraph
python3 measure/make_csv.py "$ROWS" measure/out/sales.csv

run() {
  local name="$1" url="$2"
  echo "== $name: seed $ROWS rows"
  DATABASE_URL="$url" "$BIN" seed --rows "$ROWS" --seed 42 --until 2024-12-31
  echo "== $name: import $ROWS rows (canonical CSV)"
  DATABASE_URL="$url" "$BIN" import measure/out/sales.csv | tail -n 1
}

rm -f measure/out/bench.db measure/out/bench.db-wal measure/out/bench.db-shm
run SQLite "sqlite://measure/out/bench.db"

if pg_isready -h 127.0.0.1 -p 5432 -q; then
  psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS salesgraph_bench" -c "CREATE DATABASE salesgraph_bench"
  run PostgreSQL "$PG_SERVER/salesgraph_bench"
else
  echo "PostgreSQL is not reachable on 127.0.0.1:5432: skipped"
fi
