# Shared by the benchmark scripts: source it.

# Waits (up to five minutes) until the server on 127.0.0.1:$1 has finished the background
# passes that follow start-up and every ingest: the forecasts' backtests, the day groups and
# the recent sale rows (its /metrics says so), so that they do not compete with what is measured.
wait_for_background_passes() {
  local port="$1" metrics forecasts days recent version
  for _ in $(seq 1 600); do
    metrics="$(curl -sf "http://127.0.0.1:$port/metrics" || true)"
    forecasts="$(echo "$metrics" | awk '/^salesgraph_backtests_ready_version /{print $2}')"
    days="$(echo "$metrics" | awk '/^salesgraph_day_groups_ready_version /{print $2}')"
    recent="$(echo "$metrics" | awk '/^salesgraph_recent_rows_ready_version /{print $2}')"
    version="$(echo "$metrics" | awk '/^salesgraph_data_version /{print $2}')"
    [ -n "$version" ] && [ "$forecasts" = "$version" ] && [ "$days" = "$version" ] \
      && [ "$recent" = "$version" ] && return 0
    sleep 0.5
  done
  echo "the server on port $port did not finish its background passes in five minutes" >&2
}

# Sets BIN to the release binary: $SALESGRAPH_BIN when set (then nothing is built), else built.
release_binary() {
  if [ -z "${SALESGRAPH_BIN:-}" ]; then cargo build --release --quiet; fi
  BIN="${SALESGRAPH_BIN:-$PWD/target/release/salesgraph}"
}

# Sets DB to a SQLite file of $1 generated rows (seed 42, to 2024), seeded by $BIN on first use.
generated_sqlite() {
  local rows="$1"
  mkdir -p measure/out
  DB="sqlite://$PWD/measure/out/warm-up-$rows.db"
  if [ ! -f "measure/out/warm-up-$rows.db" ]; then
    DATABASE_URL="$DB" "$BIN" seed --rows "$rows" --seed 42 --until 2024-12-31
  fi
}
