#!/usr/bin/env bash
# Make sure a PostgreSQL server is reachable for the test suite and print its admin URL.
#   1. one already listening on 127.0.0.1:5432 (trust auth) is used as it is;
#   2. otherwise the machine's cluster is started (installing PostgreSQL from apt if missing);
#   3. failing that, a throwaway instance is created under $COLINK_PG_DIR (default /tmp/colink-pg)
#      on port 55432.
# Usage: url=$(scripts/backends/postgres.sh)
set -euo pipefail
log() { echo "postgres.sh: $*" >&2; }

if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi

if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  log "starting the system cluster $ver/main"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 2>/dev/null || true
  for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p 5432 && psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:5432/postgres"
      exit 0
    fi
    sleep 0.2
  done
fi

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
dir=${COLINK_PG_DIR:-/tmp/colink-pg}
port=55432
if ! pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
  log "starting a throwaway instance in $dir on port $port"
  rm -rf "$dir"; mkdir -p "$dir"; chown postgres: "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >&2
fi
echo "postgres://postgres@127.0.0.1:${port}/postgres"
