#!/usr/bin/env bash
# Checks what operators get (packaging/observability/):
#   - the alerting rules load and do what their unit tests say (promtool check/test rules);
#   - the Prometheus configuration loads (promtool check config);
#   - a live /metrics, scraped from the release server after a small workload, passes
#     `promtool check metrics`;
#   - every metric the dashboard and the rules query is one the server exports.
# Installs promtool (Debian's `prometheus` package) when missing. Uses the release binary of
# scripts/contract.sh (built if needed, in $COLINK_RELEASE_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
  echo "observability.sh: installing promtool (Debian package prometheus)" >&2
  sudo=$(command -v sudo || true)
  $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

(cd packaging/observability &&
  promtool check rules alerts.yml &&
  promtool test rules alerts_test.yml &&
  promtool check config --syntax-only prometheus.yml)

export CARGO_TARGET_DIR=${COLINK_RELEASE_TARGET_DIR:-/var/tmp/colink-target-release}
cargo build --release --quiet --bin colink
binary=$CARGO_TARGET_DIR/release/colink

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
COLINK_DATA_DIR="$work/data" COLINK_SERVER__BIND="127.0.0.1:$port" COLINK_TELEMETRY__LEVEL=warn \
  "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -fs "$base/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
# A workload: the owner, a member, a channel, a message, a reply and a reaction.
python3 scripts/contract/fixture.py "$base/api/v1" "$(cat "$work/data/setup-token")" "$work" >/dev/null
curl -fs "$base/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt"
python3 scripts/observability/queried_names.py "$work/metrics.txt" \
  packaging/observability/alerts.yml packaging/observability/grafana/colink.json
echo "observability.sh: rules, configuration, live metrics and dashboard are consistent"
