# Shared by the benchmark scripts: source it.

# Waits (up to five minutes) until the server on 127.0.0.1:$1 has finished the background pass
# of forecasts that follows start-up and every ingest (its /metrics says so), so that the pass
# does not compete with what is measured.
wait_for_forecasts() {
  local port="$1" metrics ready version
  for _ in $(seq 1 600); do
    metrics="$(curl -sf "http://127.0.0.1:$port/metrics" || true)"
    ready="$(echo "$metrics" | awk '/^salesgraph_backtests_ready_version /{print $2}')"
    version="$(echo "$metrics" | awk '/^salesgraph_data_version /{print $2}')"
    [ -n "$ready" ] && [ "$ready" = "$version" ] && return 0
    sleep 0.5
  done
  echo "the server on port $port did not finish its forecasts in five minutes" >&2
}
