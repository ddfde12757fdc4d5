#!/usr/bin/env bash
# Make sure a Redis server is reachable for the test suite and print its URL.
#   1. one already answering on 127.0.0.1:6379 is used as it is;
#   2. otherwise redis-server (installed from apt when missing) is started on 127.0.0.1:6379,
#      daemonised, keeping nothing on disk.
# Usage: url=$(scripts/backends/redis.sh)
set -euo pipefail
log() { echo "redis.sh: $*" >&2; }
url="redis://127.0.0.1:6379"

answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

if command -v redis-cli >/dev/null && answers; then
  echo "$url"
  exit 0
fi

if ! command -v redis-server >/dev/null; then
  log "installing Redis from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq redis-server >&2
fi

log "starting redis-server on 127.0.0.1:6379"
redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >&2
for _ in $(seq 1 100); do
  if answers; then
    echo "$url"
    exit 0
  fi
  sleep 0.1
done
log "redis-server did not answer on 127.0.0.1:6379"
exit 1
